"""Deterministic T1-weighted head phantom with a labelled ground truth.

The head is built from implicit (coordinate-based) rules in a *template frame*: millimetres
around the brain centre, x to the subject's right, y anterior, z superior, roughly MNI152
minus (0, -17, 16). Each subject gets a random size (ICV about 1.2-1.8 L), shape, pose and
left/right asymmetry; every structure is then a rule evaluated at world points, so the same
anatomy can be sampled on a 3D grid (:func:`make_head_phantom`) or on a 2D plane
(:func:`sample_plane`, used by the brain tumour slice generator).

Label map (``LABELS``; ``HeadPhantom.labels`` is uint8 (X, Y, Z) on the scan grid):

====  ==========================  ==========================================================
code  name                        contents
====  ==========================  ==========================================================
0     background                  air
1     scalp_skull                 scalp, fat, skull, diploe, muscle, face, eyes, neck
2     csf                         extra-cerebral and sulcal CSF, cisterns, 3rd ventricle, dura
3     cortex                      cerebral cortical grey matter (incl. insula)
4     white_matter                cerebral and cerebellar white matter
5     lateral_ventricle_left      left lateral ventricle (x < 0, RAS)
6     lateral_ventricle_right     right lateral ventricle
7     hippocampus_left            left hippocampus
8     hippocampus_right           right hippocampus
9     deep_gm                     thalamus, caudate, putamen, pallidum, amygdala
10    cerebellar_cortex           cerebellar grey matter
11    brainstem                   midbrain, pons, medulla inside the skull
====  ==========================  ==========================================================

Volume keys (``HeadPhantom.volumes_ml``, computed from the label map, mL):
``icv`` labels 2-11; ``csf`` 2, 5, 6; ``gm`` 3, 7, 8, 9, 10; ``wm`` 4, 11; ``brain`` gm + wm;
``cortex`` 3; ``deep_gm`` 9; ``cerebellar_cortex`` 10; ``brainstem`` 11;
``hippocampus_left`` 7; ``hippocampus_right`` 8; ``hippocampus`` 7 + 8;
``lateral_ventricle_left`` 5; ``lateral_ventricle_right`` 6; ``lateral_ventricles`` 5 + 6.

Atrophy (``atrophy`` in [0, 1]) is a phantom rule, not a clinical model. Per unit of atrophy:
ventricle cross-sections widen by 1.75x (lateral-ventricle volume ~x2.8), hippocampal
volume falls 38 % (the medial temporal lobe shrinks about it, core.synth.mtl), cortical thickness falls 25 %, sulcal
half-width grows 0.6 -> 1.2 mm, extra-cerebral CSF 1.6 -> 2.8 mm, fissures and the third
ventricle widen. Measured on one subject at atrophy 0 -> 1 (2 mm grid): brain -21 %,
cortex -35 %, CSF x1.9. The random draws do not depend on ``atrophy``: the same seed at two
atrophy levels is the same subject, progressed.

Anatomy rules (template mm): cerebrum cavity = ellipsoid 68 x 86 x 62 with low-order shape
terms, a raised anterior-fossa floor and a posterior-fossa ellipsoid; skull 5-7.5 mm, scalp
4-7 mm; cortex = 2.4-2.7 mm GM ribbon along the convexity and the medial surface, sulci = borders
of blue-noise (Poisson-disk) cells on the sphere, 10.5-12.5 mm apart, 13-25 mm deep, sheared
with depth; interhemispheric fissure above the corpus-callosum arch; Sylvian fissures down to
the insula; lateral ventricles = tubes of ellipsoids along anatomical centrelines; hippocampi and
amygdalae = the FreeSurfer aseg structures of MNI152 with MNI-shaped tissue within 7 mm of them
(:mod:`core.synth.mtl`); thalamus, caudate, putamen, pallidum as ellipsoids; cerebellum with folia around a WM core; brainstem; face, orbits and neck.
Subject size: ICV drawn from N(1.47 L, 0.13) clipped to 1.22-1.76 L.
"""

from __future__ import annotations

import gzip
import io
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from scipy import ndimage

from core.synth._fields import rician, sha256_of, smooth_field
from core.synth.mtl import paint_mtl, subject_scales
from core.types import Modality, Scan

LABELS: dict[int, str] = {
    0: "background",
    1: "scalp_skull",
    2: "csf",
    3: "cortex",
    4: "white_matter",
    5: "lateral_ventricle_left",
    6: "lateral_ventricle_right",
    7: "hippocampus_left",
    8: "hippocampus_right",
    9: "deep_gm",
    10: "cerebellar_cortex",
    11: "brainstem",
}

# Volume groups: key -> label codes (see module docstring).
VOLUME_GROUPS: dict[str, tuple[int, ...]] = {
    "icv": (2, 3, 4, 5, 6, 7, 8, 9, 10, 11),
    "brain": (3, 4, 7, 8, 9, 10, 11),
    "gm": (3, 7, 8, 9, 10),
    "wm": (4, 11),
    "csf": (2, 5, 6),
    "cortex": (3,),
    "deep_gm": (9,),
    "cerebellar_cortex": (10,),
    "brainstem": (11,),
    "hippocampus_left": (7,),
    "hippocampus_right": (8,),
    "hippocampus": (7, 8),
    "lateral_ventricle_left": (5,),
    "lateral_ventricle_right": (6,),
    "lateral_ventricles": (5, 6),
}

# Fine tissue codes drive intensities; each maps onto one label above.
_T_AIR, _T_SKIN, _T_BONE, _T_DIPLOE, _T_MUSCLE = 0, 1, 2, 3, 4
_T_CSF, _T_GM, _T_WM, _T_LV_L, _T_LV_R, _T_HC_L, _T_HC_R = 5, 6, 7, 8, 9, 10, 11
_T_THAL, _T_CAUD, _T_PUT, _T_PALL, _T_CBGM, _T_CBWM, _T_STEM = 12, 13, 14, 15, 16, 17, 18
_T_DURA, _T_VITREOUS, _T_ORBFAT, _T_AMYG = 19, 20, 21, 22
_N_TISSUES = 23

