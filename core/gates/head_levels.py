"""Head MRI slices at the levels and contrasts the brain-tumour phantom does not draw, for the input gate.

:mod:`core.synth.brain_slice` draws T1 post-contrast slices through the cerebrum (axial levels
from the temporal lobes to the centrum semiovale). Real head MRI exports also show

* the **vertex** (a small cap of gyri inside the skull),
* the **orbits / skull base** (both eyeballs with bright orbital fat, optic nerves and eye
  muscles running back towards the sella, temporal lobes, pons and cerebellum behind),
* the **face and jaw** (the first slices of a whole-head 3D T1: mandible and teeth, tongue,
  airway, a cervical vertebra with the spinal cord, neck muscles and fat),

in T1, post-contrast T1, T2, FLAIR or PD contrast. An input gate that only saw mid-brain
slices called such images "knee" (bright fat rings and dark cortical bone). This module
samples the same :class:`core.synth.head.HeadAnatomy` subjects at those levels and paints the
few extracranial structures the head phantom lacks (mandible, teeth, tongue, airway, cervical
vertebra and cord, optic nerves and eye muscles) in template millimetres, so a slice is a
consistent plane through one 3D head. A coarse drawing for routing, not an anatomical model;
the tissue signal tables follow textbook appearance only.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from core.synth import head as _head
from core.synth._fields import rician, smooth_field

#: Axial levels (template mm along z, the brain centre at 0): name -> (low, high).
LEVELS: dict[str, tuple[float, float]] = {
    "vertex": (44.0, 60.0),
    "orbit": (-58.0, -40.0),
    "skull_base": (-72.0, -56.0),
    "jaw": (-108.0, -76.0),
}

# extra tissue codes beyond the head phantom's (painted here)
_T_TEETH = _head._N_TISSUES          # enamel/dentine and mandibular cortex: no MR signal
_T_CORD = _head._N_TISSUES + 1       # spinal cord / optic nerve
_N_CODES = _head._N_TISSUES + 2


def _lut(contrast: str) -> np.ndarray:
    """Relative signal per tissue code for one MR contrast (textbook appearance, not measured)."""
    h = _head
    lut = np.zeros(_N_CODES, np.float32)
    lut[:h._N_TISSUES] = h._T1_BASE
    lut[_T_TEETH] = 0.03
    lut[_T_CORD] = 0.62
    if contrast == "t1c":
        lut[h._T_DURA] = 0.55
        lut[h._T_MUSCLE] = 0.42  # enhancing mucosa and muscle
    elif contrast in ("t2", "flair", "pd"):
        fluid = {"t2": 0.95, "flair": 0.08, "pd": 0.72}[contrast]
        gm, wm = {"t2": (0.55, 0.38), "flair": (0.62, 0.45), "pd": (0.72, 0.58)}[contrast]
        lut[[h._T_CSF, h._T_LV_L, h._T_LV_R, h._T_VITREOUS]] = fluid
        lut[[h._T_GM, h._T_HC_L, h._T_HC_R, h._T_CBGM, h._T_AMYG]] = gm
        lut[[h._T_WM, h._T_CBWM, h._T_STEM]] = wm
        lut[[h._T_THAL, h._T_CAUD, h._T_PUT]] = (gm + wm) / 2
        lut[h._T_PALL] = wm * 0.85
        lut[h._T_SKIN] = {"t2": 0.70, "flair": 0.75, "pd": 0.85}[contrast]
        lut[h._T_ORBFAT] = lut[h._T_SKIN]
        lut[h._T_DIPLOE] = lut[h._T_SKIN] * 0.7
        lut[h._T_MUSCLE] = {"t2": 0.25, "flair": 0.30, "pd": 0.45}[contrast]
        lut[h._T_DURA] = 0.15
        lut[_T_CORD] = wm
    return lut


def _in_ellipse(x: np.ndarray, y: np.ndarray, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 < 1.0


def _near_segment(p: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float) -> np.ndarray:
    """Points ``p`` (N, 3) within ``radius`` of the segment a-b (template mm)."""
    ab = b - a
    t = np.clip(((p - a) @ ab) / float(ab @ ab), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1) < radius


def _paint_extras(tissue: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add jaw, airway, cervical spine and orbital structures.

    Args:
        tissue: (rows, cols) tissue codes of the head phantom on the slice.
        t: (rows, cols, 3) template coordinates (mm) of each pixel.
    """
    h = _head
    shape = tissue.shape
    inside = ndimage.binary_fill_holes(tissue != h._T_AIR).ravel()
    t = t.reshape(-1, 3)
    x, y, z = t[:, 0], t[:, 1], t[:, 2]
    out = tissue.ravel().copy()
    # the phantom's facial-sinus texture reaches down into the jaw and neck: soft tissue there instead
    out[(z < -72.0) & inside & np.isin(out, [h._T_AIR, h._T_DIPLOE])] = h._T_MUSCLE
    soft = inside & np.isin(out, [h._T_MUSCLE, h._T_SKIN, h._T_DIPLOE, h._T_AIR, h._T_ORBFAT, h._T_BONE])
    # --- orbits: optic nerves and medial/lateral rectus muscles, from each globe back to the apex ---
    for sx in (-1.0, 1.0):
        globe = np.array([sx * 32.0, 70.0, -50.0])
        apex = np.array([sx * 12.0, 34.0, -46.0])
        # orbital fat cone from the globe back to the apex (the phantom's face is solid there)
        ax = apex - globe
        tt = np.clip(((t - globe) @ ax) / float(ax @ ax), 0.0, 1.0)
        radius = 17.0 - 12.0 * tt
        cone = (np.linalg.norm(t - (globe + tt[:, None] * ax), axis=1) < radius) & soft
        out[cone & (out != h._T_VITREOUS)] = h._T_ORBFAT
        nerve = _near_segment(t, globe + np.array([0.0, -10.0, 0.0]), apex, 2.6) & (out == h._T_ORBFAT)
        out[nerve] = _T_CORD
        for dx in (-9.5, 9.5):
            musc = _near_segment(t, globe + np.array([dx, -6.0, 0.0]), apex + np.array([dx * 0.3, 0, 0]), 2.2)
            out[musc & (out == h._T_ORBFAT)] = h._T_MUSCLE
    # --- chiasm level: optic tracts meet above the sella ---
    chiasm = _near_segment(t, np.array([-12.0, 34.0, -44.0]), np.array([12.0, 34.0, -44.0]), 2.2)
    out[chiasm & np.isin(out, [h._T_CSF, h._T_DURA])] = _T_CORD
    low = z < -70.0
    if not low.any():
        return out.reshape(shape)
    # --- neck below the skull base: cervical vertebra, spinal canal (CSF) and cord, airway ---
    lo_soft = low & soft
    vert_y = -2.0 + rng.normal(0, 2.0)
    body = _in_ellipse(x, y, 0.0, vert_y, 9.5, 8.0)
    canal = _in_ellipse(x, y, 0.0, vert_y - 15.0, 7.5, 6.5)
    cord = _in_ellipse(x, y, 0.0, vert_y - 15.0, 4.5, 3.5)
    arch = _in_ellipse(x, y, 0.0, vert_y - 16.0, 13.0, 11.0) & ~canal
    lat_mass = _in_ellipse(np.abs(x), y, 14.0, vert_y - 6.0, 6.0, 7.0)
    bone = (body | arch | lat_mass) & lo_soft
    out[bone] = h._T_DIPLOE
    rim = (body & ~_in_ellipse(x, y, 0.0, vert_y, 7.5, 6.0)) \
        | (arch & ~_in_ellipse(x, y, 0.0, vert_y - 16.0, 11.0, 9.0))
    out[rim & lo_soft] = h._T_BONE  # cortical shell: no signal
    out[canal & lo_soft] = h._T_CSF
    out[cord & lo_soft] = _T_CORD
    airway = _in_ellipse(x, y, 0.0, vert_y + 15.0, rng.uniform(6, 11), rng.uniform(3, 6)) & lo_soft
    out[airway] = h._T_AIR
    # parapharyngeal and subcutaneous fat pads (bright on T1)
    for sx in (-1.0, 1.0):
        out[_in_ellipse(x, y, sx * 22.0, vert_y + 14.0, 7.0, 10.0) & lo_soft & ~airway] = h._T_SKIN
    # --- mandible arch with teeth, tongue inside it ---
    jaw = (z < -78.0) & (z > -110.0)
    if jaw.any():
        ant_y = 64.0 + rng.normal(0, 3.0)
        half_w = 42.0 + rng.normal(0, 3.0)
        # parabolic arch: y_arch(x) = ant_y - k x^2, reaching y ~ 18 at |x| = half_w
        k = (ant_y - 18.0) / half_w ** 2
        y_arch = ant_y - k * x ** 2
        dist = np.abs(y - y_arch) / np.sqrt(1 + (2 * k * x) ** 2)
        arch_band = jaw & (np.abs(x) < half_w) & (dist < 5.5) & soft
        out[arch_band] = h._T_DIPLOE
        out[arch_band & (dist > 3.5)] = h._T_BONE
        teeth_z = (z < -82.0) & (z > -96.0)
        if teeth_z.any():
            # teeth: dark blocks along the arch, one per ~8 mm of arch length
            s_len = np.arcsinh(2 * k * x) / (4 * k) + x * np.sqrt(1 + (2 * k * x) ** 2) / 2  # arc length
            tooth = (np.cos(s_len * 2 * np.pi / 8.5) > -0.2) & (dist < 4.5)
            out[jaw & teeth_z & (np.abs(x) < half_w) & tooth & soft] = _T_TEETH
        tongue = jaw & _in_ellipse(x, y, 0.0, (ant_y + 18.0) / 2, half_w * 0.6, (ant_y - 18.0) * 0.42) & soft
        out[tongue & ~arch_band] = h._T_MUSCLE
    return out.reshape(shape)


