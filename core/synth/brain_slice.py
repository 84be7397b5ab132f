"""2D T1 post-contrast brain MRI slices with glioma / meningioma / pituitary tumour / no tumour.

The anatomy is a plane through a random :class:`core.synth.head.HeadAnatomy` (axial, coronal or
sagittal, random level, in-plane rotation and field of view), shown in radiological
convention (patient's right on the image left; anterior up in axial views, superior up in
coronal and sagittal views). Tumour classes follow how the real classes differ (phantom rules,
not a diagnostic model):

* ``glioma``: intra-axial mass centred in hemispheric white matter; irregular lobulated outline,
  heterogeneous thick enhancing ring around a dark necrotic core (about 70 %) or a
  non-enhancing heterogeneous hypointense mass (low-grade look); surrounding T1-hypointense
  oedema with finger-like extension; mass effect.
* ``meningioma``: extra-axial, dural-based mass on the convexity or the falx; round/lentiform,
  well circumscribed, homogeneous strong enhancement, broad base on the dura, a tapering
  enhancing dural tail on both sides, a thin CSF cleft, mass effect.
* ``pituitary``: round enhancing mass rising from the sella turcica (snowman waist at the
  diaphragma sellae), shown on a midline sagittal, coronal, or sella-level axial slice.
* ``notumor``: the same anatomy without a mass (the normal sella and gland are drawn whenever
  a slice passes through them, for every class).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from core.synth import head as _head
from core.synth._fields import rician, smooth_field

BRAIN_TUMOR_LABELS: tuple[str, ...] = ("glioma", "meningioma", "notumor", "pituitary")

# post-contrast T1: like T1 but dura enhances
_T1C = _head._T1_BASE.copy()
_T1C[_head._T_DURA] = 0.55
_INTRACRANIAL = np.zeros(_head._N_TISSUES, dtype=bool)
_INTRACRANIAL[[_head._T_CSF, _head._T_GM, _head._T_WM, _head._T_LV_L, _head._T_LV_R, _head._T_HC_L,
               _head._T_HC_R, _head._T_THAL, _head._T_CAUD, _head._T_PUT, _head._T_PALL, _head._T_CBGM,
               _head._T_CBWM, _head._T_STEM, _head._T_DURA, _head._T_AMYG]] = True
_BRAIN = _INTRACRANIAL.copy()
_BRAIN[[_head._T_CSF, _head._T_LV_L, _head._T_LV_R, _head._T_DURA]] = False

# sella turcica in template mm (below the suprasellar cistern)
_SELLA_T = np.array([0.0, 13.0, -46.0], dtype=np.float32)


def _blob_level(rr: np.ndarray, cc: np.ndarray, r0: float, c0: float, radius_px: float,
                rng: np.random.Generator, irregularity: float, elong: float = 1.0,
                angle: float = 0.0) -> np.ndarray:
    """Normalised radius (< 1 inside) of a blob whose outline is a random Fourier curve."""
    dr, dc = rr - r0, cc - c0
    ca, sa = np.cos(angle), np.sin(angle)
    u = (ca * dc + sa * dr) / elong
    v = -sa * dc + ca * dr
    theta = np.arctan2(v, u)
    rad = np.ones_like(theta)
    for k in range(2, 8):
        amp = irregularity * rng.uniform(0.3, 1.0) / k ** 0.8
        rad += amp * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    return (np.sqrt(u * u + v * v) / (radius_px * np.maximum(rad, 0.35))).astype(np.float32)


def _soft(level: np.ndarray, edge_px: float) -> np.ndarray:
    """0..1 membership of ``level < 1`` with an edge about ``edge_px`` pixels wide (level ~ r/R)."""
    return np.clip(0.5 - (level - 1.0) * 0.5 / max(edge_px, 1e-3), 0.0, 1.0).astype(np.float32)


def _plane_axes(view: str, anatomy: _head.HeadAnatomy, rot_rad: float, px_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """World step vectors per column and per row (radiological convention) for ``view``."""
    if view == "axial":
        u, v = np.array([-1.0, 0, 0]), np.array([0, -1.0, 0])
    elif view == "coronal":
        u, v = np.array([-1.0, 0, 0]), np.array([0, 0, -1.0])
    else:  # sagittal, anterior on the image left
        u, v = np.array([0, -1.0, 0]), np.array([0, 0, -1.0])
    r = anatomy.rotation
    u, v = r @ u, r @ v
    c, s = np.cos(rot_rad), np.sin(rot_rad)
    u2, v2 = c * u + s * v, -s * u + c * v
    return (u2 * px_mm).astype(np.float32), (v2 * px_mm).astype(np.float32)


def template_to_world(anatomy: _head.HeadAnatomy, t: np.ndarray) -> np.ndarray:
    """Template mm (3,) -> world mm (3,) for ``anatomy``."""
    return anatomy.centre + anatomy.rotation @ (np.asarray(t, dtype=np.float64) * anatomy.scale)


def make_brain_slice(seed: int, label: str, size: int = 128, *,
                     anatomy: _head.HeadAnatomy | None = None) -> tuple[np.ndarray, dict]:
    """Generate one T1 post-contrast brain slice of class ``label``.

    Args:
        seed: random seed (slice level, view, tumour, contrast, noise; and anatomy when
            ``anatomy`` is None).
        label: one of :data:`BRAIN_TUMOR_LABELS`.
        size: output side in pixels (square image).
        anatomy: a subject to reuse (datasets build a small pool once; faster).

    Returns:
        ``(image, info)``: image float32 (rows, cols) in [0, 1]; info with ``label``, ``view``,
        ``pixel_mm``, ``tumour_mask`` (bool (rows, cols), empty for notumor),
        ``tumour_center_rc``, ``tumour_radius_mm``, ``seed``.
    """
    if label not in BRAIN_TUMOR_LABELS:
        raise ValueError(f"label must be one of {BRAIN_TUMOR_LABELS}, got {label!r}")
    rng = np.random.default_rng(seed)
    anat_rng, rng = rng.spawn(2)
    if anatomy is None:
        anatomy = _head.HeadAnatomy(anat_rng, atrophy=float(anat_rng.uniform(0.0, 0.35)))
    fov_mm = float(rng.uniform(200.0, 240.0))
    px = fov_mm / size
    rot = float(rng.normal(0.0, np.deg2rad(7.0)))
    # --- view and level ---
    if label == "pituitary":
        view = str(rng.choice(["sagittal", "coronal", "axial"], p=[0.45, 0.35, 0.20]))
    else:
        view = str(rng.choice(["axial", "coronal", "sagittal"], p=[0.55, 0.25, 0.20]))
    t_centre = np.zeros(3, dtype=np.float32)
    if label == "pituitary" or (view != "axial" and rng.random() < 0.25):
        # through the sella, as pituitary protocols (and some routine slices) are
        t_centre[:] = _SELLA_T + rng.normal(0, 1.5, size=3).astype(np.float32)
        if view == "axial":
            t_centre[2] = _SELLA_T[2] + 3.0 + rng.normal(0, 1.5)
        if view == "sagittal":  # just off the midline: medial cortex of one hemisphere, not the fissure
            t_centre[0] = rng.choice([-1.0, 1.0]) * rng.uniform(2.5, 5.0)
    else:
        if view == "axial":
            t_centre[2] = rng.uniform(-30.0, 45.0)
        elif view == "coronal":
            t_centre[1] = rng.uniform(-45.0, 45.0)
        else:
            side = rng.choice([-1.0, 1.0])
            t_centre[0] = side * rng.uniform(8.0, 45.0)
    t_plane = t_centre.copy()
    # keep the head near the image centre: the plane origin sits on the brain axis
    if view == "axial":
        t_plane[:2] = [0.0, -6.0]
    elif view == "coronal":
        t_plane[[0, 2]] = [0.0, -8.0]
    else:
        t_plane[1:] = [-6.0, -8.0]
    centre_w = template_to_world(anatomy, t_plane)
    u_w, v_w = _plane_axes(view, anatomy, rot, px)
    shift = rng.normal(0.0, 4.0, size=2)
    centre_w = centre_w + shift[0] * u_w / px + shift[1] * v_w / px

    rr, cc = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32), indexing="ij")
    offs_c = cc - (size - 1) / 2.0
    offs_r = rr - (size - 1) / 2.0

    def world_of(r_px: np.ndarray, c_px: np.ndarray) -> np.ndarray:
        return (centre_w[None, :] + c_px.ravel()[:, None] * u_w[None, :] + r_px.ravel()[:, None] * v_w[None, :])

    tissue0 = anatomy.tissues(world_of(offs_r, offs_c).astype(np.float32)).reshape(size, size)
    info: dict = {"label": label, "view": view, "pixel_mm": px, "seed": int(seed), "rotation_deg": float(np.rad2deg(rot)),
                  "tumour_center_rc": None, "tumour_radius_mm": 0.0}
    mask = np.zeros((size, size), dtype=bool)

    # sella position on this plane (drawn for every class when the plane passes through it)
    sella_w = template_to_world(anatomy, _SELLA_T)
    normal = np.cross(u_w, v_w)
    normal /= np.linalg.norm(normal)
    sella_dist = float(abs(np.dot(sella_w - centre_w, normal)))
    rel = sella_w - centre_w
    sella_c = float(np.dot(rel, u_w) / px ** 2 + (size - 1) / 2.0)
    sella_r = float(np.dot(rel, v_w) / px ** 2 + (size - 1) / 2.0)

    # --- tumour placement and mass effect (warp of the sampling grid) ---
    tum_r = tum_c = 0.0
    radius_px = 0.0
    if label == "glioma":
        brain = _BRAIN[tissue0] & ~np.isin(tissue0, [_head._T_CBGM, _head._T_CBWM, _head._T_STEM])
        depth = ndimage.distance_transform_edt(brain)
        radius_mm = float(rng.uniform(9.0, 24.0))
        radius_px = radius_mm / px
        cand = np.argwhere((depth > max(radius_px * 0.6, 3)) & (tissue0 == _head._T_WM))
        if cand.size == 0:
            cand = np.argwhere(depth >= depth.max() * 0.7)
        tum_r, tum_c = cand[rng.integers(len(cand))].astype(float)
    elif label == "meningioma":
        intra = _INTRACRANIAL[tissue0]
        inner = ndimage.binary_erosion(intra, iterations=1)
        edge = intra & ~inner
        radius_mm = float(rng.uniform(8.0, 22.0))
        radius_px = radius_mm / px
        use_falx = rng.random() < 0.3 and view in ("axial", "coronal")
        if use_falx:
            # along the midline (falx): pixels whose world x is near the midline, inside the cavity
            # along the falx: midline pixels above the corpus callosum, within reach of the vertex
            pts = world_of(offs_r, offs_c)
            tx, _, tz = anatomy.to_template(*(np.ascontiguousarray(pts[:, k], dtype=np.float32) for k in range(3)))
            d_in = ndimage.distance_transform_edt(intra) * px
            cand = np.argwhere((np.abs(tx.reshape(size, size)) < 1.5) & inner & (tz.reshape(size, size) > 18.0)
                               & (d_in > radius_mm * 0.8) & (d_in < radius_mm + 30.0))
        else:
            cand = np.argwhere(edge)
        if cand.size == 0:  # no falx in this plane: fall back to the convexity
            use_falx = False
            cand = np.argwhere(edge) if edge.any() else np.array([[size // 2, size // 2]])
        er, ec = cand[rng.integers(len(cand))].astype(float)
        if use_falx:
            tum_r, tum_c = er, ec
            side = rng.choice([-1.0, 1.0])
            tum_c += side * radius_px * 0.55
        else:
            # centre slightly inside the inner skull along the inward normal
            dist_in = ndimage.distance_transform_edt(intra)
            gr, gc = np.gradient(ndimage.gaussian_filter(dist_in, 2.0))
            nr, nc = gr[int(er), int(ec)], gc[int(er), int(ec)]
            nn = np.hypot(nr, nc) + 1e-6
            tum_r, tum_c = er + nr / nn * radius_px * 0.45, ec + nc / nn * radius_px * 0.45
    elif label == "pituitary":
        radius_mm = float(rng.uniform(6.0, 14.0))
        radius_px = radius_mm / px
        tum_r = sella_r - radius_px * (0.35 if view != "axial" else 0.0)
        tum_c = sella_c

    warp_r, warp_c = offs_r, offs_c
    if label in ("glioma", "meningioma", "pituitary"):
        # mass effect: sample tissue closer to the centre so that tissue appears pushed outward
        dr = rr - tum_r
        dc = cc - tum_c
        dist = np.sqrt(dr * dr + dc * dc) + 1e-3
        push = {"glioma": 0.55, "meningioma": 0.75, "pituitary": 0.6}[label]
        shrink = 1.0 - push * np.exp(-((dist / (radius_px * 1.6 + 1e-3)) ** 2))
        warp_r = (tum_r - (size - 1) / 2.0) + dr * shrink
        warp_c = (tum_c - (size - 1) / 2.0) + dc * shrink
    tissue = anatomy.tissues(world_of(warp_r, warp_c).astype(np.float32)).reshape(size, size) \
        if label != "notumor" else tissue0

    # --- base image ---
    lut = (_T1C * anatomy.contrast).astype(np.float32)
    lut[_head._T_AIR] = 0.0
    img = lut[tissue]
    img *= 1.0 + 0.04 * smooth_field(rng, (size, size), 4.0)

    # normal sella: bony cup (dark), sphenoid sinus below (air), enhancing gland inside
    if sella_dist < 9.0:
        w = float(np.sqrt(max(0.0, 1.0 - (sella_dist / 9.0) ** 2)))
        g_px = 5.0 * w / px
        if g_px > 1.0:
            lev_cup = np.sqrt(((rr - sella_r) / (g_px * 1.05)) ** 2 + ((cc - sella_c) / (g_px * 1.35)) ** 2)
            cup = (lev_cup < 1.0 + 2.0 / (g_px * px + 1e-3)) & (rr > sella_r - g_px * 0.3)
            img[cup] = lut[_head._T_BONE]
            sinus = np.sqrt(((rr - sella_r - g_px * 2.6) / (g_px * 1.3)) ** 2 + ((cc - sella_c) / (g_px * 1.8)) ** 2) < 1.0
            img[sinus] = 0.03
            gland = (lev_cup < 1.0) & (rr > sella_r - g_px * 0.45)
            img[gland] = 0.72
            if view != "axial":
                stalk = (np.abs(cc - sella_c) < max(0.8, 1.5 / px)) & (rr < sella_r - g_px * 0.4) \
                    & (rr > sella_r - g_px * 0.4 - 9.0 / px)
                img[stalk] = 0.7

    # --- tumour appearance ---
    if label == "glioma":
        oed = _blob_level(rr, cc, tum_r, tum_c, radius_px * rng.uniform(1.5, 2.1), rng, 0.55)
        fingers = smooth_field(rng, (size, size), 3.0)
        oed_m = _soft(oed - 0.12 * fingers, 0.08) * _BRAIN[tissue].astype(np.float32)
        img = img * (1.0 - 0.3 * oed_m)  # vasogenic oedema is T1-hypointense
        lev = _blob_level(rr, cc, tum_r, tum_c, radius_px, rng, 0.45, elong=rng.uniform(0.8, 1.3),
                          angle=rng.uniform(0, np.pi))
        tm = _soft(lev, 0.06)
        tex = smooth_field(rng, (size, size), 2.0)
        if rng.random() < 0.7:  # high-grade look: thick irregular enhancing ring, necrotic core
            core_frac = rng.uniform(0.45, 0.7)
            ring = tm * (1.0 - _soft(lev / core_frac + 0.08 * tex, 0.1))
            core = tm - ring
            val = 0.95 + 0.12 * tex
            img = img * (1 - tm) + tm * (ring / np.maximum(tm, 1e-3) * val + core / np.maximum(tm, 1e-3) * (0.2 + 0.05 * tex))
            info["glioma_grade_look"] = "ring-enhancing"
        else:  # low-grade look: heterogeneous, mostly non-enhancing hypointense mass
            val = 0.38 + 0.12 * tex + 0.25 * (tex > 1.2)
            img = img * (1 - tm) + tm * val
            info["glioma_grade_look"] = "non-enhancing"
        mask = tm > 0.5
    elif label == "meningioma":
        lev = _blob_level(rr, cc, tum_r, tum_c, radius_px, rng, 0.12, elong=rng.uniform(1.0, 1.4),
                          angle=rng.uniform(0, np.pi))
        intra = _INTRACRANIAL[tissue0] | _INTRACRANIAL[tissue]
        intra_d = ndimage.binary_dilation(intra, iterations=1)
        tm = _soft(lev, 0.04) * intra_d
        cleft = (_soft(lev / 1.12, 0.04) - tm).clip(0, 1) * intra_d
        img = img * (1 - cleft) + cleft * lut[_head._T_CSF]
        tex = smooth_field(rng, (size, size), 1.5)
        val = rng.uniform(0.9, 1.05) + 0.03 * tex
        if rng.random() < 0.2:  # occasional calcification speckles
            val = val - 0.4 * (smooth_field(rng, (size, size), 1.0) > 2.0)
        img = img * (1 - tm) + tm * val
        # dural tail: thin enhancing rim along the inner skull surface near the base
        edge = intra & ~ndimage.binary_erosion(intra, iterations=2)
        d_t = np.sqrt((rr - tum_r) ** 2 + (cc - tum_c) ** 2)
        tail_len = radius_px * rng.uniform(1.5, 2.2)
        tail = edge & (d_t < tail_len) & (tm < 0.5)
        taper = np.clip(1.0 - (d_t - radius_px) / (tail_len - radius_px + 1e-3), 0, 1)
        img = np.where(tail, np.maximum(img, 0.55 + 0.35 * taper), img)
        mask = tm > 0.5
    elif label == "pituitary":
        lev1 = _blob_level(rr, cc, tum_r, tum_c, radius_px, rng, 0.08, elong=rng.uniform(0.9, 1.2))
        if view != "axial":
            # snowman: a smaller lobe in the sella below the waist
            lev2 = _blob_level(rr, cc, sella_r + radius_px * 0.15, sella_c, radius_px * 0.62, rng, 0.05)
            lev = np.minimum(lev1, lev2)
        else:
            lev = lev1
        tm = _soft(lev, 0.05)
        tex = smooth_field(rng, (size, size), 1.5)
        val = rng.uniform(0.78, 0.95) + 0.06 * tex
        if rng.random() < 0.3:  # cystic / haemorrhagic component
            val = val - 0.35 * _soft(_blob_level(rr, cc, tum_r, tum_c, radius_px * 0.45, rng, 0.1), 0.1)
        img = img * (1 - tm) + tm * val
        mask = tm > 0.5
    if mask.any():
        # distance from the tumour centre to the inner skull surface (extra- vs intra-axial)
        d_in = ndimage.distance_transform_edt(_INTRACRANIAL[tissue0])
        rc = (int(np.clip(round(tum_r), 0, size - 1)), int(np.clip(round(tum_c), 0, size - 1)))
        info["tumour_to_inner_skull_mm"] = float(d_in[rc] * px)
        info["tumour_center_rc"] = (float(tum_r), float(tum_c))
        info["tumour_radius_mm"] = float(radius_px * px)
    info["tumour_mask"] = mask

    # --- acquisition: blur, bias, noise, contrast ---
    img = ndimage.gaussian_filter(img, rng.uniform(0.5, 0.9))
    img *= np.exp(rng.uniform(0.05, 0.25) * smooth_field(rng, (size, size), size / 3.0))
    img = rician(rng, img, float(rng.uniform(0.01, 0.04)))
    img = np.clip(img / np.float32(np.percentile(img, 99.7) * rng.uniform(1.0, 1.15)), 0.0, 1.0)
    img = img ** np.float32(rng.uniform(0.85, 1.2))
    return img.astype(np.float32), info


def brain_slice_dataset(n: int, seed: int, size: int = 128, *, n_subjects: int = 24,
                        labels: tuple[str, ...] = BRAIN_TUMOR_LABELS) -> tuple[np.ndarray, np.ndarray]:
    """Balanced dataset of ``n`` slices: ``(images float32 (n, size, size), labels int64 (n,))``.

    Label ``k`` indexes ``labels`` (default :data:`BRAIN_TUMOR_LABELS`, alphabetical as in the
    Kaggle folders). Slices come from a pool of ``n_subjects`` random heads (building a head
    costs ~0.3 s; a slice ~0.03 s).
    """
    rng = np.random.default_rng(seed)
    pool_seeds = rng.integers(0, 2**31 - 1, size=max(1, min(n_subjects, n)))
    pool = [_head.HeadAnatomy(np.random.default_rng(int(s)), atrophy=float(np.random.default_rng(int(s) + 1).uniform(0, 0.35)))
            for s in pool_seeds]
    ys = np.array([i % len(labels) for i in range(n)], dtype=np.int64)
    rng.shuffle(ys)
    slice_seeds = rng.integers(0, 2**31 - 1, size=n)
    images = np.empty((n, size, size), dtype=np.float32)
    for i in range(n):
        images[i], _ = make_brain_slice(int(slice_seeds[i]), labels[int(ys[i])], size, anatomy=pool[i % len(pool)])
    return images, ys