_MTL_CODES = {"csf": _T_CSF, "gm": _T_GM, "wm": _T_WM, "hippocampus_left": _T_HC_L,
              "hippocampus_right": _T_HC_R, "amygdala": _T_AMYG, "lateral_ventricle_left": _T_LV_L,
              "lateral_ventricle_right": _T_LV_R}

_TISSUE_TO_LABEL = np.array(
    [0, 1, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9, 10, 4, 11, 2, 1, 1, 9], dtype=np.uint8
)

# Relative T1 (MPRAGE-like) signal per tissue: WM bright > GM > CSF dark; fat bright, bone dark.
_T1_BASE = np.array(
    [
        0.0,   # air
        0.95,  # skin / subcutaneous fat
        0.06,  # cortical bone
        0.55,  # diploe (fatty marrow)
        0.36,  # muscle / soft tissue
        0.12,  # CSF
        0.47,  # cortical GM
        0.85,  # WM
        0.12, 0.12,  # lateral ventricles
        0.48, 0.48,  # hippocampi
        0.60,  # thalamus
        0.54,  # caudate
        0.57,  # putamen
        0.68,  # pallidum
        0.52,  # cerebellar cortex
        0.76,  # cerebellar WM
        0.74,  # brainstem
        0.20,  # dura / tentorium
        0.10,  # vitreous
        0.92,  # orbital fat
        0.52,  # amygdala
    ],
    dtype=np.float32,
)


@dataclass(frozen=True)
class HeadPhantom:
    """A generated T1 head with its ground truth.

    Attributes:
        scan: the T1 image as a :class:`core.types.Scan` (C=1, RAS+ affine, modality MR).
        labels: uint8 label map (X, Y, Z) on the scan grid; codes in :data:`LABELS`.
        volumes_ml: structure volumes in mL computed from ``labels`` (keys in :data:`VOLUME_GROUPS`).
        params: every parameter that produced the phantom (seed, atrophy, sampled anatomy).
        reference_ml: reference volumes that are not label groups: ``temporal_horns`` (the
            part of the lateral-ventricle label inside the temporal-horn tube and outside the
            body tube) and ``lateral_ventricles_fs`` (lateral ventricles without it: the
            FreeSurfer Lateral-Ventricle definition, whose Inf-Lat-Vent is separate).
    """

    scan: Scan
    labels: np.ndarray
    volumes_ml: Mapping[str, float]
    params: Mapping[str, Any] = field(default_factory=dict)
    reference_ml: Mapping[str, float] = field(default_factory=dict)


def volumes_from_labels(labels: np.ndarray, voxel_volume_mm3: float) -> dict[str, float]:
    """Volumes in mL of every group in :data:`VOLUME_GROUPS` from a label map."""
    counts = np.bincount(labels.ravel().astype(np.int64), minlength=len(LABELS))
    return {
        key: float(sum(int(counts[c]) for c in codes) * voxel_volume_mm3 / 1000.0)
        for key, codes in VOLUME_GROUPS.items()
    }


def stage_params(stage: int, rng: np.random.Generator) -> dict[str, float]:
    """Sample an atrophy level for one of the 4 dementia classes of the OASIS/Kaggle set.

    PHANTOM RULE, NOT CLINICAL: stage 0..3 (Non-Demented, Very Mild Dementia, Mild Dementia,
    Moderate Dementia) maps onto overlapping but ordered atrophy ranges so that a classifier
    trained on phantoms has to cope with ambiguous neighbours, as on real data:
    0 -> 0.00-0.30, 1 -> 0.20-0.55, 2 -> 0.45-0.80, 3 -> 0.70-1.00 (uniform).

    Args:
        stage: class index 0..3.
        rng: random generator.

    Returns:
        ``{"atrophy": float, "stage": int}`` to pass into :func:`make_head_phantom`.
    """
    ranges = {0: (0.0, 0.30), 1: (0.20, 0.55), 2: (0.45, 0.80), 3: (0.70, 1.00)}
    if stage not in ranges:
        raise ValueError(f"stage must be 0..3, got {stage!r}")
    lo, hi = ranges[stage]
    return {"atrophy": float(rng.uniform(lo, hi)), "stage": int(stage)}


STAGE_NAMES: tuple[str, ...] = ("Non-Demented", "Very Mild Dementia", "Mild Dementia", "Moderate Dementia")


# ----------------------------------------------------------------------------------------
# Anatomy: random subject parameters and the rules that label points
# ----------------------------------------------------------------------------------------

# Template cerebrum/cavity radii (mm): MNI-like brain half-extents.
_A0, _B0, _C0 = 68.0, 86.0, 62.0
_NOISE_HALF = 84.0  # half-size of the coarse noise cubes (template units)
_NOISE_CELL = 2.0  # their cell size


def _mirror(points: list[tuple[float, ...]], sign: float) -> np.ndarray:
    arr = np.array(points, dtype=np.float32)
    arr[:, 0] *= sign
    return arr


def _densify(ctrl: np.ndarray, step: float = 1.2) -> np.ndarray:
    """Linearly resample a polyline of rows (x, y, z, rx, ry, rz) at about ``step`` mm."""
    out = [ctrl[0]]
    for a, b in zip(ctrl[:-1], ctrl[1:]):
        n = max(1, int(np.ceil(np.linalg.norm(b[:3] - a[:3]) / step)))
        for k in range(1, n + 1):
            out.append(a + (b - a) * (k / n))
    return np.array(out, dtype=np.float32)


