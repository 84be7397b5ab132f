"""Pure preprocessing functions.

Array functions take and return NumPy arrays. Scan functions return a *new* Scan
with a history entry describing the step (TorchIO-style), never modifying the input.

Conventions (see core/types.py): ``Scan.array`` is float32 ``(C, X, Y, Z)``; a 2D
image has ``Z == 1`` and ``array[c, x, y, 0]`` is the pixel at column x, row y.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from core.io.geometry import axis_codes, to_closest_canonical
from core.types import Scan


def to_display_2d(scan: Scan) -> np.ndarray:
    """Greyscale image ``(rows, cols)`` float32 for display and 2D models.

    2D scans: ``scan.array[:, :, :, 0].mean(0).T`` (RGB averaged), i.e. the image as stored.
    Volumes: the middle axial slice (RAS+ array) in radiological convention: anterior at
    the top, the patient's right on the viewer's left.
    """
    grey = scan.array.mean(axis=0, dtype=np.float32)  # (X, Y, Z)
    if scan.is_2d:
        return np.ascontiguousarray(grey[:, :, 0].T, dtype=np.float32)
    mid = grey[:, :, grey.shape[2] // 2]  # (X=right, Y=anterior)
    return np.ascontiguousarray(mid.T[::-1, ::-1], dtype=np.float32)


def normalize_percentile(arr: np.ndarray, lo: float = 1.0, hi: float = 99.0) -> np.ndarray:
    """Clip to the ``lo``/``hi`` percentiles of the finite values and scale to [0, 1] (float32).

    A constant (or empty/all non-finite) array maps to zeros; non-finite values map to 0.
    """
    a = np.asarray(arr, dtype=np.float32)
    finite = np.isfinite(a)
    if not finite.any():
        return np.zeros_like(a, dtype=np.float32)
    p_lo, p_hi = np.percentile(a[finite], [lo, hi])
    if p_hi <= p_lo:
        p_lo, p_hi = float(a[finite].min()), float(a[finite].max())
    if p_hi <= p_lo:
        return np.zeros_like(a, dtype=np.float32)
    out = (np.clip(a, p_lo, p_hi) - p_lo) / (p_hi - p_lo)
    out[~finite] = 0.0
    return out.astype(np.float32, copy=False)


def apply_window(arr: np.ndarray, center: float, width: float) -> np.ndarray:
    """Linear window/level to [0, 1]: ``center - width/2`` -> 0, ``center + width/2`` -> 1 (float32)."""
    if width <= 0:
        raise ValueError(f"window width must be positive, got {width}")
    low = center - width / 2.0
    out = (np.asarray(arr, dtype=np.float32) - np.float32(low)) / np.float32(width)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def resize_2d(arr: np.ndarray, shape: tuple[int, int], order: int = 1) -> np.ndarray:
    """Resize the last two axes of ``arr`` to ``shape`` = (rows, cols) (bilinear by default).

    Leading axes (channels, batch) are kept. Downsampling is smoothed first to avoid aliasing.
    """
    a = np.asarray(arr, dtype=np.float32)
    if a.ndim < 2:
        raise ValueError(f"resize_2d needs at least 2 dimensions, got shape {a.shape}")
    rows, cols = int(shape[0]), int(shape[1])
    if rows < 1 or cols < 1:
        raise ValueError(f"target shape must be positive, got {shape}")
    factors = (rows / a.shape[-2], cols / a.shape[-1])
    lead = a.shape[:-2]
    flat = a.reshape((-1,) + a.shape[-2:])
    out = np.empty((flat.shape[0], rows, cols), dtype=np.float32)
    sigma = [max(0.0, (1.0 / f - 1.0) / 2.0) for f in factors]
    for i, plane in enumerate(flat):
        src = ndimage.gaussian_filter(plane, sigma) if any(s > 0 for s in sigma) else plane
        # Pixel-centre alignment: output pixel centre i maps to input (i + 0.5) / f - 0.5.
        r = (np.arange(rows) + 0.5) / factors[0] - 0.5
        c = (np.arange(cols) + 0.5) / factors[1] - 0.5
        rr, cc = np.meshgrid(r, c, indexing="ij")
        out[i] = ndimage.map_coordinates(src, [rr, cc], order=order, mode="nearest")
    return out.reshape(lead + (rows, cols))


def crop_or_pad(arr: np.ndarray, shape: Sequence[int], value: float = 0.0) -> np.ndarray:
    """Centre-crop or pad the last ``len(shape)`` axes of ``arr`` to ``shape`` (pad with ``value``)."""
    a = np.asarray(arr)
    n = len(shape)
    if n > a.ndim:
        raise ValueError(f"shape {tuple(shape)} has more axes than the array {a.shape}")
    slices = [slice(None)] * (a.ndim - n)
    pads = [(0, 0)] * (a.ndim - n)
    for size, target in zip(a.shape[a.ndim - n:], shape):
        target = int(target)
        if size >= target:
            start = (size - target) // 2
            slices.append(slice(start, start + target))
            pads.append((0, 0))
        else:
            before = (target - size) // 2
            slices.append(slice(None))
            pads.append((before, target - size - before))
    return np.pad(a[tuple(slices)], pads, mode="constant", constant_values=value)


def resample_to_spacing(scan: Scan, spacing_mm: float | Sequence[float], order: int = 1) -> Scan:
    """Resample to a new voxel size (mm) keeping the world position of voxel (0, 0, 0).

    Args:
        scan: the input scan.
        spacing_mm: one value for all axes, or (x, y) for 2D scans / (x, y, z) for volumes.
            For a 2D scan only X and Y are resampled.
        order: spline order (1 = trilinear; 0 = nearest, for label maps).

    Returns:
        A new Scan with updated array, affine and history.
    """
    old = np.array(scan.spacing, dtype=float)
    target = np.broadcast_to(np.asarray(spacing_mm, dtype=float), (len(np.atleast_1d(spacing_mm)),))
    if target.size == 1:
        new = np.full(3, float(target[0]))
    elif target.size == 2:
        new = np.array([target[0], target[1], old[2]])
    else:
        new = np.asarray(target[:3], dtype=float)
    if scan.is_2d:
        new[2] = old[2]
    if np.any(new <= 0):
        raise ValueError(f"spacing must be positive, got {spacing_mm}")
    scale = new / old  # input voxels per output voxel
    shape = np.array(scan.shape)
    out_shape = np.maximum(1, np.round(shape / scale).astype(int))
    if scan.is_2d:
        out_shape[2] = 1
        scale[2] = 1.0
    channels = [ndimage.affine_transform(ch, np.diag(scale), output_shape=tuple(out_shape), order=order, mode="nearest")
                for ch in scan.array]
    affine = scan.affine.copy()
    affine[:3, :3] = scan.affine[:3, :3] @ np.diag(scale)
    before, after = (tuple(round(float(v), 3) for v in sp) for sp in (old, new))
    step = f"resample_to_spacing {before} -> {after} mm"
    return scan.with_history(step, array=np.stack(channels).astype(np.float32), affine=affine)


def reorient_ras(scan: Scan) -> Scan:
    """Reorient to the closest canonical RAS+ orientation (axis flips/permutations, no interpolation).

    Volumes from core.io are already RAS+; 2D images are deliberately not reoriented by core.io,
    so call this on them only when world orientation matters more than the stored pixel layout.
    """
    codes = axis_codes(scan.affine)
    array, affine, changed = to_closest_canonical(scan.array, scan.affine)
    step = f"reorient_ras {codes} -> RAS" if changed else "reorient_ras (already RAS)"
    return scan.with_history(step, array=array, affine=affine)


__all__ = ["to_display_2d", "normalize_percentile", "apply_window", "resize_2d", "crop_or_pad",
           "resample_to_spacing", "reorient_ras"]
