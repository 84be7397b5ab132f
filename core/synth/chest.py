"""PA chest radiograph phantom with CheXpert/NIH-named findings.

The image is a projection: each structure adds (bone, soft tissue, fluid) or removes (air)
attenuation along the beam, and the displayed value is ``1 - exp(-k * density)`` (bright =
attenuating), shown in the standard PA convention (patient's right on the image left).
Normal anatomy: lungs (dark, with branching vascular markings from the hila), mediastinum,
trachea, aortic knob, heart, posterior and anterior ribs, clavicles, spine, diaphragm domes
(right higher), sharp costophrenic angles, soft tissues and shoulders.

Findings (:data:`CHEST_FINDINGS`; phantom rules, not diagnostic criteria):

* ``Cardiomegaly``: heart width / inner thoracic width (cardiothoracic ratio, CTR) 0.52-0.66;
  normal hearts are drawn with CTR 0.36-0.47. ``info["ctr"]`` is measured from the masks.
* ``Pleural Effusion`` (NIH: ``Effusion``): dependent fluid at one or both lung bases that
  fills (blunts) the costophrenic angle, effaces the hemidiaphragm and has a meniscus rising
  laterally.
* ``Nodule``: one to three round well-defined solid opacities, 15-30 mm (a nodule is <= 3 cm,
  Fleischner glossary); the lower bound is a phantom choice so each spans >= 5 px at 128 px
  (most nodules under 1 cm are not seen on radiographs at all).
* ``Mass``: one round or lobulated opacity of 40-70 mm (a mass is > 3 cm, Fleischner glossary;
  the 30-40 mm gap keeps the two labels apart at phantom resolution).
* ``Consolidation``: a dense lobar/segmental airspace opacity (about as dense as pleural fluid)
  bounded by a straight fissure on one side, vessels effaced, with branching air bronchograms.
* ``Pneumothorax``: a lucent rim without lung markings between the chest wall and a thin
  visceral pleural line (collapsed lung edge), usually apicolateral.
* ``Atelectasis``: linear/plate-like or wedge opacity in a lower zone with volume loss
  (elevated hemidiaphragm on that side).
* ``Edema``: bilateral perihilar ("bat-wing") haze with indistinct vessels and Kerley B lines.

Every finding is drawn where it can be seen: nodules and masses lie wholly inside aerated
lung (not behind the heart, the hila, fluid or consolidation), and each finding's mask has a
minimum size, so a label is never set for an invisible lesion.

Nodule/mass size definitions: Hansell DM et al., "Fleischner Society: glossary of terms for
thoracic imaging", Radiology 2008;246(3):697-722 (nodule: rounded opacity up to 3 cm; mass:
larger than 3 cm). Chest width ~330 mm sets the mm -> pixel scale (phantom rule).

Derived labels in ``info``: ``Lung Opacity`` (any of Consolidation, Atelectasis, Edema, Nodule,
Mass; as CheXpert's parent label) and ``No Finding``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from core.synth._fields import smooth_field
from core.synth.dicom import as_dicom_bytes  # noqa: F401  (re-exported for the spine/chest pages)

CHEST_FINDINGS: tuple[str, ...] = (
    "Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion", "Pneumothorax", "Nodule", "Mass",
)
# NIH ChestX-ray14 / torchxrayvision spellings accepted as input
FINDING_ALIASES: dict[str, str] = {"Effusion": "Pleural Effusion", "Infiltration": "Consolidation"}

# Dataset co-occurrence: base prevalence and pairs that travel together (phantom rule).
_PREVALENCE = {"Atelectasis": 0.16, "Cardiomegaly": 0.16, "Consolidation": 0.12, "Edema": 0.12,
               "Pleural Effusion": 0.18, "Pneumothorax": 0.10, "Nodule": 0.10, "Mass": 0.07}
_COOCCUR = [("Edema", "Cardiomegaly", 0.55), ("Edema", "Pleural Effusion", 0.5),
            ("Atelectasis", "Pleural Effusion", 0.35), ("Consolidation", "Pleural Effusion", 0.25),
            ("Cardiomegaly", "Pleural Effusion", 0.3)]


def _canon(findings: set[str] | list[str] | tuple[str, ...]) -> set[str]:
    out = set()
    for f in findings:
        f = FINDING_ALIASES.get(f, f)
        if f not in CHEST_FINDINGS:
            raise ValueError(f"unknown chest finding {f!r}; known: {CHEST_FINDINGS} (aliases {list(FINDING_ALIASES)})")
        out.add(f)
    return out


def _disc(xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    return ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2


def make_chest_xray(seed: int, findings: set[str] | list[str] | tuple[str, ...] = (), size: int = 128
                    ) -> tuple[np.ndarray, dict]:
    """Generate one PA chest radiograph phantom.

    Args:
        seed: random seed (anatomy, finding placement, exposure, noise).
        findings: names from :data:`CHEST_FINDINGS` (NIH aliases in :data:`FINDING_ALIASES` accepted).
        size: output side in pixels (square).

    Returns:
        ``(image, info)``: image float32 (rows, cols) in [0, 1], bright = dense; info with
        ``findings`` (sorted list), ``labels`` (dict name -> 0/1 incl. derived ``Lung Opacity``
        and ``No Finding``), ``ctr`` (measured), ``masks`` (bool (rows, cols): lungs, heart
        and one per finding), ``mm_per_px`` (phantom pixel size), ``seed``.
    """
    fset = _canon(findings)
    rng = np.random.default_rng(seed)
    n = size
    # normalised coordinates: x in [-1, 1] (image left = patient right), y in [0, 1] top -> bottom
    ys, xs = np.meshgrid(np.linspace(0.0, 1.0, n, dtype=np.float32), np.linspace(-1.0, 1.0, n, dtype=np.float32),
                         indexing="ij")
    tilt = rng.normal(0.0, 0.03)
    xx = xs * np.cos(tilt) - (ys - 0.5) * np.sin(tilt) + rng.normal(0, 0.02)
    yy = (ys - 0.5) * np.cos(tilt) + xs * np.sin(tilt) * 0.5 + 0.5 + rng.normal(0, 0.015)
    px_norm = 2.0 / n  # x-units per pixel

    w_body = rng.uniform(0.86, 0.97)
    w_in = w_body - rng.uniform(0.08, 0.11)  # inner rib margin (thoracic width / 2)
    apex_y = rng.uniform(0.10, 0.15)
    dome_r = rng.uniform(0.66, 0.72)  # right hemidiaphragm (image left) higher
    dome_l = dome_r + rng.uniform(0.015, 0.045)
    masks: dict[str, np.ndarray] = {}

    if "Atelectasis" in fset:
        atel_side = int(rng.choice([-1, 1]))
        if atel_side < 0:
            dome_r -= rng.uniform(0.03, 0.06)
        else:
            dome_l -= rng.uniform(0.03, 0.06)

    # --- heart and mediastinum ---
    ctr_target = rng.uniform(0.52, 0.66) if "Cardiomegaly" in fset else rng.uniform(0.36, 0.47)
    heart_w = ctr_target * 2.0 * w_in
    h_left = 0.64 * heart_w  # extent to patient's left (image right, +x)
    h_right = heart_w - h_left
    h_cx = (h_left - h_right) / 2.0
    h_cy = rng.uniform(0.58, 0.62) + (0.03 if "Cardiomegaly" in fset else 0.0)
    h_ry = rng.uniform(0.13, 0.16) * (1.1 if "Cardiomegaly" in fset else 1.0)
    # silhouette: left ventricle (large, image right), right atrium (smaller bulge, image left)
    # and a waist towards the great vessels; the extremes set the cardiothoracic ratio
    left_edge, right_edge = h_cx + heart_w / 2.0, h_cx - heart_w / 2.0
    lv = _disc(xx, yy, left_edge - 0.36 * heart_w, h_cy + 0.02, 0.36 * heart_w, h_ry) < 1.0
    ra = _disc(xx, yy, right_edge + 0.2 * heart_w, h_cy, 0.2 * heart_w, 0.75 * h_ry) < 1.0
    mid = _disc(xx, yy, h_cx, h_cy + 0.01, 0.3 * heart_w, 1.05 * h_ry) < 1.0
    heart = (lv | ra | mid) & (yy > 0.40)
    med_w = rng.uniform(0.10, 0.13)
    mediast = (np.abs(xx - 0.01) < med_w + 0.04 * np.clip((yy - 0.2) / 0.3, 0, 1)) & (yy < 0.62)
    aortic = _disc(xx, yy, med_w + 0.04, 0.33, 0.05, 0.04) < 1.0
    medi = mediast | aortic | heart

    # --- lungs ---
    def lung(sign: int, dome: float) -> np.ndarray:
        ax = xx * sign  # positive towards this lung's lateral side
        lat = w_in * (1.0 - np.exp(-np.clip(yy - apex_y, 0, None) / 0.11))
        top = apex_y + 0.25 * ((ax - 0.42 * w_in) / (0.5 * w_in)) ** 2
        bottom = dome + 0.22 * ((ax - 0.42 * w_in) / w_in) ** 2
        return (ax > 0.04) & (ax < lat) & (yy > top) & (yy < bottom)

    lung_r = lung(-1, dome_r) & ~medi
    lung_l = lung(1, dome_l) & ~medi
    lungs = lung_r | lung_l
    masks["lungs"] = lungs
    masks["heart"] = heart
    # measured CTR: widest heart extent / inner thoracic width at the domes
    cols_h = np.nonzero(heart.any(axis=0))[0]
    cols_l = np.nonzero(lungs.any(axis=0))[0]
    ctr = float((cols_h.max() - cols_h.min() + 1) / (cols_l.max() - cols_l.min() + 1)) if cols_h.size and cols_l.size else 0.0

    # --- densities ---
    body = np.sqrt(np.clip(1.0 - (xx / w_body) ** 2, 0.0, 1.0))
    shoulders = np.clip(1.0 - np.abs(yy - 0.06) / 0.12, 0, 1) * (np.abs(xx) > 0.55)
    dens = 1.0 * body + 0.5 * shoulders
    # humeral heads and the lateral scapular borders in the upper corners
    for sign in (-1, 1):
        hh = _disc(xx, yy, sign * rng.uniform(0.9, 0.97), rng.uniform(0.08, 0.12), 0.1, 0.06)
        dens += 0.35 * np.clip(1.0 - hh, 0, 1) ** 0.5
        scap = np.abs(xx * sign - (0.78 - 0.25 * (yy - 0.1))) < 0.012
        dens += 0.08 * (scap & (yy > 0.1) & (yy < 0.45))
    lung_soft = ndimage.gaussian_filter(lungs.astype(np.float32), 1.2 / px_norm * 0.03)
    lung_depth = ndimage.distance_transform_edt(lungs).astype(np.float32)
    lung_depth = np.sqrt(np.clip(lung_depth / (0.12 / px_norm), 0, 1))
    dens -= 0.55 * lung_soft + 0.3 * lung_depth * lung_soft
    dens += 0.1 * ndimage.gaussian_filter(heart.astype(np.float32), 1.0)
    dens += 0.15 * ndimage.gaussian_filter(medi.astype(np.float32), 1.0)
    trachea = (np.abs(xx - 0.01) < 0.025) & (yy < 0.38) & (yy > 0.02)
    dens -= 0.15 * ndimage.gaussian_filter(trachea.astype(np.float32), 0.8)
    # below the diaphragm: abdomen (dense); gastric bubble under the left dome
    if rng.random() < 0.7:
        bubble = _disc(xx, yy, 0.35 * w_in, dome_l + 0.08, 0.09, 0.04) < 1.0
        dens -= 0.2 * ndimage.gaussian_filter(bubble.astype(np.float32), 1.0)
    # spine through the mediastinum
    spine = (np.abs(xx - 0.01) < 0.07)
    vb = 0.5 + 0.5 * np.cos(2 * np.pi * yy / rng.uniform(0.075, 0.09))
    dens += spine * (0.12 + 0.05 * vb)

    # vascular markings: branches radiating from each hilum, fading to the periphery
    # drawn as dense polylines into a canvas, then blurred (fast at any size)
    vessels = np.zeros_like(xx)
    for sign in (-1, 1):
        hx, hy = sign * rng.uniform(0.16, 0.22), rng.uniform(0.42, 0.48)
        for _ in range(30):
            ang = rng.uniform(-1.9, 1.9)  # around the lateral direction, up to steeply up/down
            length = rng.uniform(0.25, 0.6)
            bend = rng.normal(0, 0.3)
            t = np.linspace(0, 1, 4 * n)
            px = hx + sign * np.cos(ang + bend * t) * length * t
            py = hy + np.sin(ang + bend * t) * length * t
            col = np.clip(((px + 1.0) / 2.0 * (n - 1)).round().astype(int), 0, n - 1)
            row = np.clip((py * (n - 1)).round().astype(int), 0, n - 1)
            np.maximum.at(vessels, (row, col), (1.0 - 0.8 * t).astype(np.float32))
    vessels = ndimage.gaussian_filter(vessels, max(0.6, n / 200.0)) * 2.0
    hila = sum(np.exp(-_disc(xx, yy, s * 0.2, 0.45, 0.05, 0.06)) for s in (-1, 1))
    markings = (np.clip(vessels, 0, 1) * 0.25 + 0.08 * hila) * lung_soft

    # --- findings ---
    fluid = np.zeros_like(xx)
    lesion = np.zeros_like(xx)

    if "Pneumothorax" in fset:
        side = int(rng.choice([-1, 1]))
        lung_side = lung_r if side < 0 else lung_l
        # distance from the chest wall and apex only (medial structures count as inside)
        medial = (xx * side < 0.2 * w_in) & (yy > apex_y)
        depth_in = ndimage.distance_transform_edt(lung_side | medi | medial) * px_norm
        rim = rng.uniform(0.06, 0.14)
        # apicolateral: the gap is widest at the apex and lateral wall
        ax = xx * side
        weight = np.clip(1.2 - (yy - apex_y) / 0.55, 0.3, 1.2) * np.clip(0.4 + ax / w_in, 0.3, 1.0)
        dome = dome_r if side < 0 else dome_l
        upper = yy < dome - 0.06
        ptx = lung_side & (depth_in < rim * weight) & upper
        line = lung_side & (depth_in >= rim * weight) & (depth_in < rim * weight + 1.3 * px_norm) & upper
        markings = markings * ~ptx
        dens -= 0.12 * ptx
        lesion += 0.12 * line
        masks["Pneumothorax"] = ptx
    if "Pleural Effusion" in fset:
        sides = [int(rng.choice([-1, 1]))] if rng.random() < 0.6 else [-1, 1]
        eff = np.zeros_like(lungs)
        for side in sides:
            lung_side = lung_r if side < 0 else lung_l
            dome = dome_r if side < 0 else dome_l
            level = dome - rng.uniform(0.04, 0.16)
            ax = xx * side
            meniscus = level - 0.2 * np.clip(ax / w_in, 0, 1) ** 3  # rises along the lateral wall
            full = lung(side, dome + 0.02) & ~medi
            eff |= full & (yy > meniscus)
        fluid += 0.8 * ndimage.gaussian_filter(eff.astype(np.float32), 1.0)
        masks["Pleural Effusion"] = eff
    if "Consolidation" in fset:
        side = int(rng.choice([-1, 1]))
        lung_side = lung_r if side < 0 else lung_l
        # lobar/segmental: a straight fissure-like boundary splits the lung into an upper and a
        # lower zone; the opacity fills part or all of one zone and stops sharply at the fissure
        fissure = yy < rng.uniform(0.40, 0.50) + rng.normal(0.0, 0.08) * xx * side
        zone = lung_side & (fissure if rng.random() < 0.5 else ~fissure)
        rz, cz = np.nonzero(zone)
        cons = zone
        if rz.size:
            cy, cx = yy[int(rz.mean()), int(cz.mean())], xx[int(rz.mean()), int(cz.mean())]
            rx, ry = rng.uniform(0.22, 0.4), rng.uniform(0.12, 0.22)
            irregular = 0.35 * smooth_field(rng, (n, n), n / 10)
            for _ in range(4):  # grow until it is at least a segment (>= 35 % of the zone)
                cons = zone & ((_disc(xx, yy, cx, cy, rx, ry) + irregular) < 1.0)
                if cons.sum() >= 0.35 * rz.size:
                    break
                rx, ry = rx * 1.3, ry * 1.3
        patch = ndimage.gaussian_filter(cons.astype(np.float32), 0.6 * n / 128)
        dens_cons = rng.uniform(0.65, 0.85)  # airspaces filled: about as dense as pleural fluid (0.8)
        markings = markings * (1.0 - 0.85 * patch)  # vessels effaced inside the opacity
        # air bronchograms: branching lucent tubes converging on the hilum, seen only inside the opacity
        bronch = np.zeros_like(xx)
        rc = np.argwhere(ndimage.binary_erosion(cons, iterations=2))
        hr, hc = 0.45 * (n - 1), (side * 0.2 + 1.0) / 2.0 * (n - 1)
        for _ in range(int(rng.integers(5, 10)) if len(rc) else 0):
            tr, tc = rc[rng.integers(len(rc))]
            t = np.linspace(0.0, 1.25, 3 * n)
            bend = rng.normal(0, 0.05) * n * np.sin(np.pi * np.clip(t, 0, 1))
            row = np.clip((hr + (tr - hr) * t + bend).round().astype(int), 0, n - 1)
            col = np.clip((hc + (tc - hc) * t - bend).round().astype(int), 0, n - 1)
            bronch[row, col] = 1.0
        bronch = ndimage.gaussian_filter(bronch, 0.5 * n / 128) * ndimage.binary_erosion(cons, iterations=1)
        lesion += dens_cons * patch - 0.45 * dens_cons * np.clip(bronch * 2.0, 0, 1)
        masks["Consolidation"] = cons
    if "Atelectasis" in fset:
        side = atel_side
        lung_side = lung_r if side < 0 else lung_l
        for name in ("Pleural Effusion", "Consolidation"):  # a band under fluid/consolidation is not seen
            if name in masks:
                lung_side = lung_side & ~masks[name]
        dome = dome_r if side < 0 else dome_l
        cy = dome - rng.uniform(0.06, 0.12)
        ang = rng.normal(0.0, 0.15)
        thick = rng.uniform(0.012, 0.025)
        wedge_too = rng.random() < 0.5
        min_px = 0.004 * n * n  # visible: at least ~65 px at 128 px (phantom rule)
        for _ in range(6):  # move up until the band crosses enough visible lung (not behind heart or fluid)
            row = lung_side[int(np.clip(cy, 0, 1) * (n - 1))]
            bx = float(xx[int(cy * (n - 1)), np.nonzero(row)[0]].mean()) if row.any() else side * 0.45 * w_in
            d_line = np.abs((yy - cy) * np.cos(ang) - (xx - bx) * np.sin(ang))
            band = (d_line < thick) & lung_side & (np.abs(xx - bx) < 0.3)
            if wedge_too:  # wedge towards the hilum
                wedge = lung_side & (yy > cy - 0.02) & (np.abs(xx) < np.abs(bx) + (yy - cy) * 1.5) & (np.abs(xx) > 0.15)
                band |= wedge
            if band.sum() >= min_px:
                break
            cy -= 0.03
        lesion += 0.5 * ndimage.gaussian_filter(band.astype(np.float32), 0.8)
        masks["Atelectasis"] = band
    if "Edema" in fset:
        haze = sum(np.exp(-_disc(xx, yy, s * 0.28, 0.47, 0.28, 0.2)) for s in (-1, 1)) * lung_soft
        lesion += rng.uniform(0.28, 0.4) * haze
        kerley = np.zeros_like(lungs)
        for side in (-1, 1):
            for k in range(int(rng.integers(3, 7))):
                ky = (dome_r if side < 0 else dome_l) - rng.uniform(0.02, 0.15)
                kerley |= (np.abs(yy - ky) < 0.004) & (xx * side > w_in - rng.uniform(0.06, 0.12)) & (xx * side < w_in)
        lesion += 0.15 * (kerley & lungs)
        markings = ndimage.gaussian_filter(markings, 1.2)  # indistinct vessels
        masks["Edema"] = (haze > 0.45) & lungs
    # Nodules and masses only where they can be seen: wholly inside aerated lung, away from the
    # hila and from fluid, consolidation, collapse and pneumothorax (a lesion hidden there
    # would be a label without a visible finding).
    hidden = np.zeros_like(lungs)
    for name in ("Pleural Effusion", "Consolidation", "Atelectasis", "Pneumothorax"):
        if name in masks:
            hidden |= ndimage.binary_dilation(masks[name], iterations=2)
    hidden |= sum(_disc(xx, yy, s * 0.2, 0.45, 0.1, 0.08) for s in (-1, 1)) < 1.5  # hilar vessels
    mm_per_px = 330.0 / (w_body * n)  # chest (2 * w_body x-units) ~330 mm wide over n / 2 px per x-unit
    rows_px, cols_px = np.mgrid[0:n, 0:n].astype(np.float32)
    # Fleischner glossary (Hansell 2008): nodule <= 30 mm, mass > 30 mm; see the module docstring
    for name, d_mm, dens_range in (("Nodule", (15.0, 30.0), (0.6, 0.8)), ("Mass", (40.0, 70.0), (0.7, 0.9))):
        if name not in fset:
            continue
        m = np.zeros_like(lungs)
        count = int(rng.integers(1, 4)) if name == "Nodule" else 1
        for _ in range(count):
            rad_px = rng.uniform(*d_mm) / 2.0 / mm_per_px
            free = ndimage.distance_transform_edt(lungs & ~hidden)
            cand = np.argwhere(free >= rad_px + 1.0)
            if not len(cand):  # no room: the largest that fits, never below the finding's minimum size
                rad_px = max(d_mm[0] / 2.0 / mm_per_px, float(free.max()) - 1.0)
                cand = np.argwhere(free >= free.max() - 0.5)
            r0, c0 = cand[rng.integers(len(cand))]
            lobul = 1.0 + (0.12 * smooth_field(rng, (n, n), n / 12) if name == "Mass" else 0.0)
            lev = (((rows_px - r0) ** 2 + (cols_px - c0) ** 2) / rad_px ** 2) / lobul
            m |= lev < 1.0
            # a solid sphere: projected thickness ~ sqrt(1 - r^2), sharp (well-defined) margin
            lesion += rng.uniform(*dens_range) * np.sqrt(np.clip(1.0 - lev, 0, 1))
            hidden |= ndimage.binary_dilation(lev < 1.0, iterations=3)  # lesions do not overlap
        markings = markings * ~m
        masks[name] = m

    # --- bones ---
    bones = np.zeros_like(xx)
    n_ribs = 10
    rib_gap = (max(dome_r, dome_l) - apex_y + 0.05) / n_ribs
    for i in range(n_ribs):
        y0 = apex_y - 0.03 + i * rib_gap + rng.normal(0, 0.004)
        for sign in (-1, 1):
            ax = xx * sign
            s = np.clip(ax / w_body, 0, 1.2)
            yc = y0 - 0.03 * s + 0.16 * s ** 2  # posterior rib: out from the spine, curving down
            th = 0.016 + 0.004 * s
            d = np.abs(yy - yc) / th
            prof = np.sqrt(np.clip(1 - d * d, 0, 1)) * 0.6 + 0.4 * np.exp(-((d - 0.9) / 0.15) ** 2)
            bones += 0.22 * prof * (ax > 0.06) * (ax < w_body * 1.02)
            # anterior rib: from the lateral wall going medially and downward (fainter)
            ya = y0 + 0.02 + 0.16 * np.clip(1 - s, 0, 1) ** 1.5 + 0.04
            da = np.abs(yy - ya) / 0.018
            bones += 0.10 * np.sqrt(np.clip(1 - da * da, 0, 1)) * (ax > 0.25) * (ax < w_in)
    for sign in (-1, 1):  # clavicles: S-curve from the sternal end to the shoulder
        ax = xx * sign
        yc = 0.12 + 0.02 * np.sin(np.clip(ax, 0, 0.8) / 0.8 * 2 * np.pi) - 0.04 * ax
        d = np.abs(yy - yc) / 0.02
        bones += 0.3 * np.sqrt(np.clip(1 - d * d, 0, 1)) * (ax > 0.05) * (ax < 0.75)
    dens += bones * np.clip(body * 2.0, 0, 1)

    dens += markings + fluid + lesion
    # soft tissue fills the region under the domes (no lung there) automatically via body density
    k = rng.uniform(0.9, 1.3)
    img = 1.0 - np.exp(-k * np.clip(dens, 0, None))
    img = ndimage.gaussian_filter(img, rng.uniform(0.4, 0.8))
    img *= 1.0 + 0.06 * smooth_field(rng, (n, n), n / 2.5)  # heel effect / uneven exposure
    img += rng.normal(0.0, rng.uniform(0.005, 0.02), size=img.shape)
    lo, hi = np.percentile(img, [0.5, 99.8])
    img = np.clip((img - lo) / max(hi - lo, 1e-6), 0, 1) ** rng.uniform(0.8, 1.25)

    flist = sorted(fset)
    labels = {f: int(f in fset) for f in CHEST_FINDINGS}
    labels["Lung Opacity"] = int(bool(fset & {"Consolidation", "Atelectasis", "Edema", "Nodule", "Mass"}))
    labels["No Finding"] = int(not fset)
    info = {"findings": flist, "labels": labels, "ctr": ctr, "ctr_target": float(ctr_target), "masks": masks,
            "mm_per_px": float(mm_per_px), "seed": int(seed)}
    return img.astype(np.float32), info


def sample_findings(rng: np.random.Generator, normal_fraction: float = 0.35) -> set[str]:
    """Draw a realistic finding set: a share of normals, base prevalences and co-occurrence."""
    if rng.random() < normal_fraction:
        return set()
    out = {f for f, p in _PREVALENCE.items() if rng.random() < p * 1.4}
    for a, b, p in _COOCCUR:
        if a in out and rng.random() < p:
            out.add(b)
    if not out:
        out.add(str(rng.choice(CHEST_FINDINGS)))
    if "Mass" in out and "Nodule" in out and rng.random() < 0.7:
        out.discard("Nodule")
    return out


def chest_dataset(n: int, seed: int, labels: tuple[str, ...] = CHEST_FINDINGS, size: int = 128,
                  normal_fraction: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """Multi-label dataset: ``(images float32 (n, size, size), targets float32 (n, len(labels)))``.

    ``labels`` may include the derived ``"Lung Opacity"`` and ``"No Finding"`` and NIH aliases.
    """
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, 2**31 - 1, size=n)
    images = np.empty((n, size, size), dtype=np.float32)
    targets = np.zeros((n, len(labels)), dtype=np.float32)
    names = [FINDING_ALIASES.get(lab, lab) for lab in labels]
    for i in range(n):
        f = sample_findings(rng, normal_fraction)
        images[i], info = make_chest_xray(int(seeds[i]), f, size)
        targets[i] = [info["labels"][name] for name in names]
    return images, targets
