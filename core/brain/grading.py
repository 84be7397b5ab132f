"""Grades (ventricle enlargement, cortical thinning) and the transparent biomarker stage.

What is published and what is a RadLens convention, stated plainly:

Published figures used (../shared/FACTS.md, ../shared/NORMS.md):
- Normative centiles of hippocampal and lateral-ventricle volume (NORMS.md sections 2-3).
- Lateral ventricles 22.6 +- 11.6 mL in 133 healthy adults 21-92 y (Yamada 2023, FACTS.md s.2):
  only used when age or sex is missing, as an age-free reference.
- Mean cortical thickness ~2.5 mm (Fischl & Dale 2000) and thinning -0.35 %/y
  (Storsve 2014) (FACTS.md s.2).
- Hippocampal atrophy predicts progression (Li 2016 RR 2.59; Henneman 2009 HR 5.7 below the
  median; FACTS.md s.4) and ventricular expansion tracks disease (Leung 2013, Jack 2005).
  These support the *direction* of the rule, not its cut-offs.

Conventions (not validated cut-offs; change them here, with the reason):
- Grade bands on the norm centiles: none < P90 <= mild < P97.5 <= moderate < P99.5 <= severe
  for ventricles (larger is worse); the 90th/97.5th are columns of the published centile grids.
- Hippocampal bands on the ICV-adjusted z-score: >= -1.28 (P10) 0 points; -1.28..-1.645 (P5)
  1; -1.645..-2.326 (P1) 2; below P1 3. This mirrors MTA-like reasoning (hippocampal loss
  first, ventricular/temporal-horn widening alongside) without being the MTA visual score.
- Thinning: deficit against 2.5 mm x (1 - 0.0035 (age - 50)) with 50 y an assumed anchor age;
  none < 8 % <= mild < 15 % <= moderate < 25 % <= severe.
- Stage = floor(S / 3) with S = 2 x hippocampal points + ventricle points + thinning points
  (capped at 3): hippocampal atrophy weighs double because it is the best-supported marker.
- Probabilities come from propagating measurement error through the rule (Monte Carlo with a
  fixed seed): 7 % volume error for hippocampi (BRAIN-NOTES: within ~10 % of FreeSurfer,
  test-retest 3-5 %), 10 % for ventricles and thickness. They express how stable the rule's
  answer is to measurement error, not a calibrated probability of disease.
"""

from __future__ import annotations

import math

import numpy as np

from core.brain.report import GRADES, STAGE_LABELS, UNABLE, Stage

# --- ventricle enlargement -------------------------------------------------------------------
VENTRICLE_Z_BANDS = (1.2816, 1.9600, 2.5758)  # P90, P97.5, P99.5
# Yamada 2023 (Eur Radiol 33:7099), lateral ventricles, healthy 21-92 y (FACTS.md s.2).
YAMADA_LV_ML = {"all": (22.6, 11.6), "F": (20.2, 10.0), "M": (27.1, 13.0)}

# --- cortical thinning -----------------------------------------------------------------------
THICKNESS_REF_MM = 2.5  # Fischl & Dale 2000 PNAS 97:11050 (FACTS.md s.2)
THINNING_RATE_PER_Y = 0.0035  # Storsve 2014 J Neurosci 34:8488, -0.35 %/y (FACTS.md s.2)
THICKNESS_ANCHOR_AGE_Y = 50.0  # RadLens assumption: age at which 2.5 mm applies
THINNING_DEFICIT_BANDS = (0.08, 0.15, 0.25)

# --- hippocampus -----------------------------------------------------------------------------
HIPPO_Z_BANDS = (-1.2816, -1.6449, -2.3263)  # P10, P5, P1

# --- measurement error for the stage probabilities (relative SD) ----------------------------
HIPPO_REL_ERROR = 0.07
VENTRICLE_REL_ERROR = 0.10
THICKNESS_REL_ERROR = 0.10
MC_SAMPLES = 4000
MC_SEED = 7


def _band(value: float, cuts: tuple[float, ...], increasing: bool = True) -> int:
    if increasing:
        return int(sum(value >= c for c in cuts))
    return int(sum(value < c for c in cuts))


def ventricle_grade_from_z(z: float) -> str:
    """none/mild/moderate/severe from a ventricle z-score (larger ventricles -> higher z)."""
    return GRADES[_band(z, VENTRICLE_Z_BANDS)]


def ventricle_z_agefree(volume_ml: float, sex: str | None) -> float:
    """Age-free z of lateral-ventricle volume against Yamada 2023 (mean +- SD)."""
    key = "all"
    if sex is not None and str(sex).strip().upper()[:1] in {"F", "M"}:
        key = str(sex).strip().upper()[:1]
    mean, sd = YAMADA_LV_ML[key]
    return (volume_ml - mean) / sd


