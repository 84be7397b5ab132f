"""Mean cortical thickness estimate (mm) from a GM/WM/CSF segmentation.

Distance-transform method: at every cortical GM voxel on the outer (pial) boundary, the
distance to the nearest white-matter voxel centre approximates the local thickness (the pial
surface lies half a voxel outside the boundary voxel's centre and the WM surface half a voxel
before the WM voxel's centre, so the half voxels cancel). The median over the cerebral cortex
is reported. It is an estimate on a voxel grid, not FreeSurfer's surface-based thickness:
buried sulci that are not resolved (no visible CSF) make it read thicker.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

MAX_THICKNESS_MM = 6.0  # farther than this from WM is not cortex (cerebellum, cisterns, PV errors)


def cortical_thickness_mm(gm: np.ndarray, wm: np.ndarray, icv: np.ndarray, spacing_mm: tuple[float, float, float],
                          exclude: np.ndarray | None = None) -> float:
    """Median distance from pial-boundary GM voxels to WM, in mm.

    Args:
        gm, wm, icv: boolean masks on one grid.
        spacing_mm: voxel size.
        exclude: voxels not counted (deep grey matter, cerebellum, hippocampal region).

    Returns:
        Thickness in mm, or NaN when no cortex boundary was found.
    """
    outside = ~icv | (icv & ~gm & ~wm)  # CSF or outside the cranial cavity
    # GM voxels with a face neighbour outside the tissue: the pial boundary.
    pial = gm & ndimage.binary_dilation(outside, structure=ndimage.generate_binary_structure(3, 1))
    if exclude is not None:
        pial &= ~exclude
    if not pial.any():
        return float("nan")
    # Distance to WM only needs to be known near the cortex: crop to the pial bounding box
    # plus the maximum thickness to keep the transform cheap.
    idx = np.argwhere(pial)
    margin = int(np.ceil(MAX_THICKNESS_MM / min(spacing_mm))) + 1
    lo = np.maximum(idx.min(0) - margin, 0)
    hi = np.minimum(idx.max(0) + margin + 1, gm.shape)
    sl = tuple(slice(a, b) for a, b in zip(lo, hi))
    dist = ndimage.distance_transform_edt(~wm[sl], sampling=spacing_mm)
    d = dist[pial[sl]]
    d = d[(d > 0) & (d <= MAX_THICKNESS_MM)]
    return float(np.median(d)) if d.size else float("nan")
