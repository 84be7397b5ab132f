"""Knee phantoms for the input gate: sagittal/coronal knee MRI slices and knee radiographs.

The input gate must recognise a knee (to refuse it on the brain pages), and core.synth has
no knee. This is a coarse, parameterised drawing, not an anatomical model: femur with
condyles, tibia with its plateau, patella, articular cartilage, menisci, joint fluid,
patellar tendon, Hoffa's fat pad, muscles and subcutaneous fat, in one of four MR
contrasts (PD fat-saturated, T1, T2, DESS) or rendered as a radiograph; intermuscular fat planes
and a random tilt of the leg add variety. Deterministic per seed.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from core.synth._fields import rician, smooth_field

# tissue codes of the label map
AIR, FAT, MUSCLE, CORTEX, MARROW, CARTILAGE, FLUID, TENDON, MENISCUS, VESSEL = range(10)

# MR contrasts: tissue -> relative signal (before jitter); sources: textbook appearance only.
_CONTRASTS: dict[str, dict[int, float]] = {
    "pd_fs": {AIR: 0.0, FAT: 0.12, MUSCLE: 0.30, CORTEX: 0.03, MARROW: 0.14, CARTILAGE: 0.55, FLUID: 0.95,
              TENDON: 0.04, MENISCUS: 0.05, VESSEL: 0.7},
    "t1": {AIR: 0.0, FAT: 0.92, MUSCLE: 0.35, CORTEX: 0.03, MARROW: 0.85, CARTILAGE: 0.45, FLUID: 0.22,
           TENDON: 0.05, MENISCUS: 0.05, VESSEL: 0.15},
    "t2": {AIR: 0.0, FAT: 0.60, MUSCLE: 0.22, CORTEX: 0.03, MARROW: 0.50, CARTILAGE: 0.35, FLUID: 0.95,
           TENDON: 0.04, MENISCUS: 0.04, VESSEL: 0.8},
    "dess": {AIR: 0.0, FAT: 0.45, MUSCLE: 0.32, CORTEX: 0.04, MARROW: 0.28, CARTILAGE: 0.75, FLUID: 1.0,
             TENDON: 0.05, MENISCUS: 0.06, VESSEL: 0.6},
}
CONTRASTS: tuple[str, ...] = tuple(_CONTRASTS)


def _ellipse(uu: np.ndarray, vv: np.ndarray, cu: float, cv: float, ru: float, rv: float) -> np.ndarray:
    return ((uu - cu) / ru) ** 2 + ((vv - cv) / rv) ** 2 < 1.0


def knee_labels(seed: int, size: int = 256, view: str | None = None) -> tuple[np.ndarray, dict]:
    """Label map (uint8 ``(size, size)``) of a knee slice; rows inferior-down.

    Args:
        seed: random seed.
        size: side in pixels.
        view: ``"sagittal"`` or ``"coronal"``; random (70 % sagittal) when None.

    Returns:
        ``(labels, info)`` with info ``view``, ``joint_row``.
    """
    rng = np.random.default_rng(seed)
    view = view or str(rng.choice(["sagittal", "coronal"], p=[0.7, 0.3]))
    vv, uu = np.mgrid[-1:1:size * 1j, -1:1:size * 1j]
    zoom = rng.uniform(0.75, 1.35)  # field of view: how much of the leg the slice shows
    uu = uu / zoom
    vv = vv / zoom
    j = rng.uniform(-0.18, 0.18)  # joint line
    u0 = rng.uniform(-0.12, 0.12)
    lab = np.zeros((size, size), np.uint8)

    # leg envelope with a gentle waist; wider than the field of view when zoomed in
    half_width = rng.uniform(0.55, 0.8) + 0.05 * np.cos(np.pi * (vv - j))
    wobble = 0.03 * smooth_field(rng, (size, size), size / 6)
    leg = np.abs(uu - u0 + wobble) < half_width
    lab[leg] = FAT
    fat_t = rng.uniform(0.04, 0.1)
    inner = np.abs(uu - u0 + wobble) < half_width - fat_t
    lab[inner] = MUSCLE

    if view == "sagittal":
        uf = u0 + rng.uniform(0.0, 0.12)  # femur axis, a little posterior of the leg centre
        femur = (_ellipse(uu, vv, uf + 0.04, j - 0.2, rng.uniform(0.26, 0.34), rng.uniform(0.18, 0.24))
                 | ((np.abs(uu - uf) < rng.uniform(0.13, 0.18)) & (vv < j - 0.2))) & (vv < j - 0.015)
        tib_w = rng.uniform(0.26, 0.34)
        tibia = ((np.abs(uu - uf - 0.02) < np.clip(tib_w - 0.5 * (vv - j - 0.1), 0.14, tib_w)) & (vv > j + 0.02))
        patella = _ellipse(uu, vv, uf - rng.uniform(0.36, 0.44), j - rng.uniform(0.18, 0.3),
                           rng.uniform(0.06, 0.09), rng.uniform(0.14, 0.19))
        bones = [femur, tibia, patella]
        # Hoffa's fat pad and the patellar tendon in front of the joint
        pad = _ellipse(uu, vv, uf - 0.3, j + 0.02, 0.12, 0.14) & ~femur & ~tibia
        lab[pad & inner] = FAT
        p_rows, p_cols = np.nonzero(patella)
        tendon = np.zeros_like(lab, dtype=bool)
        if p_rows.size:
            top_v = vv[p_rows.max(), 0]
            tendon = (vv > top_v - 0.05) & (vv < j + 0.3) & (np.abs(uu - (uf - 0.4 + 0.15 * (vv - top_v))) < 0.025)
        # posterior popliteal vessel
        vessel = (np.abs(uu - (uf + 0.32)) < 0.03) & (np.abs(vv - j) < 0.6)
        lab[vessel & inner] = VESSEL
    else:  # coronal: two condyles with a notch, tibial plateau with spines, no patella
        uf = u0
        cond_l = _ellipse(uu, vv, uf - 0.17, j - 0.14, 0.17, 0.16)
        cond_r = _ellipse(uu, vv, uf + 0.17, j - 0.14, 0.17, 0.16)
        metaphysis = _ellipse(uu, vv, uf, j - 0.25, 0.34, 0.17)
        shaft = (np.abs(uu - uf) < rng.uniform(0.14, 0.18)) & (vv < j - 0.25)
        notch = _ellipse(uu, vv, uf, j - 0.02, 0.06, 0.1)
        femur = (cond_l | cond_r | metaphysis | shaft) & ~notch & (vv < j - 0.015)
        tibia = (np.abs(uu - uf) < np.clip(0.36 - 0.6 * (vv - j - 0.12), 0.15, 0.36)) & (vv > j + 0.02)
        tibia |= _ellipse(uu, vv, uf, j + 0.02, 0.05, 0.04)  # tibial spines
        fibula = (np.abs(uu - (uf + 0.33)) < 0.05) & (vv > j + 0.2)
        bones = [femur, tibia, fibula]
        tendon = np.zeros_like(lab, dtype=bool)

    for bone in bones:
        lab[bone] = CORTEX
        lab[ndimage.binary_erosion(bone, iterations=max(1, size // 128))] = MARROW
    # cartilage: a thin band around the articulating ends, outside the bone
    joint_zone = np.abs(vv - j) < 0.22
    for bone in bones[:2] + ([bones[2]] if view == "sagittal" else []):
        band = ndimage.binary_dilation(bone, iterations=max(1, int(size * rng.uniform(0.008, 0.014)))) & ~bone
        lab[band & joint_zone & (lab != AIR) & ~np.isin(lab, [CORTEX, MARROW])] = CARTILAGE
    # joint fluid and menisci in the joint gap
    gap = (np.abs(vv - j) < 0.02) & (np.abs(uu - uf) < 0.34) & (lab != AIR) & ~np.isin(lab, [CORTEX, MARROW])
    lab[gap] = FLUID
    for side in (-1, 1):
        men = (np.abs(vv - j) < 0.03) & (np.abs(uu - (uf + side * 0.28)) < 0.07)
        lab[men & (lab != AIR)] = MENISCUS
    if rng.random() < 0.6:  # effusion pocket (suprapatellar recess)
        eff = _ellipse(uu, vv, uf - 0.22, j - 0.45, 0.05, rng.uniform(0.08, 0.2)) & inner & (lab == MUSCLE)
        lab[eff] = FLUID
    lab[tendon & (lab != AIR)] = TENDON
    # intermuscular fat planes: thin curved bright lines between muscle bellies (real thigh/calf)
    septa = (np.abs(smooth_field(rng, (size, size), size / rng.uniform(6, 12))) < rng.uniform(0.02, 0.05))
    lab[septa & (lab == MUSCLE)] = FAT
    # the leg is rarely straight up in the image: tilt it (nearest label, air outside)
    tilt = float(rng.normal(0.0, 8.0))
    if abs(tilt) > 1.0:
        lab = ndimage.rotate(lab, tilt, reshape=False, order=0, mode="constant", cval=AIR)
    return lab, {"view": view, "joint_row": int((j * zoom + 1) / 2 * size)}


def make_knee_mri(seed: int, size: int = 160, contrast: str | None = None, view: str | None = None) -> np.ndarray:
    """One knee MRI slice, float32 ``(size, size)`` in 0..1 (anterior left or right at random).

    Args:
        seed: random seed.
        size: output side in pixels.
        contrast: one of :data:`CONTRASTS` (random when None).
        view: ``"sagittal"`` / ``"coronal"`` (random when None).
    """
    rng = np.random.default_rng(seed)
    contrast = contrast or str(rng.choice(CONTRASTS))
    hi = size * 2
    lab, _ = knee_labels(int(rng.integers(2**31 - 1)), hi, view)
    table = _CONTRASTS[contrast]
    lut = np.array([table[t] * (1 + rng.normal(0, 0.1)) if t else 0.0 for t in range(10)], np.float32)
    img = lut[lab]
    marrow = lab == MARROW
    img[marrow] *= 1 + 0.12 * smooth_field(rng, lab.shape, hi / 40)[marrow]  # trabecular texture
    muscle = lab == MUSCLE
    striation = np.sin(np.linspace(0, rng.uniform(20, 60), hi))[None, :] * np.ones((hi, 1))
    img[muscle] *= 1 + 0.08 * (0.5 * striation + smooth_field(rng, lab.shape, hi / 30))[muscle]
    img = ndimage.gaussian_filter(img, rng.uniform(0.6, 1.4))
    img = img.reshape(size, 2, size, 2).mean(axis=(1, 3))
    img *= np.exp(0.2 * smooth_field(rng, img.shape, size / 2))  # coil bias field
    img = rician(rng, img, float(rng.uniform(0.01, 0.05)))
    if rng.random() < 0.5:
        img = img[:, ::-1]
    return np.clip(img / max(float(np.percentile(img, 99.7)), 1e-6), 0, 1).astype(np.float32)


def make_knee_radiograph(seed: int, size: int = 160) -> np.ndarray:
    """A knee radiograph (AP or lateral projection look), float32 ``(size, size)`` in 0..1.

    Bone attenuates most (cortex more than marrow), soft tissue less, air not at all; the
    projection is approximated by smoothing the attenuation map.
    """
    rng = np.random.default_rng(seed)
    hi = size * 2
    lab, _ = knee_labels(int(rng.integers(2**31 - 1)), hi, str(rng.choice(["sagittal", "coronal"])))
    att = np.zeros(lab.shape, np.float32)
    att[lab != AIR] = 0.35
    att[np.isin(lab, [MARROW])] = 0.65
    att[lab == CORTEX] = 0.95
    att += 0.05 * smooth_field(rng, lab.shape, hi / 25) * (lab != AIR)
    img = ndimage.gaussian_filter(att, rng.uniform(0.8, 2.0)).reshape(size, 2, size, 2).mean(axis=(1, 3))
    img = img + rng.normal(0, rng.uniform(0.005, 0.02), img.shape)
    return np.clip(img, 0, 1).astype(np.float32)


__all__ = ["CONTRASTS", "knee_labels", "make_knee_mri", "make_knee_radiograph"]
