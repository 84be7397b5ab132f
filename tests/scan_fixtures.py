"""Small in-memory scans for UI tests (built with NumPy, nibabel and PIL; nothing read from disk)."""

from __future__ import annotations

import gzip
import io

import nibabel as nib
import numpy as np
from PIL import Image


def head_nifti_bytes(n: int = 64, spacing_mm: float = 3.0) -> bytes:
    """A head-like phantom (scalp shell, brain, dark central ventricle) as .nii.gz bytes, RAS+ affine."""
    g = np.indices((n, n, n)).astype(np.float32) - (n - 1) / 2
    r = np.sqrt((g**2).sum(axis=0))
    vol = np.where(r < 0.45 * n, 300.0, 0.0) + np.where(r < 0.38 * n, 300.0, 0.0) - np.where(r < 0.1 * n, 400.0, 0.0)
    vol += np.random.default_rng(0).normal(0, 5, vol.shape)
    img = nib.Nifti1Image(vol.astype(np.float32), np.diag([spacing_mm, spacing_mm, spacing_mm, 1.0]))
    return gzip.compress(img.to_bytes(), mtime=0)


def png_bytes(rows: int = 128, cols: int = 160) -> bytes:
    """A grey 8-bit PNG with a bright disc on a horizontal ramp."""
    yy, xx = np.mgrid[0:rows, 0:cols]
    img = (np.hypot(yy - rows / 2, xx - cols / 2) < min(rows, cols) * 0.4) * 180 + (xx * 64 // cols)
    buf = io.BytesIO()
    Image.fromarray(img.astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()
