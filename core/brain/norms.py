"""Percentiles of hippocampal and lateral-ventricle volumes against published norms.

The norms are data files in ``core/brain/data`` with their citations in a header comment
(see ../shared/NORMS.md); a better table can replace a file without code changes.

- Hippocampus (primary): CentileBrain ICV-adjusted per-hemisphere formulas,
  z = (V - pred(age, eTIV)) / RMSE, percentile = Phi(z).
- Hippocampus (secondary, raw volume): PCN braincharts per-hemisphere centiles, UKB site.
- Lateral ventricles: PCN braincharts per-hemisphere centiles (UKB site, not ICV-adjusted).
- Total ventricles (for information): Brain Charts; it includes the 3rd/4th ventricles, so a
  lateral-ventricle volume reads low against it.

Centile grids are interpolated linearly across age (5-year grid); a volume is turned into a
z-score by piecewise-linear interpolation between the grid's centiles (in log volume for the
right-skewed ventricles), extended linearly beyond the 2.5th/97.5th centiles and clipped to
|z| <= 4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

DATA_DIR = Path(__file__).resolve().parent / "data"
CENTILES = (2.5, 5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 97.5)
_CENTILE_COLS = ("p2.5", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p97.5")
_Z = norm.ppf(np.array(CENTILES) / 100.0)
Z_CLIP = 4.0

PCN_SOURCE = "PCN braincharts (Rutherford et al. 2022, eLife), FreeSurfer aseg, UK Biobank site 11025, per hemisphere"
CENTILEBRAIN_SOURCE = "CentileBrain (ENIGMA Lifespan, Ge et al.), ICV-adjusted per-hemisphere hippocampus"
BRAINCHARTS_SOURCE = "Brain Charts (Bethlehem et al. 2022, Nature), total ventricles, population level"


@dataclass(frozen=True)
class NormResult:
    """One volume compared with one normative model.

    Attributes:
        percentile: 0..100.
        z: standard-normal score (clipped to +-4).
        median_ml: the model's median (50th centile) for this age/sex (and ICV), mL.
        source: which table/model was used.
        note: caveats (extrapolated age, etc.), empty when none.
    """

    percentile: float
    z: float
    median_ml: float
    source: str
    note: str = ""


def _sex_code(sex: str) -> str:
    s = str(sex).strip().lower()
    if s in {"f", "female", "woman", "w"}:
        return "F"
    if s in {"m", "male", "man"}:
        return "M"
    raise ValueError(f"sex must be 'F' or 'M' (got {sex!r})")


@lru_cache(maxsize=None)
def _table(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA_DIR / name, comment="#")


def _grid_at_age(rows: pd.DataFrame, age_years: float) -> tuple[np.ndarray, str]:
    ages = rows["age"].to_numpy(dtype=float)
    order = np.argsort(ages)
    ages = ages[order]
    vals = rows[list(_CENTILE_COLS)].to_numpy(dtype=float)[order]
    note = ""
    if age_years < ages[0] or age_years > ages[-1]:
        note = f"age {age_years:g} outside the table ({ages[0]:g}-{ages[-1]:g} y); nearest age used"
    a = float(np.clip(age_years, ages[0], ages[-1]))
    grid = np.array([np.interp(a, ages, vals[:, k]) for k in range(vals.shape[1])])
    return grid, note


def _z_from_grid(value: float, grid: np.ndarray, log: bool) -> float:
    g = np.log(grid) if log else grid
    v = math.log(max(value, 1e-6)) if log else value
    if v <= g[0]:
        slope = (_Z[1] - _Z[0]) / (g[1] - g[0])
        z = _Z[0] + (v - g[0]) * slope
    elif v >= g[-1]:
        slope = (_Z[-1] - _Z[-2]) / (g[-1] - g[-2])
        z = _Z[-1] + (v - g[-1]) * slope
    else:
        z = float(np.interp(v, g, _Z))
    return float(np.clip(z, -Z_CLIP, Z_CLIP))


def _result(z: float, median_ml: float, source: str, note: str) -> NormResult:
    return NormResult(percentile=float(100.0 * norm.cdf(z)), z=float(z), median_ml=float(median_ml), source=source, note=note)


def pcn_percentile(roi: str, volume_ml: float, age_years: float, sex: str) -> NormResult:
    """Percentile of one hemisphere's volume in the PCN braincharts UKB table.

    Args:
        roi: ``"Left-Hippocampus"``, ``"Right-Hippocampus"``, ``"Left-Lateral-Ventricle"`` or
            ``"Right-Lateral-Ventricle"`` (FreeSurfer aseg names).
        volume_ml: measured volume, mL.
        age_years: age in years.
        sex: "F"/"M" (or female/male).
    """
    t = _table("pcn_braincharts_ukb11025.csv")
    rows = t[(t["roi"] == roi) & (t["sex"] == _sex_code(sex))]
    if rows.empty:
        raise KeyError(f"No PCN norms for {roi!r}")
    grid, note = _grid_at_age(rows, age_years)
    z = _z_from_grid(volume_ml * 1000.0, grid, log="Ventricle" in roi)
    return _result(z, grid[4] / 1000.0, PCN_SOURCE, note)


def _cb_term(name: str, t: float) -> float:
    return {"t^-1": t ** -1, "t^-2": t ** -2, "t^3": t ** 3, "log(t)": math.log(t), "t^3*log(t)": t ** 3 * math.log(t)}[name]


def centilebrain_predicted_mm3(hemisphere: str, age_years: float, sex: str, etiv_mm3: float) -> tuple[float, float]:
    """CentileBrain predicted hippocampal volume (mm^3) and the model RMSE for one hemisphere."""
    t = _table("centilebrain_hippocampus_coefficients.csv")
    row = t[(t["sex"] == _sex_code(sex)) & (t["hemisphere"] == hemisphere)].iloc[0]
    x = age_years / 100.0
    pred = (row["intercept"] + row["coef1"] * _cb_term(row["term1"], x) + row["coef2"] * _cb_term(row["term2"], x)
            + row["icv_coef"] * etiv_mm3 + row["offset_k"])
    return float(pred), float(row["rmse"])


# Age range of the CentileBrain training data is not restated in NORMS.md; the ENIGMA
# lifespan sample spans childhood to old age. Outside 20-90 y the NORMS.md grids stop, so the
# formula is used but flagged.
_CB_AGE_RANGE = (20.0, 90.0)


def centilebrain_percentile(hemisphere: str, volume_ml: float, age_years: float, sex: str, icv_ml: float) -> NormResult:
    """ICV-adjusted hippocampal percentile (CentileBrain), ``hemisphere`` "L" or "R".

    The ICV measured here (template brain mask carried by the registration, an eTIV-like
    atlas-scaling estimate) stands in for FreeSurfer's eTIV.
    """
    pred, rmse = centilebrain_predicted_mm3(hemisphere, age_years, sex, icv_ml * 1000.0)
    z = float(np.clip((volume_ml * 1000.0 - pred) / rmse, -Z_CLIP, Z_CLIP))
    note = ""
    if not _CB_AGE_RANGE[0] <= age_years <= _CB_AGE_RANGE[1]:
        note = f"age {age_years:g} outside 20-90 y: formula extrapolated"
    return _result(z, pred / 1000.0, CENTILEBRAIN_SOURCE, note)


def braincharts_ventricles_percentile(volume_ml: float, age_years: float, sex: str) -> NormResult:
    """Percentile of a ventricular volume in the Brain Charts total-ventricle model (information only)."""
    t = _table("braincharts_lifespan.csv")
    sx = {"F": "Female", "M": "Male"}[_sex_code(sex)]
    rows = t[(t["model"] == "Ventricles(pop)") & (t["sex"] == sx)]
    grid, note = _grid_at_age(rows, age_years)
    z = _z_from_grid(volume_ml * 1000.0, grid, log=True)
    extra = "the model counts all ventricles, 3rd and 4th included, so lateral-only volumes read low"
    return _result(z, grid[4] / 1000.0, BRAINCHARTS_SOURCE, "; ".join(v for v in (note, extra) if v))


def combine_z(z_left: float, z_right: float) -> float:
    """Bilateral score used for the summary percentile: the mean of the per-hemisphere z-scores.

    A RadLens convention (documented, not a published rule): the normative models are per
    hemisphere and publish no left-right correlation, so the exact distribution of the sum is
    not known; the mean z keeps the scale of one hemisphere.
    """
    return 0.5 * (z_left + z_right)


def percentile_from_z(z: float) -> float:
    return float(100.0 * norm.cdf(z))
