"""2D views of a scan that the gates look at.

The gates judge images the way a reader would see them: a 2D image as displayed
(rows, cols), and a volume through its central axial, coronal and sagittal slices.
"""

from __future__ import annotations

import numpy as np
from skimage.transform import resize

from core.types import Scan

#: Views with a side shorter than this (pixels) carry too little to judge (e.g. the
#: sagittal view of a 3-slice series) and are skipped.
MIN_VIEW_SIDE_PX = 16


def display_2d(scan: Scan) -> np.ndarray:
    """Grayscale displayed image of a 2D scan, float32 ``(rows, cols)`` (RGB averaged).

    For a volume this is the central axial slice (see :func:`volume_views`).
    """
    if scan.is_volume:
        return volume_views(scan)[0]
    return np.asarray(scan.array[:, :, :, 0].mean(axis=0).T, dtype=np.float32)


def _physical(view: np.ndarray, row_mm: float, col_mm: float) -> np.ndarray:
    """Resample a view so that its pixels are square in mm (thick slices stretched)."""
    if min(row_mm, col_mm) <= 0 or abs(row_mm / col_mm - 1.0) < 0.05:
        return view
    scale_rows = row_mm / min(row_mm, col_mm)
    scale_cols = col_mm / min(row_mm, col_mm)
    shape = (max(1, round(view.shape[0] * scale_rows)), max(1, round(view.shape[1] * scale_cols)))
    return resize(view, shape, order=1, preserve_range=True, anti_aliasing=False).astype(np.float32)


def volume_views(scan: Scan) -> list[np.ndarray]:
    """Central axial, coronal and sagittal slices of a RAS+ volume, displayed upright.

    Axial: anterior at the top, patient left on the right (radiological); coronal and
    sagittal: superior at the top. Views thinner than :data:`MIN_VIEW_SIDE_PX` are dropped,
    the axial view is always kept.

    Returns:
        List of float32 ``(rows, cols)`` images, axial first.
    """
    vol = scan.array.mean(axis=0)
    sx, sy, sz = scan.spacing
    nx, ny, nz = vol.shape
    axial = np.flipud(vol[:, :, nz // 2].T)  # rows: y (anterior at top), cols: x
    coronal = np.flipud(vol[:, ny // 2, :].T)  # rows: z (superior at top), cols: x
    sagittal = np.flipud(vol[nx // 2, :, :].T)  # rows: z, cols: y
    views = [_physical(axial, sy, sx)]
    for view, row_mm, col_mm in ((coronal, sz, sx), (sagittal, sz, sy)):
        if min(view.shape) >= MIN_VIEW_SIDE_PX:
            views.append(_physical(view, row_mm, col_mm))
    return [np.ascontiguousarray(v, dtype=np.float32) for v in views]


def gate_views(scan: Scan) -> list[np.ndarray]:
    """Every view the learned gate and the quality checks look at (one for a 2D image)."""
    return volume_views(scan) if scan.is_volume else [display_2d(scan)]


def rgb_display(scan: Scan) -> np.ndarray | None:
    """Displayed RGB image ``(rows, cols, 3)`` of a 2D colour scan, or None when grayscale."""
    if scan.is_volume or scan.array.shape[0] != 3:
        return None
    return np.ascontiguousarray(np.transpose(scan.array[:, :, :, 0], (2, 1, 0)), dtype=np.float32)