def make_head_level_slice(seed: int, size: int = 128, *, level: str | None = None,
                          contrast: str | None = None, anatomy: _head.HeadAnatomy | None = None) -> np.ndarray:
    """One axial head MRI slice at an unusual level, float32 ``(size, size)`` in 0..1.

    Args:
        seed: random seed (subject unless ``anatomy`` is given, level, tilt, contrast, noise).
        size: output side in pixels.
        level: one of :data:`LEVELS` (random when None).
        contrast: ``"t1"``, ``"t1c"``, ``"t2"``, ``"flair"`` or ``"pd"`` (random when None).
        anatomy: a subject to reuse (building one costs ~0.3 s).

    Anterior is up, the patient's right on the image left (radiological convention).
    """
    rng = np.random.default_rng(seed)
    anat_rng, rng = rng.spawn(2)
    if anatomy is None:
        anatomy = _head.HeadAnatomy(anat_rng, atrophy=float(anat_rng.uniform(0.0, 0.4)))
    level = level or str(rng.choice(list(LEVELS), p=[0.2, 0.35, 0.2, 0.25]))
    contrast = contrast or str(rng.choice(["t1", "t1c", "t2", "flair", "pd"], p=[0.3, 0.3, 0.2, 0.12, 0.08]))
    lo, hi = LEVELS[level]
    z0 = float(rng.uniform(lo, hi))
    # field of view: whole head (200-250 mm) or a tighter crop
    fov_mm = float(rng.uniform(170.0, 250.0))
    px = fov_mm / size
    # plane: axial, tilted about the left-right axis (orbito-meatal vs AC-PC) and in plane
    pitch = float(rng.normal(0.0, np.deg2rad(9.0)))
    rot = float(rng.normal(0.0, np.deg2rad(6.0)))
    u = np.array([-1.0, 0.0, 0.0])
    v = np.array([0.0, -np.cos(pitch), -np.sin(pitch)])
    c, s = np.cos(rot), np.sin(rot)
    u, v = c * u + s * v, -s * u + c * v
    centre_t = np.array([rng.normal(0, 3.0), 8.0 + rng.normal(0, 5.0) if level != "vertex" else -6.0, z0])
    rr, cc = np.meshgrid(np.arange(size) - (size - 1) / 2.0, np.arange(size) - (size - 1) / 2.0, indexing="ij")
    t_pts = centre_t[None, :] + (cc.ravel()[:, None] * u[None, :] + rr.ravel()[:, None] * v[None, :]) * px
    # template -> world: the subject's pose and size (as core.synth.brain_slice.template_to_world)
    w_pts = anatomy.centre[None, :] + (t_pts * anatomy.scale[None, :]) @ anatomy.rotation.T
    tissue = anatomy.tissues(w_pts.astype(np.float32)).reshape(size, size)
    tissue = _paint_extras(tissue, t_pts.reshape(size, size, 3), rng)
    lut = _lut(contrast)
    lut[: _head._N_TISSUES] *= anatomy.contrast
    lut[_head._T_AIR] = 0.0
    img = lut[tissue]
    img *= 1.0 + 0.05 * smooth_field(rng, (size, size), 3.0)
    if contrast == "t1c" and rng.random() < 0.4:  # an enhancing lesion somewhere in the head
        r0, c0 = rng.uniform(0.25, 0.75, size=2) * size
        rad = rng.uniform(3.0, 14.0) / px
        blob = np.hypot(rr + (size - 1) / 2.0 - r0, cc + (size - 1) / 2.0 - c0) < rad
        img = np.where(blob & (tissue != _head._T_AIR), rng.uniform(0.7, 1.0), img).astype(np.float32)
    img = ndimage.gaussian_filter(img, rng.uniform(0.5, 1.0))
    img *= np.exp(rng.uniform(0.05, 0.3) * smooth_field(rng, (size, size), size / 3.0))
    img = rician(rng, img, float(rng.uniform(0.01, 0.06)))
    img = np.clip(img / np.float32(np.percentile(img, 99.7) * rng.uniform(1.0, 1.15) + 1e-6), 0.0, 1.0)
    return img.astype(np.float32)


def head_level_slices(seed: int, size: int, n: int = 6) -> list[np.ndarray]:
    """``n`` slices of one random subject at random levels and contrasts."""
    rng = np.random.default_rng(seed)
    anatomy = _head.HeadAnatomy(np.random.default_rng(int(rng.integers(2**31 - 1))),
                                atrophy=float(rng.uniform(0.0, 0.4)))
    return [make_head_level_slice(int(rng.integers(2**31 - 1)), size, anatomy=anatomy) for _ in range(n)]


__all__ = ["LEVELS", "make_head_level_slice", "head_level_slices"]
