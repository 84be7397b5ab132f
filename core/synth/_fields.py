"""Small numeric helpers shared by the phantom generators.

Everything here is deterministic given the ``numpy.random.Generator`` passed in, and
works on float32 to keep the generators fast on a 2-core machine.
"""

from __future__ import annotations

import hashlib

import numpy as np
from scipy import ndimage


def smooth_noise_2d(rng: np.random.Generator, shape: tuple[int, int], cell_px: float) -> np.ndarray:
    """Smooth random field in ``[-1, 1]``-ish (zero mean, unit std) of ``shape``.

    Args:
        rng: random generator.
        shape: output (rows, cols).
        cell_px: correlation length in pixels (Gaussian sigma of the underlying noise).
    """
    coarse = tuple(max(4, int(np.ceil(s / max(cell_px, 1.0))) + 3) for s in shape)
    noise = rng.standard_normal(coarse).astype(np.float32)
    noise = ndimage.gaussian_filter(noise, 1.0, mode="wrap")
    zoom = [s / c for s, c in zip(shape, coarse)]
    field = ndimage.zoom(noise, zoom, order=1, mode="nearest", grid_mode=True)[: shape[0], : shape[1]]
    field = field - field.mean()
    std = float(field.std())
    return (field / std if std > 0 else field).astype(np.float32)


def smooth_noise_3d(rng: np.random.Generator, shape: tuple[int, int, int], cell_vox: float) -> np.ndarray:
    """Smooth zero-mean, unit-std random 3D field (trilinear upsampling of coarse noise)."""
    coarse = tuple(max(4, int(np.ceil(s / max(cell_vox, 1.0))) + 3) for s in shape)
    noise = rng.standard_normal(coarse).astype(np.float32)
    noise = ndimage.gaussian_filter(noise, 1.0, mode="wrap")
    zoom = [s / c for s, c in zip(shape, coarse)]
    field = ndimage.zoom(noise, zoom, order=1, mode="nearest", grid_mode=True)
    field = field[: shape[0], : shape[1], : shape[2]]
    field -= field.mean()
    std = float(field.std())
    if std > 0:
        field /= std
    return field.astype(np.float32, copy=False)


def gaussian_blob(xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, sx: float, sy: float,
                  angle_rad: float = 0.0) -> np.ndarray:
    """Unnormalised 2D Gaussian exp(-r^2/2) on an (optionally rotated) ellipse."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    dx, dy = xx - cx, yy - cy
    u = (c * dx + s * dy) / sx
    v = (-s * dx + c * dy) / sy
    return np.exp(-0.5 * (u * u + v * v)).astype(np.float32)


def ellipse_level(xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, rx: float, ry: float,
                  angle_rad: float = 0.0) -> np.ndarray:
    """Normalised elliptic radius: < 1 inside the ellipse, 1 on its border."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    dx, dy = xx - cx, yy - cy
    u = (c * dx + s * dy) / rx
    v = (-s * dx + c * dy) / ry
    return np.sqrt(u * u + v * v).astype(np.float32)


def soft_inside(level: np.ndarray, width: float) -> np.ndarray:
    """Smooth 0..1 indicator of ``level < 1`` with a transition of relative ``width``."""
    return (1.0 / (1.0 + np.exp((level - 1.0) / max(width, 1e-6)))).astype(np.float32)


def rician(rng: np.random.Generator, image: np.ndarray, sigma: float) -> np.ndarray:
    """Magnitude of ``image`` plus complex Gaussian noise of std ``sigma`` (Rician, like MR)."""
    if sigma <= 0:
        return image.astype(np.float32, copy=False)
    n1 = rng.standard_normal(image.shape, dtype=np.float32) * np.float32(sigma)
    n2 = rng.standard_normal(image.shape, dtype=np.float32) * np.float32(sigma)
    return np.sqrt((image + n1) ** 2 + n2 ** 2).astype(np.float32)


def normalise01(image: np.ndarray, lo_pct: float = 0.5, hi_pct: float = 99.5) -> np.ndarray:
    """Rescale to [0, 1] with percentile clipping (robust to a few hot pixels)."""
    lo, hi = np.percentile(image, [lo_pct, hi_pct])
    if hi <= lo:
        return np.zeros_like(image, dtype=np.float32)
    return np.clip((image - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


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
