"""Small numeric helpers shared by the phantom generators.

Everything here is deterministic given the ``numpy.random.Generator`` passed in, and
works on float32 to keep the generators fast on a 2-core machine.
"""

from __future__ import annotations

import hashlib

import numpy as np
from scipy import ndimage


def rician(rng: np.random.Generator, image: np.ndarray, sigma: float) -> np.ndarray:
    """Magnitude of ``image`` plus complex Gaussian noise of std ``sigma`` (Rician, like MR)."""
    if sigma <= 0:
        return image.astype(np.float32, copy=False)
    n1 = rng.standard_normal(image.shape, dtype=np.float32) * np.float32(sigma)
    n2 = rng.standard_normal(image.shape, dtype=np.float32) * np.float32(sigma)
    return np.sqrt((image + n1) ** 2 + n2 ** 2).astype(np.float32)


def sha256_of(*arrays: np.ndarray) -> str:
    """Hex sha256 over the raw bytes of ``arrays`` (identifies a generated phantom)."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _interp_matrix(n_out: int, n_in: int, sigma_in: float) -> np.ndarray:
    """Rows of Gaussian weights mapping ``n_in`` coarse samples onto ``n_out`` fine ones."""
    pos = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    d = pos[:, None] - np.arange(n_in, dtype=np.float64)[None, :]
    w = np.exp(-0.5 * (d / sigma_in) ** 2)
    w /= w.sum(axis=1, keepdims=True)
    return w.astype(np.float32)


def smooth_field(rng: np.random.Generator, shape: tuple[int, ...], corr_vox: float) -> np.ndarray:
    """Fast smooth random field (zero mean, unit std) of any 2D/3D ``shape``.

    White noise on a coarse grid (one sample per ``corr_vox`` voxels) is interpolated with
    separable Gaussian weights (BLAS matrix products), much faster than ``ndimage.zoom``.
    """
    if corr_vox < 4.0:  # fine texture: direct Gaussian filtering is cheaper than interpolation
        field = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), max(corr_vox, 0.5) * 0.7)
        field -= field.mean()
        std = float(field.std())
        return field / std if std > 0 else field
    coarse = tuple(max(3, int(np.ceil(s / max(corr_vox, 1.0))) + 2) for s in shape)
    field = rng.standard_normal(coarse).astype(np.float32)
    for axis, (n_out, n_in) in enumerate(zip(shape, coarse)):
        w = _interp_matrix(n_out, n_in, 0.85)
        field = np.moveaxis(np.tensordot(w, np.moveaxis(field, axis, 0), axes=(1, 0)), 0, axis)
    field = np.ascontiguousarray(field, dtype=np.float32)
    field -= field.mean()
    std = float(field.std())
    if std > 0:
        field /= std
    return field
