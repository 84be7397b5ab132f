"""Lateral lumbar spine radiograph phantom with VinDr-SpineXR lesion boxes.

Anatomy (pixel space, projection image, bright = dense): T12 (partly) and L1-L5 vertebral
bodies as rounded boxes with a cortical rim, trabecular texture and slightly concave endplates,
on a lordotic curve; disc spaces whose height grows down to L4-L5; pedicles, articular pillars
and spinous processes posteriorly, leaving the intervertebral foramina as dark keyholes; the
sacrum at the bottom; soft tissue, bowel gas, iliac crest and lower ribs in the background.
The anterior side faces the image left (mirrored in about half of the images; boxes follow).

Lesions use the 7 detection classes of VinDr-SpineXR exactly as spelled there
(:data:`SPINE_LESIONS`; FACTS.md section 6). Phantom rules:

* ``Osteophytes``: triangular bony beaks (6-12 mm long, 4-6 mm base) at anterior vertebral
  corners, curving towards the disc.
* ``Surgical implant``: very bright metal: pedicle screws in two adjacent levels joined by a
  rod, or an interbody cage in a disc space.
* ``Spondylolysthesis``: anterior slip (15-35 % of body depth) of L4 on L5 or L5 on S1; the
  box spans both bodies.
* ``Foraminal stenosis``: bony encroachment filling 60-90 % of the width of one foramen plus a
  disc-level bulge; the box bounds the foramen.
* ``Disc space narrowing``: one disc at 20-50 % of its normal height; the box bounds the disc.
* ``Vertebral collapse``: crush (40-65 % height) or anterior wedge (35-60 %) of one body.
* ``Other lesions``: a round sclerotic (bright) or lytic (dark) focus, 9-16 mm across, in a body.

Sizes are phantom rules chosen so every lesion stays visible at the spine models' inputs
(classifiers 256x128, detector 384 px on a 384x192 phantom: >= ~6 input pixels for the smallest
spur), not published measurements.

Boxes are ``(label, x0, y0, x1, y1)`` in pixel-edge coordinates of the displayed image
(x = column, y = row; x1/y1 = last covered column/row + 1), tight around the lesion mask.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from core.synth._fields import smooth_field
from core.synth.dicom import as_dicom_bytes  # noqa: F401  (re-exported for the spine/chest pages)

SPINE_LESIONS: tuple[str, ...] = (
    "Osteophytes", "Surgical implant", "Spondylolysthesis", "Foraminal stenosis", "Disc space narrowing",
    "Vertebral collapse", "Other lesions",
)
_LEVELS = ("T12", "L1", "L2", "L3", "L4", "L5")


class _Frame:
    """Local frame of one vertebra: u posterior (mm), v caudal (mm)."""

    def __init__(self, cx: float, cy: float, angle: float, mm_px: float, xx: np.ndarray, yy: np.ndarray):
        self.cx, self.cy, self.angle = cx, cy, angle
        ca, sa = np.cos(angle), np.sin(angle)
        dx, dy = (xx - cx) * mm_px, (yy - cy) * mm_px
        self.u = (dx * ca + dy * sa).astype(np.float32)
        self.v = (-dx * sa + dy * ca).astype(np.float32)


def _body_level(f: _Frame, w: float, h_ant: float, h_post: float, p: float = 6.0) -> np.ndarray:
    """Superellipse level (< 1 inside) of a vertebral body with anterior/posterior heights."""
    frac = np.clip((f.u + w / 2) / w, 0, 1)
    hh = (h_ant + (h_post - h_ant) * frac) / 2.0
    hh = hh - 0.8 * (1 - (2 * f.u / w) ** 2).clip(0, 1)  # concave endplates
    return ((np.abs(f.u) / (w / 2)) ** p + (np.abs(f.v) / np.maximum(hh, 0.5)) ** p) ** (1 / p)


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    rows = np.nonzero(mask.any(axis=1))[0]
    cols = np.nonzero(mask.any(axis=0))[0]
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def make_spine_xray(seed: int, lesions: list[str] | tuple[str, ...] = (), size: tuple[int, int] = (256, 128)
                    ) -> tuple[np.ndarray, list[tuple[str, int, int, int, int]], dict]:
    """Generate one lateral lumbar spine radiograph phantom.

    Args:
        seed: random seed.
        lesions: lesion classes from :data:`SPINE_LESIONS` (each drawn once; order ignored).
        size: (rows, cols) of the image.

    Returns:
        ``(image, boxes, info)``: image float32 (rows, cols) in [0, 1]; boxes as
        ``(label, x0, y0, x1, y1)`` pixel-edge coordinates; info with ``lesions``, ``levels``
        (per lesion), ``pixel_spacing_mm``, ``flipped``, ``masks`` (label -> bool mask), ``seed``.
    """
    for lesion in lesions:
        if lesion not in SPINE_LESIONS:
            raise ValueError(f"unknown lesion {lesion!r}; known: {SPINE_LESIONS}")
    lesions = tuple(sorted(set(lesions), key=SPINE_LESIONS.index))
    rng = np.random.default_rng(seed)
    rows, cols = int(size[0]), int(size[1])
    mm_px = float(rng.uniform(240.0, 290.0) / rows)  # field about 24-29 cm tall
    yy, xx = np.meshgrid(np.arange(rows, dtype=np.float32), np.arange(cols, dtype=np.float32), indexing="ij")
    dens = np.zeros((rows, cols), dtype=np.float32)
    bone = np.zeros((rows, cols), dtype=np.float32)
    metal = np.zeros((rows, cols), dtype=np.float32)
    masks: dict[str, np.ndarray] = {}
    where: dict[str, str] = {}

    # --- geometry along a lordotic curve ---
    n = len(_LEVELS)
    heights = np.array([24.0, 25.0, 26.0, 27.0, 27.5, 27.0]) * rng.normal(1.0, 0.05)
    depths = np.array([34.0, 36.0, 38.0, 40.0, 42.0, 44.0]) * rng.normal(1.0, 0.06)
    discs = np.array([6.5, 8.0, 9.0, 10.0, 11.0, 10.0]) * rng.normal(1.0, 0.08, size=6)  # below each level
    lordosis = np.deg2rad(rng.uniform(35.0, 55.0))
    # tangent angle (positive: heading anteriorly going down); the lordotic apex (most anterior
    # point) falls around L3-L4, where the angle changes sign
    angles = lordosis * rng.uniform(0.5, 0.65) - lordosis * np.linspace(0, 1, n + 1) ** 1.2
    lesion_level: dict[str, int] = {}
    if "Disc space narrowing" in lesions:
        k = int(rng.choice([2, 3, 4, 5], p=[0.15, 0.25, 0.35, 0.25]))
        discs[k] *= rng.uniform(0.2, 0.5)
        lesion_level["Disc space narrowing"] = k
    collapse = None
    if "Vertebral collapse" in lesions:
        k = int(rng.choice([1, 2, 3, 4], p=[0.35, 0.3, 0.2, 0.15]))
        if rng.random() < 0.5:
            collapse = (k, rng.uniform(0.4, 0.65), None)  # crush: both heights
        else:
            collapse = (k, None, rng.uniform(0.35, 0.6))  # anterior wedge
        lesion_level["Vertebral collapse"] = k
    slip_mm = 0.0
    slip_k = -1
    if "Spondylolysthesis" in lesions:
        slip_k = int(rng.choice([4, 5], p=[0.55, 0.45]))
        slip_mm = float(rng.uniform(0.15, 0.35) * depths[slip_k])
        lesion_level["Spondylolysthesis"] = slip_k

    x_start = cols * rng.uniform(0.38, 0.46)
    y_start = -heights[0] * 0.35 / mm_px
    frames: list[_Frame] = []
    body_h: list[tuple[float, float]] = []
    pos = np.array([x_start, y_start])
    centres = []
    for i in range(n):
        a = angles[i]
        t = np.array([-np.sin(a), np.cos(a)])
        h_a = h_p = heights[i]
        if collapse is not None and collapse[0] == i:
            if collapse[1] is not None:
                h_a = h_p = heights[i] * collapse[1]
            else:
                h_a = heights[i] * collapse[2]
        hmean = (h_a + h_p) / 2
        c = pos + t * (hmean / 2) / mm_px
        centres.append(c)
        body_h.append((h_a, h_p))
        a_next = (angles[i] + angles[i + 1]) / 2
        t_next = np.array([-np.sin(a_next), np.cos(a_next)])
        pos = c + t * (hmean / 2) / mm_px + t_next * discs[i] / mm_px
    # centre the construct: the posterior elements reach ~75 mm behind the body centre, so the
    # bodies sit ~22 mm anterior of the image centre (room for an anterior slip), plus jitter
    dx = cols / 2.0 - 22.0 / mm_px + rng.normal(0.0, 3.0 / mm_px) - float(np.mean([c[0] for c in centres]))
    centres = [c + np.array([dx, 0.0]) for c in centres]
    pos = pos + np.array([dx, 0.0])
    s_top = pos.copy()  # centre of the S1 endplate
    # slip: everything above the lower level moves anteriorly (image left before flipping)
    if slip_k >= 0:
        for i in range(slip_k):
            ca, sa = np.cos(angles[slip_k]), np.sin(angles[slip_k])
            centres[i] = centres[i] - np.array([ca, sa]) * slip_mm / mm_px
    for i in range(n):
        frames.append(_Frame(float(centres[i][0]), float(centres[i][1]), float(angles[i]), mm_px, xx, yy))

    # --- soft tissue background ---
    post_skin = cols * rng.uniform(0.9, 1.1)
    dens += 1.0 + 0.15 * np.clip((post_skin - xx) / cols, 0, 1)
    dens *= (xx < post_skin)
    gas = smooth_field(rng, (rows, cols), 6.0)
    dens -= 0.18 * np.clip(gas - 1.0, 0, None) * (xx < cols * 0.3)  # bowel gas, anterior
    # iliac crest: a broad arc over the lower lumbar levels
    ic_y = centres[4][1] + rng.uniform(-0.3, 0.3) * heights[4] / mm_px
    ic_cx, ic_r = cols * rng.uniform(0.55, 0.75), rows * 0.45
    ic_d = np.sqrt((xx - ic_cx) ** 2 + (yy - ic_y - ic_r) ** 2)
    arc_zone = np.abs(xx - ic_cx) < cols * 0.4
    bone += 0.12 * np.exp(-((ic_d - ic_r) / 2.5) ** 2) * arc_zone
    bone += 0.07 * (ic_d < ic_r) * arc_zone
    for k in range(2):  # lower ribs crossing the top
        ry = rows * (0.02 + 0.09 * k) + rng.normal(0, 2)
        bone += 0.08 * np.exp(-((yy - ry - 0.35 * (xx - cols * 0.5)) / 2.2) ** 2) * (xx > cols * 0.45)

    # --- vertebrae ---
    body_masks = []
    tex = smooth_field(rng, (rows, cols), 1.5)  # trabecular texture
    for i, f in enumerate(frames):
        w = depths[i]
        h_a, h_p = body_h[i]
        lev = _body_level(f, w, h_a, h_p)
        inside = lev < 1.0
        rim = inside & (lev > 1.0 - 1.8 / min(w / 2, min(h_a, h_p) / 2))
        bone += inside * (0.42 + 0.05 * tex) + 0.25 * rim
        body_masks.append(inside)
        hh = h_p / 2
        # pedicle (upper posterior), articular pillar, spinous process
        ped = (f.u > w / 2 - 1) & (f.u < w / 2 + 11) & (f.v > -hh + 1) & (f.v < -hh + 0.5 * h_p)
        pillar = (f.u > w / 2 + 9) & (f.u < w / 2 + 24) & (f.v > -hh - 4) & (f.v < hh + 1)
        sp_len = rng.uniform(28.0, 36.0)
        spin = (f.u > w / 2 + 20) & (f.u < w / 2 + 20 + sp_len) & \
            (np.abs(f.v - 0.05 * h_p) < (0.32 * h_p) * (1.0 - 0.4 * (f.u - w / 2 - 20) / sp_len))
        bone += 0.32 * ped + 0.3 * pillar + 0.26 * spin
    # sacrum: S1 endplate at the bottom of the L5-S1 disc, axis tilted posteriorly (sacral
    # slope ~35-50 deg), tapering and curving anteriorly towards the coccyx
    s_ang = float(angles[n] - np.deg2rad(rng.uniform(12.0, 24.0)))
    fs = _Frame(float(s_top[0]), float(s_top[1]), s_ang, mm_px, xx, yy)
    w_s = depths[-1] * 1.05
    sv = fs.v
    u_c = w_s * 0.0 - 0.0025 * sv ** 2
    half = (w_s / 2) * np.clip(1.0 - 0.6 * sv / 110.0, 0.3, 1.0)
    sac = (sv > 0) & (sv < 110) & (np.abs(fs.u - u_c) < half)
    sac_rim = sac & ~ndimage.binary_erosion(sac, iterations=2)
    segs = sac & (np.min(np.abs(sv[..., None] - np.array([22.0, 42.0, 60.0, 76.0])), axis=-1) < 1.0)
    bone += 0.32 * sac + 0.18 * sac_rim - 0.08 * segs
    body_masks.append(sac)

    # --- lesions (masks first, drawn into bone/metal) ---
    if "Osteophytes" in lesions:
        # Anterior marginal osteophytes ("traction"/"claw" spurs): a triangular bony beak growing
        # from a vertebral corner, 6-12 mm beyond the anterior wall with a 4-6 mm base; spurs of
        # that size are what a reader calls osteophytes on a lateral film (small lippings of 1-2 mm
        # are not annotated), and they stay >= ~5 input pixels long at a 256-row model input.
        spur = np.zeros((rows, cols), dtype=bool)
        cand = [(i, s) for i in range(1, n) for s in (-1, 1)]
        picks = rng.choice(len(cand), size=int(rng.integers(1, 4)), replace=False)
        for p in picks:
            i, s = cand[int(p)]
            f = frames[i]
            w = depths[i]
            h_a = body_h[i][0]
            length = rng.uniform(6.0, 12.0)
            thick = rng.uniform(4.0, 6.0) / 2.0  # half base height
            du = -(f.u + w / 2)  # mm anterior of the anterior wall
            v0 = s * (h_a / 2 - thick)  # base flush with the endplate corner
            centre_v = v0 + s * np.clip(du, 0, None) * 0.45  # curving towards the disc
            taper = 1 - np.clip(du, 0, None) / length
            beak = (du > -1.5) & (du < length) & (np.abs(f.v - centre_v) < thick * taper + 0.4)
            spur |= beak
        bone += 0.5 * spur * (bone < 0.6)
        masks["Osteophytes"] = spur
        where["Osteophytes"] = ",".join(_LEVELS[cand[int(p)][0]] for p in picks)
    if "Foraminal stenosis" in lesions:
        i = int(rng.choice([2, 3, 4]))
        f = frames[i]
        w, h_p = depths[i], body_h[i][1]
        foramen = (f.u > w / 2 + 0.5) & (f.u < w / 2 + 9.5) & (f.v > -h_p / 2 + 0.5 * h_p) & \
            (f.v < h_p / 2 + discs[i] + 2.0) & (bone < 0.3)
        # bony encroachment from the facet side (posterior) plus a disc-osteophyte bulge at the
        # disc level (anterior), leaving a narrow dark slit: phantom rule, 60-90 % of the width filled
        fill = foramen & (f.u > w / 2 + 0.5 + 9.0 * (1 - rng.uniform(0.6, 0.9)))
        fill |= foramen & (f.v > h_p / 2 + discs[i] * 0.2) & (f.u < w / 2 + 6)
        bone += 0.45 * fill
        masks["Foraminal stenosis"] = foramen
        where["Foraminal stenosis"] = f"{_LEVELS[i]}-{_LEVELS[i + 1] if i + 1 < n else 'S1'}"
    if "Other lesions" in lesions:
        i = int(rng.integers(1, n))
        f = frames[i]
        r = rng.uniform(4.5, 8.0)  # 9-16 mm focus: >= ~8 px across at a 256-row model input
        uc = rng.uniform(-depths[i] / 4, depths[i] / 4)
        vc = rng.uniform(-body_h[i][1] / 5, body_h[i][1] / 5)
        foc = ((f.u - uc) ** 2 + (f.v - vc) ** 2) < r * r
        sclerotic = rng.random() < 0.5
        bone += (0.35 if sclerotic else -0.3) * foc
        masks["Other lesions"] = foc
        where["Other lesions"] = f"{_LEVELS[i]} {'sclerotic' if sclerotic else 'lytic'}"
    if "Surgical implant" in lesions:
        imp = np.zeros((rows, cols), dtype=bool)
        if rng.random() < 0.65:  # pedicle screws + rod
            lo = int(rng.choice([3, 4]))
            heads = []
            for i in (lo, lo + 1):
                f = frames[i]
                w = depths[i]
                ang = rng.normal(0.0, 0.08)
                vv = f.v - (-body_h[i][1] / 2 + 0.3 * body_h[i][1]) - ang * f.u
                screw = (f.u > -w * 0.3) & (f.u < w / 2 + 24) & (np.abs(vv) < 2.6)
                imp |= screw
                heads.append(np.array([f.cx, f.cy]) + (np.array([np.cos(f.angle), np.sin(f.angle)]) * (w / 2 + 22)
                                                       + np.array([-np.sin(f.angle), np.cos(f.angle)])
                                                       * (-body_h[i][1] / 2 + 0.3 * body_h[i][1])) / mm_px)
            a, b = heads
            d = b - a
            tt = np.clip(((xx - a[0]) * d[0] + (yy - a[1]) * d[1]) / (d @ d), -0.15, 1.15)
            dist = np.hypot(xx - (a[0] + tt * d[0]), yy - (a[1] + tt * d[1])) * mm_px
            imp |= dist < 3.0
            where["Surgical implant"] = f"screws {_LEVELS[lo]}-{_LEVELS[lo + 1]}"
        else:  # interbody cage
            i = int(rng.choice([3, 4]))
            f = frames[i]
            w, h_p = depths[i], body_h[i][1]
            vv = f.v - (h_p / 2 + discs[i] / 2)
            box = (np.abs(f.u) < w * 0.35) & (np.abs(vv) < max(discs[i] / 2 - 0.5, 2.5))
            inner = (np.abs(f.u) < w * 0.35 - 1.5) & (np.abs(vv) < max(discs[i] / 2 - 2.0, 1.0))
            imp |= box & ~inner
            where["Surgical implant"] = f"cage {_LEVELS[i]}-{_LEVELS[i + 1] if i + 1 < n else 'S1'}"
        metal += 2.5 * imp
        masks["Surgical implant"] = imp
    if "Disc space narrowing" in lesions:
        k = lesion_level["Disc space narrowing"]
        fa = frames[k]
        below_mask = body_masks[k + 1]
        fb = frames[k + 1] if k + 1 < n else fs
        w = min(depths[k], depths[min(k + 1, n - 1)])
        disc = (np.abs(fa.u) < w / 2) & (fa.v > 0) & ~body_masks[k] & (fb.v < 0) & ~below_mask & (np.abs(fb.u) < w / 2)
        masks["Disc space narrowing"] = disc
        where["Disc space narrowing"] = f"{_LEVELS[k]}-{_LEVELS[k + 1] if k + 1 < n else 'S1'}"
    if "Vertebral collapse" in lesions:
        k = lesion_level["Vertebral collapse"]
        masks["Vertebral collapse"] = body_masks[k]
        where["Vertebral collapse"] = _LEVELS[k]
    if "Spondylolysthesis" in lesions:
        k = lesion_level["Spondylolysthesis"]
        masks["Spondylolysthesis"] = body_masks[k - 1] | body_masks[k]
        where["Spondylolysthesis"] = f"{_LEVELS[k - 1]} on {_LEVELS[k]}"

    # --- image formation ---
    total = dens * 0.6 + bone + metal
    kexp = rng.uniform(1.1, 1.5)
    img = 1.0 - np.exp(-kexp * np.clip(total, 0, None))
    img = ndimage.gaussian_filter(img, rng.uniform(0.5, 0.9))
    img *= 1.0 + 0.08 * smooth_field(rng, (rows, cols), rows / 3.0)
    img += rng.normal(0.0, rng.uniform(0.006, 0.02), size=img.shape).astype(np.float32)
    lo, hi = np.percentile(img, [0.5, 99.9])
    img = np.clip((img - lo) / max(hi - lo, 1e-6), 0, 1) ** rng.uniform(0.8, 1.3)

    flipped = bool(rng.random() < 0.5)
    boxes: list[tuple[str, int, int, int, int]] = []
    for lesion in lesions:
        m = masks[lesion]
        if flipped:
            m = m[:, ::-1]
            masks[lesion] = m
        if lesion == "Osteophytes":  # one box per spur (separate instances)
            comp, k = ndimage.label(m, structure=np.ones((3, 3)))
            for j in range(1, k + 1):
                bb = _bbox(comp == j)
                if bb is not None:
                    boxes.append((lesion, *bb))
            continue
        bb = _bbox(m)
        if bb is not None:
            boxes.append((lesion, *bb))
    if flipped:
        img = img[:, ::-1]
    info = {"lesions": list(lesions), "levels": where, "pixel_spacing_mm": mm_px, "flipped": flipped,
            "masks": masks, "seed": int(seed), "view": "lateral lumbar",
            "boxes": [{"label": b[0], "x0": b[1], "y0": b[2], "x1": b[3], "y1": b[4]} for b in boxes]}
    return np.ascontiguousarray(img, dtype=np.float32), boxes, info


def sample_lesions(rng: np.random.Generator, abnormal_fraction: float = 0.5) -> list[str]:
    """Draw a lesion list: none with probability ``1 - abnormal_fraction``, else 1-3 classes.

    Surgical implant and disc space narrowing are drawn a little more often (phantom rule).
    """
    if rng.random() >= abnormal_fraction:
        return []
    weights = np.array([0.22, 0.12, 0.12, 0.12, 0.16, 0.14, 0.12])
    k = int(rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]))
    return [SPINE_LESIONS[j] for j in rng.choice(len(SPINE_LESIONS), size=k, replace=False, p=weights / weights.sum())]


def make_spine_case(seed: int, abnormal_fraction: float = 0.5, size: tuple[int, int] = (256, 128)
                    ) -> tuple[np.ndarray, dict]:
    """One radiograph with lesions drawn from ``seed``: ``(image, info)``.

    ``info["boxes"]`` holds dicts ``{"label", "x0", "y0", "x1", "y1"}`` (pixel-edge coordinates);
    the rest of ``info`` is as in :func:`make_spine_xray`. Handy for detector training loops.
    """
    rng = np.random.default_rng([int(seed), 99])
    image, _, info = make_spine_xray(int(seed), sample_lesions(rng, abnormal_fraction), size)
    return image, info


def spine_dataset(n: int, seed: int, abnormal_fraction: float = 0.5, size: tuple[int, int] = (256, 128)
                  ) -> tuple[np.ndarray, np.ndarray, list[list[tuple[str, int, int, int, int]]]]:
    """Dataset of ``n`` radiographs: ``(images (n, rows, cols), abnormal int64 (n,), boxes per image)``.

    Abnormal images carry 1-3 lesion classes (surgical implant and osteophytes a little more
    often, as in VinDr-SpineXR's box counts; phantom rule).
    """
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, 2**31 - 1, size=n)
    images = np.empty((n, int(size[0]), int(size[1])), dtype=np.float32)
    abnormal = np.zeros(n, dtype=np.int64)
    all_boxes = []
    for i in range(n):
        les = sample_lesions(rng, abnormal_fraction)
        abnormal[i] = int(bool(les))
        images[i], boxes, _ = make_spine_xray(int(seeds[i]), les, size)
        all_boxes.append(boxes)
    return images, abnormal, all_boxes