class HeadAnatomy:
    """One random subject: geometry rules evaluated at arbitrary world points (mm, RAS)."""

    def __init__(self, rng: np.random.Generator, atrophy: float = 0.0, icv_target_l: float | None = None):
        if not 0.0 <= atrophy <= 1.0:
            raise ValueError(f"atrophy must be in [0, 1], got {atrophy!r}")
        self.atrophy = float(atrophy)
        a = self.atrophy
        # --- subject draws (independent of atrophy so that one seed = one subject) ---
        icv_draw = float(np.clip(rng.normal(1.47, 0.13), 1.22, 1.76))
        icv_l = icv_target_l if icv_target_l is not None else icv_draw
        # template cavity volume ~1.56 L (ellipsoid + posterior fossa, measured) -> isotropic scale
        self.scale_iso = float((icv_l / 1.56) ** (1.0 / 3.0))
        axis_jit = rng.normal(1.0, 0.035, size=3)
        self.scale = (self.scale_iso * axis_jit / np.cbrt(np.prod(axis_jit))).astype(np.float64)
        angles = rng.normal(0.0, np.deg2rad(3.0), size=3)
        self.rotation = _rotation(*angles)
        self.centre = np.array([rng.normal(0, 2.0), rng.normal(-2.0, 2.0), rng.normal(6.0, 2.0)])
        self.shape_coef = [float(v) for v in rng.normal(0.0, 0.025, size=6)]
        self.skull_mm = float(rng.uniform(5.0, 7.5))
        self.scalp_mm = float(rng.uniform(4.0, 7.0))
        self.gm_mm_base = float(rng.normal(2.55, 0.12))
        self.vent_factor = float(np.exp(rng.normal(0.0, 0.22)))
        self.vent_asym = float(rng.normal(0.0, 0.06))
        self.hc_factor = float(np.clip(rng.normal(1.0, 0.07), 0.82, 1.18))
        self.hc_asym = float(rng.normal(0.035, 0.03))  # right hippocampus slightly larger on average
        self.sulc_depth_mm = float(rng.uniform(19.0, 25.0))
        self.contrast = rng.normal(1.0, 0.04, size=_N_TISSUES).astype(np.float32)
        self.fissure_bend = float(rng.normal(0.0, 1.5))
        noise = rng.standard_normal((3,) + (int(2 * _NOISE_HALF / _NOISE_CELL) + 1,) * 3).astype(np.float32)
        # sulcal pattern: gyri are cells of a Poisson-disk (blue-noise) point set on the sphere;
        # sulci are the cell borders (Worley / Voronoi), so their distance is exact and their
        # spacing regular (~gyral width), and a smooth warp makes them wavy
        self.gyral_spacing_mm = float(rng.uniform(10.5, 12.5))
        self._sulc2d = _sulcal_map(rng, self.gyral_spacing_mm / _R_SULC / 1.15)
        d = ndimage.gaussian_filter(noise[1], 9.0 / _NOISE_CELL)
        self._depth = (d / d.std()).astype(np.float32)
        fol = ndimage.gaussian_filter(noise[2], 4.0 / _NOISE_CELL)
        self._folia_phase = (fol / fol.std()).astype(np.float32)

        # --- atrophy-driven geometry (phantom rules) ---
        self.gm_mm = self.gm_mm_base * (1.0 - 0.25 * a)
        self.sulc_half_mm = 0.6 + 0.6 * a
        self.csf_gap_mm = 1.6 + 1.2 * a
        self.fissure_half_mm = 1.0 + 1.0 * a
        self.sylvian_half_mm = 1.0 + 1.5 * a
        self.third_vent_half_mm = 1.2 + 2.3 * a
        self.vent_cross = 1.0 + 0.75 * a  # cross-section radii -> ~3x volume at a = 1
        self._build_tubes()
        # Hippocampi and amygdalae are the FreeSurfer aseg structures carried from MNI space
        # (core.synth.mtl); hippocampal volume falls 38 % at a = 1.
        hc_size = {side: self.hc_factor * (1.0 + sign * self.hc_asym / 2) for side, sign in (("left", -1.0), ("right", 1.0))}
        self.mtl_scales = subject_scales(hc_size, a)

    # --- structures -------------------------------------------------------------------
    def _build_tubes(self) -> None:
        vs = self.vent_factor
        # Lateral ventricle centreline (right side, template mm) with radii (rx, ry, rz).
        body = [
            (6.0, 46, -4, 3.5, 4.0, 4.5),    # frontal horn tip
            (6.5, 36, 0, 4.5, 5.0, 6.5),     # frontal horn (comma in coronal view)
            (7.0, 22, 4, 5.0, 5.0, 4.5),     # body, anterior
            (8.0, 6, 6, 6.0, 5.0, 3.6),      # body (flat roof under the corpus callosum)
            (11.5, -9, 6, 6.5, 5.0, 4.0),    # body, posterior
            (21.0, -24, 0, 6.5, 6.0, 6.5),   # atrium / trigone
            (19.0, -38, -2, 3.5, 4.0, 4.0),  # occipital horn
            (17.0, -46, -3, 2.2, 3.0, 2.5),
        ]
        temporal = [
            (21.0, -24, 0, 6.0, 5.0, 6.0),
            (29.0, -20, -9, 4.0, 4.0, 4.0),
            (33.0, -10, -18, 3.0, 4.0, 3.0),
            (34.0, 0, -23, 2.6, 4.0, 2.4),
            (33.0, 9, -27, 2.0, 3.0, 1.8),
        ]
        self.ventricles: dict[str, np.ndarray] = {}
        self.ventricle_tubes: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # (body, temporal horn)
        for side, sign in (("left", -1.0), ("right", 1.0)):
            vside = vs * (1.0 + sign * self.vent_asym / 2)
            tubes = []
            for ctrl in (body, temporal):
                c = _mirror(ctrl, sign)
                cross = self.vent_cross * np.sqrt(vside)
                c[:, 3] *= cross
                c[:, 5] *= cross
                # medial parts (septum side) move outward as the ventricle widens
                medial = np.abs(c[:, 0]) < 13
                grow = c[:, 3] - np.array([p[3] for p in ctrl], dtype=np.float32)
                c[medial, 0] += sign * 0.9 * grow[medial]
                tubes.append(_densify(c))
            self.ventricles[side] = np.concatenate(tubes)
            self.ventricle_tubes[side] = (tubes[0], tubes[1])

        def ell(c: tuple[float, float, float], r: tuple[float, float, float]) -> np.ndarray:
            return np.array([[*c, *r]], dtype=np.float32)

        self.deep: list[tuple[int, np.ndarray]] = []
        for sign in (-1.0, 1.0):
            s = sign
            self.deep += [
                (_T_THAL, ell((s * 11.0, -1.0, -8.0), (7.0, 13.5, 8.0))),
                (_T_CAUD, ell((s * 13.5, 31.0, -5.0), (5.5, 8.5, 7.5))),
                (_T_CAUD, _densify(np.array([[s * 15.5, 24, 2, 4.0, 5, 4.0], [s * 17.0, 8, 7, 3.2, 5, 3.0],
                                             [s * 19.0, -8, 8, 2.4, 4, 2.2]], dtype=np.float32))),
                (_T_PUT, ell((s * 25.0, 19.0, -15.0), (5.5, 13.0, 9.0))),
                (_T_PALL, ell((s * 19.0, 15.0, -17.0), (3.5, 7.0, 5.0))),
            ]

    # --- geometry helpers ---------------------------------------------------------------
    def to_template(self, wx: np.ndarray, wy: np.ndarray, wz: np.ndarray) -> tuple[np.ndarray, ...]:
        """World mm -> template mm, ``S^-1 R^T (p - c)``, as three contiguous float32 arrays."""
        r = self.rotation
        c = self.centre
        dx = wx - np.float32(c[0])
        dy = wy - np.float32(c[1])
        dz = wz - np.float32(c[2])
        out = []
        for k in range(3):
            f = 1.0 / float(self.scale[k])
            out.append(dx * np.float32(r[0, k] * f) + dy * np.float32(r[1, k] * f) + dz * np.float32(r[2, k] * f))
        return tuple(out)

    def _sample(self, vol: np.ndarray, pts: np.ndarray) -> np.ndarray:
        idx = (pts.T + _NOISE_HALF) / _NOISE_CELL
        return ndimage.map_coordinates(vol, idx, order=1, mode="nearest").astype(np.float32)

    def _cavity_depth(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Approximate depth (template mm, > 0 inside) below the inner skull surface."""
        rho = np.sqrt(x * x + y * y + z * z) + 1e-3
        ux, uy, uz = x / rho, y / rho, z / rho
        c = self.shape_coef
        # low-order shape variation; occipital a little wider than frontal
        m = 1.0 + c[0] * (ux * ux - uy * uy) + c[1] * ux * uz + c[2] * uy * uz + c[3] * uz * uz \
            + c[4] * uy - 0.03 * uy + c[5] * ux
        q = np.sqrt((x / _A0) ** 2 + (y / _B0) ** 2 + (z / _C0) ** 2) / m
        d_cer = rho * (1.0 / np.maximum(q, 1e-3) - 1.0)
        # the floor and the posterior fossa only change points low in the head (cheaper on a subset);
        # above z = -5 the floor is > 31 mm away, deeper than any cortical rule looks
        lo = np.nonzero(z < -5.0)[0]
        if lo.size:
            xl, yl, zl = x[lo], y[lo], z[lo]
            # anterior cranial fossa floor is higher than the middle/posterior fossae
            floor = -36.0 - 18.0 / (1.0 + np.exp((yl - 18.0) / 5.0))
            dl = np.minimum(d_cer[lo], zl - floor)
            # posterior fossa (cerebellum)
            xf, yf, zf = xl / 50.0, (yl + 46.0) / 29.0, (zl + 50.0) / 21.0
            qf = np.sqrt(xf * xf + yf * yf + zf * zf)
            rf = np.sqrt(xl * xl + (yl + 46.0) ** 2 + (zl + 50.0) ** 2) + 1e-3
            d_cer[lo] = np.maximum(dl, rf * (1.0 / np.maximum(qf, 1e-3) - 1.0))
        return d_cer

    def tentorium_z(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Height of the tentorium (template mm): a tent, highest at the midline."""
        ax = np.abs(x)
        return -27.0 + 0.22 * (y + 45.0) - 14.0 * (x / 50.0) ** 2 - 0.2 * ax

    # --- main rule ----------------------------------------------------------------------
    def tissues(self, pts_world: np.ndarray) -> np.ndarray:
        """Fine tissue code (uint8) for each world point (N, 3) in mm."""
        pts = np.asarray(pts_world, dtype=np.float32)
        return self.tissues_xyz(*(np.ascontiguousarray(pts[:, k]) for k in range(3)))

    def tissues_xyz(self, wx: np.ndarray, wy: np.ndarray, wz: np.ndarray) -> np.ndarray:
        """Fine tissue code (uint8) for world coordinates given as three flat float32 arrays (mm)."""
        n = wx.shape[0]
        out = np.zeros(n, dtype=np.uint8)
        x, y, z = self.to_template(wx, wy, wz)
        s = float(self.scale_iso)
        # quick reject: far outside any head part
        near = (np.abs(x) < 100) & (np.abs(y) < 120) & (z > -150) & (z < 95)
        idx = np.nonzero(near)[0]
        if idx.size == 0:
            return out
        x, y, z = x[idx], y[idx], z[idx]
        sub = np.zeros(idx.size, dtype=np.uint8)
        d_cav = self._cavity_depth(x, y, z) * s  # mm
        # extracranial tissues: skull and scalp shell, plus face and neck
        skull_in = d_cav > -self.skull_mm
        head = d_cav > -(self.skull_mm + self.scalp_mm)
        dip = (d_cav < -0.3 * self.skull_mm) & (d_cav > -0.7 * self.skull_mm)
        sub[head] = _T_SKIN
        sub[skull_in] = _T_BONE
        sub[skull_in & dip] = _T_DIPLOE
        # face/orbits and neck below the cavity (soft tissue with skin); only low points qualify
        lo = np.nonzero(z < -15.0)[0]
        if lo.size:
            xl, yl, zl, dl = x[lo], y[lo], z[lo], d_cav[lo]
            sl = sub[lo]
            face = ((xl / 60.0) ** 2 + ((yl - 48.0) / 46.0) ** 2 + ((zl + 62.0) / 38.0) ** 2) < 1.0
            neck = (((xl / 50.0) ** 2 + ((yl + 12.0) / 52.0) ** 2) < 1.0) & (zl < -45.0)
            face_skin = ((xl / 66.0) ** 2 + ((yl - 48.0) / 52.0) ** 2 + ((zl + 62.0) / 44.0) ** 2) < 1.0
            neck_skin = (((xl / 56.0) ** 2 + ((yl + 12.0) / 58.0) ** 2) < 1.0) & (zl < -45.0)
            soft = (face | neck) & (dl <= -self.skull_mm)
            sl[(face_skin | neck_skin) & (sl == 0)] = _T_SKIN
            sl[soft] = _T_MUSCLE
            # facial skeleton: air sinuses (dark) and marrow-filled bone (brighter) in the face
            fi = np.nonzero(soft & face & (zl > -95.0))[0]
            if fi.size:
                tex = self._sample(self._folia_phase, np.stack([xl[fi], yl[fi] * 0.8, zl[fi]], axis=1) * 0.7)
                fsub = sl[fi]
                fsub[tex > 0.9] = _T_AIR
                fsub[tex < -0.8] = _T_DIPLOE
                sl[fi] = fsub
            for sx in (-1.0, 1.0):
                r2 = (xl - sx * 32.0) ** 2 + (yl - 70.0) ** 2 + (zl + 50.0) ** 2
                sl[(r2 < 17.0 ** 2) & face] = _T_ORBFAT
                sl[r2 < 11.5 ** 2] = _T_VITREOUS
            sub[lo] = sl
        # intracranial
        inside = d_cav > 0
        ii = np.nonzero(inside)[0]
        if ii.size:
            sub[ii] = self._intracranial(x[ii], y[ii], z[ii], d_cav[ii])
        out[idx] = sub
        return out

    def _intracranial(self, x: np.ndarray, y: np.ndarray, z: np.ndarray, d_cav: np.ndarray) -> np.ndarray:
        s = float(self.scale_iso)
        res = np.full(x.shape, _T_CSF, dtype=np.uint8)
        zt = self.tentorium_z(x, y)
        post = y < -12.0
        below = post & (z < zt)
        tent_half = 0.8 + 0.6 * self.atrophy
        dura = post & (np.abs(z - zt) * s < tent_half) & (y < -15.0)
        # --- brainstem (cylinder along a bent axis) ---
        stem_y = -10.0 - 0.25 * np.clip(-(z + 20.0), 0, None)
        stem_r = np.where(z > -30, 11.0, np.where(z > -58, 12.5, 8.5))
        in_stem = ((x / stem_r) ** 2 + ((y - stem_y) / (stem_r * 1.15)) ** 2 < 1.0) & (z < -14.0)
        # --- cerebrum ---
        cer = ~below & ~dura & ~in_stem
        d_b = d_cav - self.csf_gap_mm
        d_b = np.where(post, np.minimum(d_b, (z - zt) * s - tent_half - 0.8), d_b)
        res[cer & (d_b >= 0)] = _T_WM
        reach = self.sulc_depth_mm * 1.25 + self.gm_mm + 1.0
        near_mid = np.abs(x) * s < reach + self.fissure_half_mm + 4.0  # medial-surface sulci
        shell = cer & (d_b >= 0) & ((d_b < reach) | near_mid)
        si = np.nonzero(shell)[0]
        if si.size:
            res[si] = self._cortex(x[si], y[si], z[si], d_b[si])
        # --- cerebellum ---
        cb = below & ~dura & ~in_stem
        ci = np.nonzero(cb)[0]
        if ci.size:
            d_c = np.minimum(d_cav[ci] - self.csf_gap_mm, ((zt[ci] - z[ci]) * s) - tent_half - 0.8)
            res[ci] = self._cerebellum(x[ci], y[ci], z[ci], d_c)
        res[in_stem] = _T_STEM
        res[dura] = _T_DURA
        # basal cisterns: CSF in front of the brainstem between the temporal lobes
        ca = 1.0 + 0.25 * self.atrophy
        cist = ((x / (12.0 * ca)) ** 2 + ((y - 8.0) / (13.0 * ca)) ** 2 + ((z + 37.0) / 9.0) ** 2 < 1.0) & ~in_stem
        # ambient cistern: a CSF ring around the midbrain
        ring = ((x / (stem_r + 2.5 * ca)) ** 2 + ((y - stem_y) / ((stem_r + 2.5 * ca) * 1.15)) ** 2 < 1.0) \
            & (z < -14.0) & (z > -34.0) & ~in_stem
        cist |= ring
        res[cist] = _T_CSF
        self._deep(x, y, z, res)
        return res

    def _cortex(self, x: np.ndarray, y: np.ndarray, z: np.ndarray, d_b: np.ndarray) -> np.ndarray:
        """Cortical ribbon, sulci and fissures for points in the outer cerebral shell.

        Sulci run in from both the convexity and the medial surface (interhemispheric fissure):
        the depth used by the sulcal rules is the distance to the nearer of the two surfaces.
        """
        s = float(self.scale_iso)
        t = self.gm_mm
        # interhemispheric fissure: full depth except above the corpus callosum arch
        xm = self.fissure_bend * np.sin(y / 35.0)
        df = np.abs(x - xm) * s
        # the fissure floor follows the corpus callosum arch, then drops steeply in front of
        # the genu and behind the splenium (continuous, so no blocky edges)
        ay = np.abs(y - 10.0)
        cc_top = np.where(ay < 34.0, 10.0 + 6.0 * np.sqrt(np.clip(1.0 - (ay / 34.0) ** 2, 0, 1)),
                          10.0 - 5.0 * (ay - 34.0))
        fis_active = z > cc_top
        fis_near = z > cc_top - t / s
        d_s = np.where(fis_active, np.minimum(d_b, df - self.fissure_half_mm), d_b)
        rho = np.sqrt(x * x + y * y + z * z) + 1e-3
        proj = np.stack([x, y, z], axis=1) * (70.0 / rho)[:, None]
        dn = self._sample(self._depth, proj)
        depth = self.sulc_depth_mm * (0.7 + 0.3 * np.tanh(dn))
        # sulci are not perfectly radial: tilt them with depth along a smooth random direction
        tn = self._sample(self._folia_phase, proj * 0.6)
        shear = (0.4 * np.clip(d_s, 0, None) / s)
        ds = _sample_sphere_map(self._sulc2d, x + shear * tn * 1.0, y + shear * dn, z + shear * (tn - dn) * 0.7,
                                rho) * (rho / _R_SULC) * s
        # medial surface: sheets perpendicular to the midline (pattern taken in the y-z plane),
        # with a floor on the spacing so that they do not crowd above the corpus callosum
        medial = fis_active & (df - self.fissure_half_mm < d_b)
        mi = np.nonzero(medial)[0]
        if mi.size:
            yy, zz = y[mi] + shear[mi] * dn[mi], z[mi] + shear[mi] * tn[mi]
            xx = np.where(x[mi] >= 0, 12.0, -12.0).astype(np.float32)
            r_yz = np.sqrt(xx * xx + yy * yy + zz * zz)
            ds[mi] = _sample_sphere_map(self._sulc2d, xx, yy, zz, r_yz) * (np.maximum(r_yz, 50.0) / _R_SULC) * s
        sulc_csf = ((ds < self.sulc_half_mm) & (d_s < depth)) | ((df < self.fissure_half_mm) & fis_active)
        gm = (d_s < t) | ((ds < self.sulc_half_mm + t) & (d_s < depth + t))
        gm |= (df < self.fissure_half_mm + t) & fis_near
        # Sylvian fissures: oblique lateral sheets down to the insula
        zs = -24.0 - 0.55 * (y - 27.0)
        dsyl = np.abs(z - zs) * s
        syl_on = (y > -28.0) & (y < 36.0)
        x_ins = 34.0
        syl_active = syl_on & (np.abs(x) > x_ins)
        syl_near = syl_on & (np.abs(x) > x_ins - t / s)
        sulc_csf |= (dsyl < self.sylvian_half_mm) & syl_active
        gm |= (dsyl < self.sylvian_half_mm + t) & syl_near
        res = np.full(x.shape, _T_WM, dtype=np.uint8)
        res[gm] = _T_GM
        res[sulc_csf] = _T_CSF
        return res

    def _cerebellum(self, x: np.ndarray, y: np.ndarray, z: np.ndarray, d_c: np.ndarray) -> np.ndarray:
        """Cerebellar folia: GM shell with concentric CSF fissures around a WM core."""
        res = np.full(x.shape, _T_CSF, dtype=np.uint8)
        ok = d_c >= 0
        # folia: shells around the fourth-ventricle roof, flattened across x so that axial
        # slices show arcs parallel to the posterior surface
        r = np.sqrt((x / 2.6) ** 2 + (y + 38.0) ** 2 + (z + 38.0) ** 2)
        pts = np.stack([x, y, z], axis=1)
        phase = self._sample(self._folia_phase, pts)
        wave = np.sin(2 * np.pi * r / 5.5 + 1.2 * phase)
        core = 9.0 + 3.0 * np.tanh(phase)
        res[ok] = _T_CBGM
        res[ok & (d_c > core)] = _T_CBWM
        lam = ok & (d_c > 3.5) & (d_c <= core) & (np.abs(wave) < 0.22)
        res[lam] = _T_CBWM  # white lamellae (arbor vitae)
        fis = ok & (d_c < core - 2.0) & (wave > 0.93 - 0.1 * self.atrophy)
        res[fis] = _T_CSF
        # vermis groove at the midline, posteriorly
        res[ok & (np.abs(x) < 1.2 + self.atrophy) & (y < -60.0)] = _T_CSF
        return res

    def _deep(self, x: np.ndarray, y: np.ndarray, z: np.ndarray, res: np.ndarray) -> None:
        """Paint deep GM, ventricles, cisterns and hippocampi in place (central points only)."""
        box = (np.abs(x) < 48) & (y > -55) & (y < 60) & (z > -48) & (z < 30)
        bi = np.nonzero(box)[0]
        if bi.size == 0:
            return
        px, py, pz = x[bi], y[bi], z[bi]
        r = res[bi]
        brain_tissue = (r == _T_WM) | (r == _T_GM)
        for code, tube in self.deep:
            m = _tube_level(px, py, pz, tube) < 1.0
            r[m & brain_tissue] = code
        a = self.atrophy
        # third ventricle between the thalami; widens with atrophy
        third = (np.abs(px) * self.scale_iso < self.third_vent_half_mm) \
            & ((py / 15.0) ** 2 + ((pz + 12.0) / 11.0) ** 2 < 1.0) & (r != _T_STEM)
        r[third] = _T_CSF
        tissue = (r != _T_STEM) & (r != _T_DURA)
        for side, code in (("left", _T_LV_L), ("right", _T_LV_R)):
            r[(_tube_level(px, py, pz, self.ventricles[side]) < 1.0) & tissue] = code
        # Medial temporal lobe: atlas-shaped hippocampi and amygdalae in MNI-like surroundings;
        # cerebral tissue and the temporal horn there are replaced, deep nuclei are kept.
        replaceable = np.isin(r, (_T_GM, _T_WM, _T_CSF, _T_LV_L, _T_LV_R))
        paint_mtl(px, py, pz, r, self.mtl_scales, _MTL_CODES, replaceable)
        del a
        res[bi] = r


_R_SULC = 70.0  # radius (template mm) at which the sulcal map is defined
_SPH_ROWS, _SPH_COLS = 181, 360  # 1 degree grid over (polar angle, azimuth)


def _poisson_sphere(rng: np.random.Generator, min_angle: float) -> np.ndarray:
    """Blue-noise unit vectors: dart throwing with a minimum angular distance (rad)."""
    target = int(4.0 / (min_angle ** 2) * 0.9)
    cand = rng.standard_normal((target * 6, 3))
    cand /= np.linalg.norm(cand, axis=1, keepdims=True)
    cos_min = np.cos(min_angle)
    kept = np.empty((0, 3))
    for start in range(0, len(cand), 64):
        batch = cand[start:start + 64]
        for v in batch:
            if kept.shape[0] == 0 or np.max(kept @ v) < cos_min:
                kept = np.vstack([kept, v])
    return kept


def _sulcal_map(rng: np.random.Generator, min_angle: float) -> np.ndarray:
    """Distance (mm at radius ``_R_SULC``) to the nearest cell border, on a (polar, azimuth) grid."""
    from scipy.spatial import cKDTree

    seeds = _poisson_sphere(rng, min_angle)
    th = np.linspace(0.0, np.pi, _SPH_ROWS)
    ph = np.linspace(-np.pi, np.pi, _SPH_COLS, endpoint=False)
    tt, pp = np.meshgrid(th, ph, indexing="ij")
    v = np.stack([np.sin(tt) * np.cos(pp), np.sin(tt) * np.sin(pp), np.cos(tt)], axis=-1).reshape(-1, 3)
    # smooth warp -> wavy, less polygonal sulci
    a = rng.uniform(0, 2 * np.pi, size=6)
    f = rng.uniform(2.5, 4.5, size=6)
    w = np.stack([np.sin(f[0] * v[:, 1] + a[0]) + 0.5 * np.sin(f[3] * v[:, 2] + a[3]),
                  np.sin(f[1] * v[:, 2] + a[1]) + 0.5 * np.sin(f[4] * v[:, 0] + a[4]),
                  np.sin(f[2] * v[:, 0] + a[2]) + 0.5 * np.sin(f[5] * v[:, 1] + a[5])], axis=1)
    vw = v + 0.07 * w
    vw /= np.linalg.norm(vw, axis=1, keepdims=True)
    # anisotropic metric: distances along y (antero-posterior) count more, so gyri are elongated
    # across it (like the central and pre/post-central gyri on the lateral and upper surfaces)
    stretch = np.array([1.0, 1.35, 1.0])
    seeds_t = seeds * stretch
    vw = vw * stretch
    d, idx = cKDTree(seeds_t).query(vw, k=2)
    gap = np.linalg.norm(seeds_t[idx[:, 1]] - seeds_t[idx[:, 0]], axis=1)
    dist = (d[:, 1] ** 2 - d[:, 0] ** 2) / (2.0 * gap) * _R_SULC  # exact distance to the bisector
    return dist.reshape(_SPH_ROWS, _SPH_COLS).astype(np.float32)


def _sample_sphere_map(m: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Bilinear lookup of a (polar, azimuth) map in the direction of each point."""
    r_idx = np.arccos(np.clip(z / rho, -1.0, 1.0)) * ((_SPH_ROWS - 1) / np.pi)
    c_idx = (np.arctan2(y, x) + np.pi) * (_SPH_COLS / (2 * np.pi))
    return ndimage.map_coordinates(m, np.stack([r_idx, c_idx]), order=1, mode="grid-wrap").astype(np.float32)


def _rotation(ax: float, ay: float, az: float) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def _tube_level(x: np.ndarray, y: np.ndarray, z: np.ndarray, tube: np.ndarray) -> np.ndarray:
    """Union of axis-aligned ellipsoids (rows x, y, z, rx, ry, rz): min normalised radius^2."""
    lo = tube[:, :3] - tube[:, 3:] * 1.6
    hi = tube[:, :3] + tube[:, 3:] * 1.6
    lo, hi = lo.min(axis=0), hi.max(axis=0)
    sel = (x > lo[0]) & (x < hi[0]) & (y > lo[1]) & (y < hi[1]) & (z > lo[2]) & (z < hi[2])
    out = np.full(x.shape, 99.0, dtype=np.float32)
    si = np.nonzero(sel)[0]
    if si.size == 0:
        return out
    sx, sy, sz = x[si], y[si], z[si]
    best = np.full(si.size, 99.0, dtype=np.float32)
    for cx, cy, cz, rx, ry, rz in tube:
        v = ((sx - cx) / rx) ** 2 + ((sy - cy) / ry) ** 2 + ((sz - cz) / rz) ** 2
        np.minimum(best, v, out=best)
    out[si] = best
    return out


# ----------------------------------------------------------------------------------------
# Public generators
# ----------------------------------------------------------------------------------------

def _grid_points(shape: tuple[int, int, int], spacing_mm: float) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """World coordinates (three flat float32 arrays) of a grid centred on the origin, and its RAS+ affine."""
    sp = float(spacing_mm)
    origin = -sp * (np.array(shape, dtype=np.float64) - 1) / 2.0
    affine = np.diag([sp, sp, sp, 1.0])
    affine[:3, 3] = origin
    axes = [(origin[i] + sp * np.arange(shape[i])).astype(np.float32) for i in range(3)]
    n = int(np.prod(shape))
    wx = np.broadcast_to(axes[0][:, None, None], shape).reshape(n)
    wy = np.broadcast_to(axes[1][None, :, None], shape).reshape(n)
    wz = np.broadcast_to(axes[2][None, None, :], shape).reshape(n)
    return (wx, wy, wz), affine


def t1_intensities(tissue: np.ndarray, anatomy: HeadAnatomy) -> np.ndarray:
    """Noise-free T1 signal per point from fine tissue codes (subject contrast jitter applied)."""
    lut = (_T1_BASE * anatomy.contrast).astype(np.float32)
    lut[_T_AIR] = 0.0
    return lut[tissue]


def make_head_phantom(
    seed: int = 0,
    shape: tuple[int, int, int] = (160, 192, 160),
    spacing_mm: float = 1.0,
    atrophy: float = 0.0,
    *,
    noise_level: float = 0.025,
    bias_strength: float = 0.15,
    slice_thickness_mm: float | None = None,
    blur_mm: float = 0.5,
    intensity_scale: float | None = None,
    icv_target_l: float | None = None,
) -> HeadPhantom:
    """Generate a deterministic T1-weighted head phantom with ground-truth labels.

    Args:
        seed: random seed; the same seed (and arguments) gives bit-identical output.
        shape: grid size (X, Y, Z) in voxels; RAS+ axes. (64, 64, 64) at 3.5 mm fits a head
            for fast CNN training; (256, 256, 256) at 1 mm for benchmarks.
        spacing_mm: isotropic voxel size in mm.
        atrophy: 0 (none) .. 1 (severe) phantom atrophy; see the module docstring.
        noise_level: Rician noise std as a fraction of the WM signal (0 disables).
        bias_strength: std of the log multiplicative bias field (0 disables).
        slice_thickness_mm: when larger than the voxel size, the image (not the labels) is
            blurred along Z as thick slices would be.
        blur_mm: Gaussian sigma (mm) of the partial-volume blur applied to the image.
        intensity_scale: scanner gain (WM ~ 0.8 * scale); random 600..1400 when None.
        icv_target_l: force the intracranial volume (L) instead of sampling it.

    Returns:
        HeadPhantom with ``scan`` (float32 (1, X, Y, Z), modality MR, RAS+ affine),
        ``labels`` (uint8 (X, Y, Z)), ``volumes_ml`` and ``params``.
    """
    t0 = time.perf_counter()
    shape = tuple(int(v) for v in shape)  # type: ignore[assignment]
    rng = np.random.default_rng(seed)
    anat_rng, image_rng = rng.spawn(2)
    anatomy = HeadAnatomy(anat_rng, atrophy=atrophy, icv_target_l=icv_target_l)
    (wx, wy, wz), affine = _grid_points(shape, spacing_mm)
    tissue = anatomy.tissues_xyz(wx, wy, wz).reshape(shape)
    del wx, wy, wz
    labels = _TISSUE_TO_LABEL[tissue]
    image = t1_intensities(tissue, anatomy)
    # within-tissue texture (smooth, +-3 %)
    image *= 1.0 + 0.03 * smooth_field(image_rng, shape, 6.0 / spacing_mm)
    if blur_mm > 0:
        image = ndimage.gaussian_filter(image, blur_mm / spacing_mm, truncate=3.0)
    if slice_thickness_mm and slice_thickness_mm > spacing_mm:
        sigma = slice_thickness_mm / 2.355 / spacing_mm
        image = ndimage.gaussian_filter1d(image, sigma, axis=2)
    if bias_strength > 0:
        bias = smooth_field(image_rng, shape, 70.0 / spacing_mm)
        image *= np.exp(np.float32(bias_strength) * bias)
    else:
        smooth_field(image_rng, shape, 70.0 / spacing_mm)  # keep the stream aligned
    image = rician(image_rng, image, noise_level * 0.82)
    gain = float(intensity_scale) if intensity_scale is not None else float(image_rng.uniform(600, 1400))
    image *= np.float32(gain)
    volumes = volumes_from_labels(labels, float(spacing_mm) ** 3)
    horns_ml = _temporal_horn_voxels(anatomy, labels, affine) * float(spacing_mm) ** 3 / 1000.0
    reference = {"temporal_horns": horns_ml, "lateral_ventricles_fs": volumes["lateral_ventricles"] - horns_ml}
    digest = sha256_of(image, labels)
    params: dict[str, Any] = {
        "seed": int(seed), "shape": list(shape), "spacing_mm": float(spacing_mm), "atrophy": float(atrophy),
        "noise_level": noise_level, "bias_strength": bias_strength, "slice_thickness_mm": slice_thickness_mm,
        "blur_mm": blur_mm, "intensity_scale": gain, "icv_target_l": icv_target_l,
        "cortical_thickness_mm": anatomy.gm_mm, "sulcal_half_width_mm": anatomy.sulc_half_mm,
        "extracerebral_csf_mm": anatomy.csf_gap_mm, "ventricle_cross_scale": anatomy.vent_cross,
        "ventricle_subject_factor": anatomy.vent_factor, "medial_temporal_scale": anatomy.mtl_scales,
        "hippocampus_subject_factor": anatomy.hc_factor, "head_scale": anatomy.scale.tolist(),
        "generation_s": round(time.perf_counter() - t0, 3),
    }
    scan = Scan(
        array=image[None].astype(np.float32, copy=False),
        affine=affine,
        modality=Modality.MR,
        meta={
            "format": "synthetic", "phantom": True, "generator": "core.synth.head.make_head_phantom",
            "seed": int(seed), "atrophy": float(atrophy), "sequence": "T1 (MPRAGE-like phantom)",
            "spacing_mm": [float(spacing_mm)] * 3,
        },
        source=f"phantom-head seed={seed} sha256:{digest}",
        history=("synthesised",),
    )
    return HeadPhantom(scan=scan, labels=labels, volumes_ml=volumes, params=params, reference_ml=reference)


def _temporal_horn_voxels(anatomy: HeadAnatomy, labels: np.ndarray, affine: np.ndarray) -> int:
    """Lateral-ventricle voxels in the temporal-horn tube and not in the body tube."""
    count = 0
    for side, code in (("left", 5), ("right", 6)):
        idx = np.argwhere(labels == code)
        if idx.size == 0:
            continue
        w = idx @ affine[:3, :3].T + affine[:3, 3]
        x, y, z = anatomy.to_template(*(np.ascontiguousarray(w[:, k], dtype=np.float32) for k in range(3)))
        body, temporal = anatomy.ventricle_tubes[side]
        count += int(((_tube_level(x, y, z, temporal) < 1.0) & (_tube_level(x, y, z, body) >= 1.0)).sum())
    return count


def sample_plane(anatomy: HeadAnatomy, centre_mm: np.ndarray, u_mm: np.ndarray, v_mm: np.ndarray,
                 size: tuple[int, int]) -> np.ndarray:
    """Tissue codes (rows, cols) on a plane: ``centre + (col - c/2) * u + (row - r/2) * v``.

    ``u_mm`` and ``v_mm`` are the world step vectors (mm) per column and per row.
    """
    rows, cols = size
    rr, cc = np.meshgrid(np.arange(rows) - (rows - 1) / 2.0, np.arange(cols) - (cols - 1) / 2.0, indexing="ij")
    pts = centre_mm[None, :] + cc.ravel()[:, None] * u_mm[None, :] + rr.ravel()[:, None] * v_mm[None, :]
    return anatomy.tissues(pts.astype(np.float32)).reshape(rows, cols)


def as_nifti_bytes(scan: Scan, *, int16: bool = False, compresslevel: int = 1) -> bytes:
    """Serialise a scan as gzipped NIfTI-1 bytes (``.nii.gz``) in memory.

    Args:
        scan: the scan; its first channel is written (C == 1 for phantoms).
        int16: store rounded int16 values (about 4x smaller; exact for phantoms generated with
            ``intensity_scale`` >= ~500 up to rounding) instead of float32.
        compresslevel: gzip level (1 is fast; noisy data barely compresses more).

    The affine is stored as both qform and sform (code 1, scanner); the gzip header carries no
    timestamp so the bytes are deterministic.
    """
    import nibabel as nib

    data = np.asarray(scan.array[0], dtype=np.float32)
    if int16:
        data = np.clip(np.round(data), -32768, 32767).astype(np.int16)
    img = nib.Nifti1Image(data, np.asarray(scan.affine, dtype=np.float64))
    img.header.set_xyzt_units("mm", "sec")
    img.header["descrip"] = b"RadLens synthetic T1 MR phantom"
    img.set_qform(scan.affine, code=1)
    img.set_sform(scan.affine, code=1)
    raw = img.to_bytes()
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=compresslevel) as gz:
        gz.write(raw)
    return buf.getvalue()