def expected_thickness_mm(age_years: float | None) -> float:
    """Reference cortical thickness for an age (2.5 mm at the anchor age, -0.35 %/y)."""
    if age_years is None:
        return THICKNESS_REF_MM
    return THICKNESS_REF_MM * (1.0 - THINNING_RATE_PER_Y * (float(age_years) - THICKNESS_ANCHOR_AGE_Y))


def thinning_grade(thickness_mm: float, age_years: float | None) -> str:
    """none/mild/moderate/severe from the relative deficit against the age reference."""
    if not math.isfinite(thickness_mm):
        return "none"
    deficit = 1.0 - thickness_mm / expected_thickness_mm(age_years)
    return GRADES[_band(deficit, THINNING_DEFICIT_BANDS)]


def hippocampal_points(z: np.ndarray | float) -> np.ndarray:
    z = np.asarray(z, dtype=float)
    return sum((z < c).astype(int) for c in HIPPO_Z_BANDS)


def _stage_index(hippo_pts: np.ndarray, vent_pts: np.ndarray, thin_pts: np.ndarray) -> np.ndarray:
    s = 2 * hippo_pts + vent_pts + thin_pts
    return np.minimum(3, np.floor(s / 3.0)).astype(int)


def rule_stage(hippo_z_left: float | None, hippo_z_right: float | None, hippo_volumes_ml: tuple[float, float],
               hippo_rmse_ml: tuple[float, float], ventricle_z: float, ventricle_log_sd: float,
               thickness_mm: float, age_years: float | None, threshold: float) -> Stage:
    """Biomarker stage (see module docstring for the rule and its basis).

    Args:
        hippo_z_left, hippo_z_right: ICV-adjusted hippocampal z-scores (None -> unavailable).
        hippo_volumes_ml: measured left/right hippocampal volumes (for the error model).
        hippo_rmse_ml: the normative model's RMSE per side, mL (z = (V - pred) / RMSE).
        ventricle_z: ventricle z-score (age-specific or age-free).
        ventricle_log_sd: d z / d log(volume) of the ventricle norm near the measured value.
        thickness_mm: cortical thickness estimate.
        age_years: age (for the thickness reference).
        threshold: minimum top probability for an ``ok`` stage.
    """
    if hippo_z_left is None or hippo_z_right is None:
        return Stage(label=UNABLE, probabilities={}, status="unable_to_determine", source="rule",
                     reasons=("The biomarker stage needs hippocampal percentiles, which need age and sex.",))
    rng = np.random.default_rng(MC_SEED)
    n = MC_SAMPLES
    zl = hippo_z_left + rng.normal(0.0, HIPPO_REL_ERROR * hippo_volumes_ml[0] / hippo_rmse_ml[0], n)
    zr = hippo_z_right + rng.normal(0.0, HIPPO_REL_ERROR * hippo_volumes_ml[1] / hippo_rmse_ml[1], n)
    zh = 0.5 * (zl + zr)
    zv = ventricle_z + ventricle_log_sd * rng.normal(0.0, VENTRICLE_REL_ERROR, n)
    th = thickness_mm * (1.0 + rng.normal(0.0, THICKNESS_REL_ERROR, n)) if math.isfinite(thickness_mm) else np.full(n, np.nan)
    exp_th = expected_thickness_mm(age_years)
    deficit = np.where(np.isfinite(th), 1.0 - th / exp_th, 0.0)
    vent_pts = sum((zv >= c).astype(int) for c in VENTRICLE_Z_BANDS)
    thin_pts = sum((deficit >= c).astype(int) for c in THINNING_DEFICIT_BANDS)
    idx = _stage_index(hippocampal_points(zh), vent_pts, thin_pts)
    counts = np.bincount(idx, minlength=4) / float(n)
    probs = {lab: float(p) for lab, p in zip(STAGE_LABELS, counts)}
    # The point estimate (no noise) is the rule's answer; the probabilities say how stable it is.
    zh0 = 0.5 * (hippo_z_left + hippo_z_right)
    point = int(_stage_index(hippocampal_points(zh0), np.array(_band(ventricle_z, VENTRICLE_Z_BANDS)),
                             np.array(GRADES.index(thinning_grade(thickness_mm, age_years))))[()])
    top = float(probs[STAGE_LABELS[point]])
    details = {
        "hippocampal_z": zh0, "ventricle_z": ventricle_z, "thickness_mm": thickness_mm,
        "expected_thickness_mm": exp_th, "rule_stage_index": point,
        "rule": "stage = floor((2*hippocampal points + ventricle points + thinning points)/3), capped at 3",
    }
    if top >= threshold:
        return Stage(label=STAGE_LABELS[point], probabilities=probs, status="ok", source="rule",
                     reasons=("Transparent biomarker rule (hippocampal percentile, ventricle and thinning grades).",),
                     confidence=top, details=details)
    return Stage(label=UNABLE, probabilities=probs, status="unable_to_determine", source="rule",
                 reasons=(f"The rule's answer ({STAGE_LABELS[point]}) is not stable under measurement error "
                          f"(agreement {top:.2f} < {threshold:.2f}).",), confidence=top, details=details)
