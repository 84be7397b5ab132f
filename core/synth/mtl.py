"""MNI-shaped medial temporal lobe for the head phantom: FreeSurfer aseg hippocampi and amygdalae.

Why: RadLens measures the hippocampus as the FreeSurfer ``aseg`` hippocampus warped from
MNI152 space and gated by grey-matter intensity (:mod:`core.brain`). A phantom whose
hippocampus is a tube of ellipsoids tests a different definition: the warped atlas overlapped
it only partly (Dice 0.46-0.6) and read it 30-47 % low. Here the phantom's hippocampi and
amygdalae are the atlas structures themselves, carried into the phantom's template frame,
and the tissue around them (within :data:`NEIGHBOURHOOD_MM`) follows the MNI152 grey/white/CSF
maps, so the medial temporal lobe has the anatomy the method assumes. Each subject still
differs: its own size, pose and shape (the phantom's subject transform), its own hippocampal
size (``hc_factor``, asymmetry) and atrophy.

Geometry (phantom rules, not clinical):
- ``MNI_TO_TEMPLATE``: the phantom template frame is the MNI152 frame mapped by this affine.
  Measured, not chosen: RadLens' affine registration (ANTs, global correlation, template
  brain mask) of eight atrophy-0 phantoms (seeds 1-8, 1 mm, the earlier version with tube
  hippocampi) to the nilearn MNI152 template,
  composed with each phantom's known subject transform; mean matrix and offset (spread of
  the offset 0.5-1.2 mm).
- Sizes: each side's medial temporal lobe is scaled about its hippocampus centroid, fully
  inside the hippocampus and fading smoothly to no scaling 7 mm away from it, so the
  hippocampus volume is ``scale**3`` times the atlas volume and its surroundings follow
  without gaps. The MNI152 hippocampus (6.4 mL per side in the atlas) is larger than adult
  FreeSurfer hippocampi; :data:`HIPPOCAMPUS_SIZE_FRACTION` brings the phantom mean to ~4 mL
  at ICV 1.47 L, the CentileBrain prediction for adults (4.2-4.3 mL at 30 y, 3.8-4.0 mL at
  70 y for an eTIV of 1.47 L; core/brain/data).
- Atrophy ``a``: the same scaling, hippocampal volume x (1 - 0.38 a); the tissue around it
  closes in. (Erosion with the lost tissue turned into CSF was tried first: it left sub-mm
  CSF shells that partial volume hides and the measured volume read 30 % high at a = 1;
  real atrophy opens the temporal horn and the fissure instead, which is not modelled here.)
- MNI CSF in the template's lateral ventricles (the atrium next to the hippocampal tail), and
  MNI CSF where the phantom had its own temporal horn, is labelled lateral ventricle; other
  MNI CSF there is CSF (cisterns, fissures).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

# p_template = MNI_TO_TEMPLATE[:, :3] @ p_mni + MNI_TO_TEMPLATE[:, 3] (mm); see module docstring.
MNI_TO_TEMPLATE = np.array([
    [0.9305, 0.0003, -0.0022, 0.13],
    [0.0054, 0.9559, -0.0246, 13.24],
    [0.0087, 0.0808, 0.9068, -10.62],
])
NEIGHBOURHOOD_MM = 7.0
HIPPOCAMPUS_SIZE_FRACTION = 0.80
HIPPOCAMPUS_ATROPHY_LOSS = 0.38
_FAR_MM = 99.0
_SIDES = ("left", "right")


@dataclass(frozen=True)
class MTLFields:
    """Atlas fields on a 1 mm MNI grid cropped around the medial temporal lobes.

    Attributes:
        sdf: signed distance (mm, < 0 inside) per structure: hippocampus_left/right,
            amygdala_left/right.
        tissue: MNI tissue class per voxel: 0 outside the brain, 1 CSF, 2 GM, 3 WM, 4 CSF of
            the lateral ventricles (:func:`core.mni.lateral_ventricle_prior`).
        centroid_mni: per side, the hippocampus centroid (MNI mm), centre of its scaling.
        affine: voxel -> MNI mm of the crop.
        template_box: (lo, hi) template-frame mm bounds of the crop (quick reject).
    """

    sdf: dict[str, np.ndarray]
    tissue: np.ndarray
    centroid_mni: dict[str, np.ndarray]
    affine: np.ndarray
    template_box: tuple[np.ndarray, np.ndarray]


def _signed_distance(mask: np.ndarray) -> np.ndarray:
    # Distances between voxel centres; the boundary lies half a voxel from either side.
    out = ndimage.distance_transform_edt(~mask) - 0.5
    inside = ndimage.distance_transform_edt(mask) - 0.5
    return np.where(mask, -inside, out).astype(np.float32)


@lru_cache(maxsize=1)
def mtl_fields() -> MTLFields:
    """Signed distance fields and MNI tissue classes around the hippocampi and amygdalae (cached)."""
    from core.mni import (ASEG_AMYGDALA_LEFT, ASEG_AMYGDALA_RIGHT, ASEG_HIPPOCAMPUS_LEFT,
                          ASEG_HIPPOCAMPUS_RIGHT, aseg_labels, lateral_ventricle_prior, load_template)

    labels, affine = aseg_labels()
    codes = {"hippocampus_left": ASEG_HIPPOCAMPUS_LEFT, "hippocampus_right": ASEG_HIPPOCAMPUS_RIGHT,
             "amygdala_left": ASEG_AMYGDALA_LEFT, "amygdala_right": ASEG_AMYGDALA_RIGHT}
    idx = np.argwhere(np.isin(labels, list(codes.values())))
    pad = int(NEIGHBOURHOOD_MM) + 6
    lo = np.maximum(idx.min(0) - pad, 0)
    hi = np.minimum(idx.max(0) + pad + 1, labels.shape)
    crop = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
    crop_affine = affine.copy()
    crop_affine[:3, 3] = affine[:3, :3] @ lo + affine[:3, 3]
    sub = labels[crop]
    sdf = {name: _signed_distance(sub == code) for name, code in codes.items()}
    centroid = {side: np.argwhere(sub == codes[f"hippocampus_{side}"]).mean(0) @ crop_affine[:3, :3].T + crop_affine[:3, 3]
                for side in _SIDES}

    tpl = load_template(1)
    m = np.linalg.inv(tpl.affine) @ crop_affine

    def on_crop(vol: np.ndarray, order: int) -> np.ndarray:
        return ndimage.affine_transform(vol.astype(np.float32), m[:3, :3], offset=m[:3, 3],
                                        output_shape=sub.shape, order=order, cval=0.0)

    gm, wm, brain = on_crop(tpl.gm, 1), on_crop(tpl.wm, 1), on_crop(tpl.brain_mask, 0) > 0.5
    csf = np.clip(1.0 - gm - wm, 0.0, 1.0)
    tissue = (np.argmax(np.stack([csf, gm, wm]), axis=0) + 1).astype(np.uint8)
    tissue[(tissue == 1) & (on_crop(lateral_ventricle_prior(), 0) > 0.5)] = 4
    tissue[~brain] = 0

    corners = np.array([[b * (n - 1) for b, n in zip(bits, sub.shape)] for bits in np.ndindex(2, 2, 2)], dtype=float)
    mni = corners @ crop_affine[:3, :3].T + crop_affine[:3, 3]
    tpl_pts = mni @ MNI_TO_TEMPLATE[:, :3].T + MNI_TO_TEMPLATE[:, 3]
    return MTLFields(sdf=sdf, tissue=tissue, centroid_mni=centroid, affine=crop_affine,
                     template_box=(tpl_pts.min(0) - NEIGHBOURHOOD_MM, tpl_pts.max(0) + NEIGHBOURHOOD_MM))


def subject_scales(hc_size: dict[str, float], atrophy: float) -> dict[str, float]:
    """Linear scale of each side's medial temporal lobe for its hippocampal size and atrophy.

    The hippocampus volume is ``scale**3`` times the atlas volume:
    ``HIPPOCAMPUS_SIZE_FRACTION * hc_size * (1 - HIPPOCAMPUS_ATROPHY_LOSS * atrophy)``.
    """
    return {side: float((HIPPOCAMPUS_SIZE_FRACTION * hc_size[side] * (1.0 - HIPPOCAMPUS_ATROPHY_LOSS * atrophy)) ** (1 / 3))
            for side in _SIDES}


def _sample(field: np.ndarray, vox: np.ndarray, order: int, cval: float) -> np.ndarray:
    return ndimage.map_coordinates(field, vox, order=order, mode="constant", cval=cval)


def paint_mtl(x: np.ndarray, y: np.ndarray, z: np.ndarray, codes: np.ndarray, scales: dict[str, float],
              tissue_codes: dict[str, int], replaceable: np.ndarray) -> None:
    """Paint hippocampi, amygdalae and their MNI-shaped surroundings into ``codes`` in place.

    Each side is scaled about its hippocampus centroid by ``scales[side]`` inside the
    hippocampus and by a factor that returns smoothly to 1 at :data:`NEIGHBOURHOOD_MM` from
    it, so the surroundings follow without gaps or folds and the painted region meets the
    rest of the phantom where it is unchanged.

    Args:
        x, y, z: template-frame coordinates (mm) of the points.
        codes: fine tissue codes of those points (modified).
        scales: per side, the linear scale from :func:`subject_scales`.
        tissue_codes: fine codes for "csf", "gm", "wm", "hippocampus_left/right",
            "amygdala", "lateral_ventricle_left/right" (the phantom's own table).
        replaceable: bool per point, True where the phantom's own tissue may be replaced
            (cerebral GM/WM/CSF, lateral ventricles); deep nuclei, brainstem and dura stay.
    """
    f = mtl_fields()
    lo, hi = f.template_box
    sel = np.nonzero(replaceable & (x > lo[0]) & (x < hi[0]) & (y > lo[1]) & (y < hi[1])
                     & (z > lo[2]) & (z < hi[2]))[0]
    if sel.size == 0:
        return
    pts_t = np.stack([x[sel], y[sel], z[sel]], axis=1).astype(np.float64)
    mni = (pts_t - MNI_TO_TEMPLATE[:, 3]) @ np.linalg.inv(MNI_TO_TEMPLATE[:, :3]).T
    inv = np.linalg.inv(f.affine)

    def to_vox(p: np.ndarray) -> np.ndarray:
        return (p @ inv[:3, :3].T + inv[:3, 3]).T

    left = mni[:, 0] < 0
    src = mni.copy()
    vox0 = to_vox(mni)
    for side, on_side in (("left", left), ("right", ~left)):
        d = _sample(f.sdf[f"hippocampus_{side}"], vox0[:, on_side], 1, _FAR_MM)
        w = np.clip(1.0 - np.maximum(d, 0.0) / NEIGHBOURHOOD_MM, 0.0, 1.0)
        w = w * w * (3.0 - 2.0 * w)  # smoothstep: no kink where the scaling fades out
        c = f.centroid_mni[side]
        stretch = 1.0 + w * (1.0 / scales[side] - 1.0)
        src[on_side] = c + (mni[on_side] - c) * stretch[:, None]
    vox = to_vox(src)
    sdf = {k: _sample(v, vox, 1, _FAR_MM) for k, v in f.sdf.items()}
    tissue = _sample(f.tissue, vox, 0, 0)
    near = (np.minimum.reduce(list(sdf.values())) < NEIGHBOURHOOD_MM) & (tissue > 0)
    c = codes[sel]
    was_ventricle = (c == tissue_codes["lateral_ventricle_left"]) | (c == tissue_codes["lateral_ventricle_right"])
    class_code = np.array([0, tissue_codes["csf"], tissue_codes["gm"], tissue_codes["wm"], 0], dtype=c.dtype)
    new = class_code[tissue]
    # MNI lateral ventricle (the atrium, where the hippocampal tail reaches it) is lateral
    # ventricle; so is MNI CSF where the phantom had its own (temporal horn). Other MNI CSF
    # is cistern or fissure.
    lv = (tissue == 4) | ((tissue == 1) & was_ventricle)
    new[lv] = np.where(left[lv], tissue_codes["lateral_ventricle_left"], tissue_codes["lateral_ventricle_right"])
    c[near] = new[near]
    for side in _SIDES:
        c[sdf[f"amygdala_{side}"] < 0] = tissue_codes["amygdala"]
    for side in _SIDES:
        c[sdf[f"hippocampus_{side}"] < 0] = tissue_codes[f"hippocampus_{side}"]
    codes[sel] = c
