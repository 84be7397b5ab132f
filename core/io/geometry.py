"""Affine helpers: DICOM patient geometry (LPS) to RAS+, closest-canonical reorientation."""

from __future__ import annotations

import numpy as np
from nibabel import orientations as ornt

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def dicom_affine(position_mm, orientation, row_spacing_mm: float, col_spacing_mm: float,
                 slice_step_mm) -> np.ndarray:
    """Voxel ``(column, row, slice)`` -> RAS+ mm affine from DICOM geometry.

    Args:
        position_mm: ImagePositionPatient of the first slice (LPS, mm).
        orientation: ImageOrientationPatient (6 direction cosines: along a row, along a column).
        row_spacing_mm: PixelSpacing[0], distance between rows (step of the row index).
        col_spacing_mm: PixelSpacing[1], distance between columns (step of the column index).
        slice_step_mm: 3-vector from one slice origin to the next (LPS, mm), or a scalar slice
            thickness used along the slice normal.
    """
    iop = np.asarray(orientation, dtype=float)
    along_row, along_col = iop[:3], iop[3:]  # column index moves along a row
    if np.isscalar(slice_step_mm) or np.ndim(slice_step_mm) == 0:
        normal = np.cross(along_row, along_col)
        step = normal / (np.linalg.norm(normal) or 1.0) * float(slice_step_mm)
    else:
        step = np.asarray(slice_step_mm, dtype=float)
    lps = np.eye(4)
    lps[:3, 0] = along_row * col_spacing_mm
    lps[:3, 1] = along_col * row_spacing_mm
    lps[:3, 2] = step
    lps[:3, 3] = np.asarray(position_mm, dtype=float)
    return LPS_TO_RAS @ lps


def to_closest_canonical(array: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Flip/permute ``array`` (C, X, Y, Z) so its axes point closest to RAS+.

    Returns:
        (array, affine, changed). Same as nibabel's ``as_closest_canonical`` on the spatial axes.
    """
    orientation = ornt.io_orientation(affine)
    if np.array_equal(orientation, ornt.axcodes2ornt(("R", "A", "S"))):
        return array, affine, False
    shape = array.shape[1:4]
    out = np.stack([ornt.apply_orientation(ch, orientation) for ch in array])
    new_affine = affine @ ornt.inv_ornt_aff(orientation, shape)
    return np.ascontiguousarray(out, dtype=np.float32), new_affine, True


def axis_codes(affine: np.ndarray) -> str:
    """Axis codes such as ``"RAS"`` of an affine."""
    return "".join(ornt.aff2axcodes(affine))


__all__ = ["dicom_affine", "to_closest_canonical", "axis_codes", "LPS_TO_RAS"]
