"""Progression risk: a proportional-hazards model of moving to the next dementia stage.

Usable without a scan::

    from core.progression import progression_risk
    r = progression_risk("Very Mild Dementia", age_years=74, sex="F", education_years=12, apoe4_alleles=1)
    r["1_year"], r.recommended_followup

Model (every number below is from ../shared/FACTS.md sections 4-5, cited where it is encoded):

* Stages are the four OASIS/Kaggle classes mapped to CDR 0 / 0.5 / 1 / 2 (FACTS.md section 5). CDR 0.5
  ("Very Mild Dementia") is treated as the MCI stage of the conversion literature.
* Each transition has a constant baseline annual hazard ``h0`` (events per person-year). Published
  annual conversion *proportions* (ACR) are converted with ``h = -ln(1 - ACR)``; mean sojourn times ``T``
  with ``h = 1 / T`` (exponential sojourn).
* Covariates multiply the hazard (proportional hazards): ``H = h0 * prod(HR_i)`` and the risk of
  progressing within ``t`` years is ``1 - exp(-H * t)``.

Modelling choices (shown in the UI as well):

* Published odds ratios / relative risks are used as hazard ratios. This is exact only for rare events
  and cohort designs; for case-control ORs it overstates the effect, which is why the default APOE source
  for the cognitively normal stage is the community cohort RR (Qiu 2004), not the clinic ORs (Farrer 1997).
* The baseline rates are population averages, but APOE and education hazard ratios are applied as if the
  baseline were the non-carrier / 12-years-of-education reference (the carrier and education mix of the
  source cohorts is not in FACTS.md). The hippocampal factor is centred exactly (below/above the median
  splits a population in halves).
* Age: the CN->MCI baseline (Roberts 2012, ages 70-89) is centred at the cohort's mid-age 79.5 y and scaled
  with the age gradient of MCI prevalence (Petersen 2018; prevalence gradient taken as incidence
  gradient). FACTS.md has no age gradient for conversion *within* MCI or dementia, so none is applied
  there (risk is flat in age for those stages, not decreasing).
* Education (-7 %/y for dementia, PMC7721642) is applied to CN->MCI and MCI->dementia (assumes the
  dementia gradient holds for its prodrome); not to progression within dementia.
* Mild -> moderate and moderate -> severe use MMSE decline rates over the Perneczky 2006 MMSE bands; no
  covariates are applied (FACTS.md has none for the rate of decline after diagnosis).
* Moderate Dementia has no next stage among the four classes; its risk is for CDR 3 (severe, MMSE 0-10),
  which is outside the classes the CNN models, and is flagged so.
* Stage monotonicity (CN < MCI < mild) holds at matched typical covariates with the specialist MCI rate;
  with the community MCI rate (4.9 %/y) the published CN->MCI incidence (6.4 %/y) is itself higher, and
  for men above ~84 y or APOE e4/e4 carriers the CN->MCI hazard can exceed the MCI->dementia one, because
  the published modifiers differ between transitions. The moderate->severe hazard is lower than the
  mild->moderate one (slower MMSE decline per point of band width).

This is a research aid built from population averages; it is not a validated individual prognosis.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Mapping

# --------------------------------------------------------------------------------------------
# Stages (FACTS.md section 5: CDR <-> OASIS/Kaggle classes; MMSE ranges Perneczky 2006)
# --------------------------------------------------------------------------------------------
STAGES: tuple[str, ...] = ("Non-Demented", "Very Mild Dementia", "Mild Dementia", "Moderate Dementia")
CDR_OF_STAGE: dict[str, float] = {"Non-Demented": 0.0, "Very Mild Dementia": 0.5, "Mild Dementia": 1.0,
                                  "Moderate Dementia": 2.0}
SEVERE_STAGE = "Severe Dementia (CDR 3, outside the four modelled classes)"
NEXT_STAGE: dict[str, str] = {"Non-Demented": "Very Mild Dementia", "Very Mild Dementia": "Mild Dementia",
                              "Mild Dementia": "Moderate Dementia", "Moderate Dementia": SEVERE_STAGE}

_ALIASES: dict[str, str] = {
    "nondemented": "Non-Demented", "cn": "Non-Demented", "cdr0": "Non-Demented",
    "verymilddementia": "Very Mild Dementia", "verymilddemented": "Very Mild Dementia",
    "mci": "Very Mild Dementia", "cdr05": "Very Mild Dementia",
    "milddementia": "Mild Dementia", "milddemented": "Mild Dementia", "cdr1": "Mild Dementia",
    "moderatedementia": "Moderate Dementia", "moderatedemented": "Moderate Dementia", "cdr2": "Moderate Dementia",
}

HORIZONS_YEARS: dict[str, float] = {"6_month": 0.5, "1_year": 1.0, "3_year": 3.0}
# Follow-up intervals offered by recommended_followup, shortest first.
FOLLOWUP_INTERVALS: tuple[tuple[str, float], ...] = (("6 months", 0.5), ("1 year", 1.0), ("2 years", 2.0),
                                                     ("3 years", 3.0))
# Product rule, not a clinical guideline: follow up before the risk of progressing exceeds this.
DEFAULT_FOLLOWUP_MAX_RISK = 0.10

# --------------------------------------------------------------------------------------------
# Baseline hazards
# --------------------------------------------------------------------------------------------
# CN -> MCI: Roberts 2012 Neurology 78:342, Olmsted County 70-89 y: 63.6 / 1000 person-years,
# men 72.4, women 57.3 (FACTS.md section 4, [P]). Incidence per person-year is a hazard.
CN_TO_MCI_PER_PY = {None: 63.6 / 1000, "M": 72.4 / 1000, "F": 57.3 / 1000}
# Roberts 2012 cohort spans ages 70-89; we centre the rate at the midpoint (modelling choice).
CN_TO_MCI_REF_AGE_YEARS = (70 + 89) / 2

# MCI -> dementia: Mitchell & Shiri-Feshki 2009 Acta Psychiatr Scand 119:252, annual conversion rate
# specialist settings 9.6 %/y, community 4.9 %/y (FACTS.md section 4, [P]).
MCI_TO_DEMENTIA_ACR = {"specialist": 0.096, "community": 0.049}

# Mild -> moderate: leave the 5-point mild MMSE band (25 -> 20; Perneczky 2006 bands, FACTS.md section 5).
# Clark 1999 Arch Neurol 56:857: -3.4 MMSE points/y -> 5 / 3.4 = 1.47 y; PMC3014643 first-2-years phase
# -2.15/y -> 5 / 2.15 = 2.33 y (FACTS.md section 4 [P]; the [D] range there is 1.5-2.5 y). We use the
# mean of the two derived sojourn times.
MILD_BAND_POINTS = 5.0
CLARK_1999_MMSE_PER_YEAR = 3.4
EARLY_PHASE_MMSE_PER_YEAR = 2.15  # PMC3014643, first 2 years
MILD_SOJOURN_YEARS = 0.5 * (MILD_BAND_POINTS / CLARK_1999_MMSE_PER_YEAR + MILD_BAND_POINTS / EARLY_PHASE_MMSE_PER_YEAR)

# Moderate -> severe: moderate band MMSE 11-20 (10 points, Perneczky 2006), PMC3014643 middle phase
# -3.83 points/y -> 10 / 3.83 = 2.61 y [D].
MODERATE_BAND_POINTS = 10.0
MIDDLE_PHASE_MMSE_PER_YEAR = 3.83
MODERATE_SOJOURN_YEARS = MODERATE_BAND_POINTS / MIDDLE_PHASE_MMSE_PER_YEAR

# --------------------------------------------------------------------------------------------
# Modifiers
# --------------------------------------------------------------------------------------------
# Age gradient for CN -> MCI: Petersen 2018 AAN guideline (Neurology 90:126), MCI prevalence by age band
# 60-64 6.7 %, 65-69 8.4 %, 70-74 10.1 %, 75-79 14.8 %, 80-84 25.2 % (FACTS.md section 4 [P]).
# Least-squares slope of log prevalence on band mid-age [D] -> ~0.064 per year (doubling every ~10.8 y).
PETERSEN_2018_MCI_PREVALENCE = ((62.0, 0.067), (67.0, 0.084), (72.0, 0.101), (77.0, 0.148), (82.0, 0.252))


def _log_linear_slope(points: tuple[tuple[float, float], ...]) -> float:
    xs = [p[0] for p in points]
    ys = [math.log(p[1]) for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


CN_TO_MCI_LOG_HR_PER_YEAR_OF_AGE = _log_linear_slope(PETERSEN_2018_MCI_PREVALENCE)

# APOE e4, cognitively normal (risk of AD/dementia):
#  Qiu 2004 Kungsholmen community >= 75 y: RR 1.4 heterozygous, 3.1 homozygous (FACTS.md section 4 [P]).
#  Farrer 1997 JAMA 278:1349 clinic/autopsy: OR 3.2 (e3/e4), 14.9 (e4/e4) (FACTS.md section 4 [P]).
APOE_CN = {
    "qiu2004": {0: 1.0, 1: 1.4, 2: 3.1},
    "farrer1997": {0: 1.0, 1: 3.2, 2: 14.9},
}
APOE_CN_SOURCE = {
    "qiu2004": "Qiu 2004 Kungsholmen (community >=75 y): RR 1.4 heterozygous, 3.1 homozygous; RR used as HR",
    "farrer1997": "Farrer 1997 JAMA 278:1349: OR 3.2 (e3/e4), 14.9 (e4/e4); case-control OR used as HR (overstates)",
}
# APOE e4, MCI -> AD: pooled RR 2.09 (1.52-2.88), J Mol Neurosci 2013;50:257 (FACTS.md section 4 [P]).
# Published for carriers vs non-carriers; no separate homozygous figure, so 2 alleles get the same RR.
APOE_MCI_CARRIER_RR = 2.09

# Education: -7 % dementia risk per year of education, SSM Popul Health meta PMC7721642 (FACTS.md section 4).
EDUCATION_HR_PER_YEAR = 0.93
# Reference education of the baseline rates (modelling choice: Roberts 2012 splits education at 12 y).
EDUCATION_REF_YEARS = 12.0

# Hippocampal volume below the median, non-demented: HR 5.7 (1.5-22.2), Henneman 2009 Neurology 72:999
# (FACTS.md section 4 [P]). Chosen over Li 2016 (RR 2.59) because it comes with a threshold (the median)
# that maps onto a percentile. Centred on the population average: with half the population below the
# median, below = 2h/(1+h), above = 2/(1+h) times the average hazard.
HENNEMAN_2009_HR_BELOW_MEDIAN = 5.7
HIPPOCAMPAL_MEDIAN_PERCENTILE = 50.0


@dataclass(frozen=True)
class Factor:
    """One multiplicative term of the hazard.

    Attributes:
        name: what the factor is ("age", "APOE e4", ...).
        value: the input it was computed from, as text.
        hazard_ratio: multiplier applied to the baseline hazard (1.0 = no effect).
        source: citation from FACTS.md.
        note: modelling choice or reason it was not applied.
    """

    name: str
    value: str
    hazard_ratio: float
    source: str
    note: str = ""


@dataclass(frozen=True)
class ProgressionRisk:
    """Risk of progressing from ``current_stage`` to ``next_stage``.

    Indexable like a mapping: ``r["6_month"]``, ``r["1_year"]``, ``r["3_year"]`` (probabilities 0..1),
    ``r["recommended_followup"]`` and any other field name. :meth:`as_dict` gives plain data.

    Attributes:
        current_stage: canonical stage name (one of :data:`STAGES`).
        next_stage: the stage the risk refers to.
        risks: horizon key -> probability of progressing within it.
        annual_hazard: hazard used, events per person-year (baseline times all factors).
        baseline_hazard: baseline hazard of the transition before covariates, per person-year.
        baseline_source: citation of the baseline.
        factors: every factor considered, with its hazard ratio (1.0 when not applied) and source.
        recommended_followup: follow-up interval text, e.g. ``"1 year"``.
        followup_rule: how the interval was chosen.
        within_modelled_classes: False when the next stage is outside the four CNN classes.
        notes: modelling caveats to show to the user.
    """

    current_stage: str
    next_stage: str
    risks: Mapping[str, float]
    annual_hazard: float
    baseline_hazard: float
    baseline_source: str
    factors: tuple[Factor, ...]
    recommended_followup: str
    followup_rule: str
    within_modelled_classes: bool
    notes: tuple[str, ...] = field(default_factory=tuple)

    def risk_at(self, years: float) -> float:
        """Probability of progressing within ``years`` (``1 - exp(-H t)``)."""
        return _risk(self.annual_hazard, years)

    def __getitem__(self, key: str) -> Any:
        if key in self.risks:
            return self.risks[key]
        if key in self.__dataclass_fields__:
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def keys(self) -> list[str]:
        return list(self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        """Plain data: the horizon risks at the top level plus every field."""
        d = asdict(self)
        d["risks"] = dict(self.risks)
        return {**dict(self.risks), **d}


def canonical_stage(name: str) -> str:
    """Map a class name (RadLens or Kaggle spelling, case/space/punctuation-insensitive) to :data:`STAGES`.

    Raises:
        ValueError: for an unknown stage name.
    """
    key = re.sub(r"[^a-z0-9]", "", str(name).lower())
    if key in _ALIASES:
        return _ALIASES[key]
    raise ValueError(f"Unknown stage {name!r}; expected one of {', '.join(STAGES)} "
                     "(Kaggle spellings NonDemented, VeryMildDemented, MildDemented, ModerateDemented accepted)")


def _sex_key(sex: str | None) -> str | None:
    if sex is None:
        return None
    s = str(sex).strip().lower()
    if s in {"m", "male", "man"}:
        return "M"
    if s in {"f", "female", "woman"}:
        return "F"
    if s in {"", "unknown", "other", "none"}:
        return None
    raise ValueError(f"Unknown sex {sex!r}; use 'M', 'F' or None")


def _risk(hazard: float, years: float) -> float:
    return float(1.0 - math.exp(-hazard * years))


def _recommended_followup(hazard: float, max_risk: float) -> str:
    chosen = FOLLOWUP_INTERVALS[0][0]
    for label, years in FOLLOWUP_INTERVALS:
        if _risk(hazard, years) <= max_risk:
            chosen = label
    return chosen


def progression_risk(
    current_class: str,
    age_years: float,
    sex: str | None,
    education_years: float,
    apoe4_alleles: int,
    hippocampal_percentile: float | None = None,
    *,
    mci_setting: str = "specialist",
    apoe_cn_source: str = "qiu2004",
    followup_max_risk: float | None = None,
) -> ProgressionRisk:
    """Risk of progressing to the next stage at 6 months, 1 year and 3 years.

    Args:
        current_class: 'Non-Demented', 'Very Mild Dementia', 'Mild Dementia', 'Moderate Dementia'
            (or the Kaggle spellings).
        age_years: age in years (18-110). The CN baseline comes from a 70-89 y cohort; outside it the
            age gradient is extrapolated (noted).
        sex: 'M', 'F' or None (None uses the both-sexes rate).
        education_years: completed years of education (0-30).
        apoe4_alleles: number of APOE e4 alleles, 0, 1 or 2.
        hippocampal_percentile: optional hippocampal volume percentile (0-100) for age and sex.
        mci_setting: 'specialist' (memory clinic, 9.6 %/y) or 'community' (4.9 %/y) MCI conversion rate.
        apoe_cn_source: 'qiu2004' (cohort RR, default) or 'farrer1997' (case-control OR) for the CN stage.
        followup_max_risk: recommended follow-up is the longest offered interval (6 months, 1, 2, 3 years)
            whose progression risk stays at or below this (product rule, not a clinical guideline);
            default ``settings.progression_followup_max_risk`` (0.10).

    Returns:
        A :class:`ProgressionRisk`.

    Raises:
        ValueError: for inputs outside the accepted ranges.
    """
    stage = canonical_stage(current_class)
    sex_key = _sex_key(sex)
    if not (isinstance(age_years, (int, float)) and 18 <= float(age_years) <= 110):
        raise ValueError(f"age_years must be between 18 and 110, got {age_years!r}")
    if not (isinstance(education_years, (int, float)) and 0 <= float(education_years) <= 30):
        raise ValueError(f"education_years must be between 0 and 30, got {education_years!r}")
    if apoe4_alleles not in (0, 1, 2):
        raise ValueError(f"apoe4_alleles must be 0, 1 or 2, got {apoe4_alleles!r}")
    if hippocampal_percentile is not None and not (0 <= float(hippocampal_percentile) <= 100):
        raise ValueError(f"hippocampal_percentile must be in 0..100, got {hippocampal_percentile!r}")
    if mci_setting not in MCI_TO_DEMENTIA_ACR:
        raise ValueError(f"mci_setting must be one of {sorted(MCI_TO_DEMENTIA_ACR)}")
    if apoe_cn_source not in APOE_CN:
        raise ValueError(f"apoe_cn_source must be one of {sorted(APOE_CN)}")
    if followup_max_risk is None:
        from core.config import get_settings

        followup_max_risk = float(getattr(get_settings(), "progression_followup_max_risk", DEFAULT_FOLLOWUP_MAX_RISK))
    age = float(age_years)
    edu = float(education_years)
    notes: list[str] = [
        "Population-average hazard model from published rates (FACTS.md); not a validated individual prognosis.",
        "Odds ratios and relative risks are used as hazard ratios (modelling choice).",
    ]
    factors: list[Factor] = []

    if stage == "Non-Demented":
        baseline = CN_TO_MCI_PER_PY[sex_key]
        baseline_source = ("Roberts 2012 Neurology 78:342 (Olmsted County, 70-89 y): CN->MCI 63.6/1000 PY "
                           "(men 72.4, women 57.3)")
        factors.append(Factor("sex", sex_key or "not given", 1.0, "Roberts 2012",
                              "sex-specific baseline used" if sex_key else "both-sexes baseline used"))
        hr_age = math.exp(CN_TO_MCI_LOG_HR_PER_YEAR_OF_AGE * (age - CN_TO_MCI_REF_AGE_YEARS))
        factors.append(Factor(
            "age", f"{age:g} y", hr_age,
            "Petersen 2018 Neurology 90:126 MCI prevalence by age (log-linear slope "
            f"{CN_TO_MCI_LOG_HR_PER_YEAR_OF_AGE:.3f}/y [D])",
            f"centred at {CN_TO_MCI_REF_AGE_YEARS:g} y (mid-age of Roberts 2012); prevalence gradient used as "
            "incidence gradient"))
        if not 70 <= age <= 89:
            notes.append("Age outside the 70-89 y range of the CN->MCI source cohort: the age effect is extrapolated.")
        factors.append(Factor("APOE e4", f"{apoe4_alleles} allele(s)", APOE_CN[apoe_cn_source][apoe4_alleles],
                              APOE_CN_SOURCE[apoe_cn_source], "published for AD/dementia risk, applied to CN->MCI"))
        factors.append(_education_factor(edu))
        factors.append(_hippocampal_factor(hippocampal_percentile))
    elif stage == "Very Mild Dementia":
        acr = MCI_TO_DEMENTIA_ACR[mci_setting]
        baseline = -math.log(1.0 - acr)
        baseline_source = (f"Mitchell & Shiri-Feshki 2009 Acta Psychiatr Scand 119:252: MCI->dementia annual "
                           f"conversion {acr * 100:.1f} %/y ({mci_setting} settings); h = -ln(1 - ACR)")
        factors.append(Factor("age", f"{age:g} y", 1.0, "-",
                              "not applied: FACTS.md has no age gradient for conversion within MCI"))
        factors.append(Factor("APOE e4", f"{apoe4_alleles} allele(s)", APOE_MCI_CARRIER_RR if apoe4_alleles else 1.0,
                              "J Mol Neurosci 2013;50:257 (PMID 23242623): MCI->AD pooled RR 2.09 (1.52-2.88)",
                              "carrier vs non-carrier; no separate homozygous figure"))
        factors.append(_education_factor(edu))
        factors.append(_hippocampal_factor(hippocampal_percentile))
        notes.append("Very Mild Dementia (CDR 0.5) is treated as MCI for the conversion rate.")
    elif stage == "Mild Dementia":
        baseline = 1.0 / MILD_SOJOURN_YEARS
        baseline_source = (f"Mean time to cross the 5-point mild MMSE band (25->20): 5/3.4 (Clark 1999 Arch Neurol "
                           f"56:857) and 5/2.15 (PMC3014643 early phase) -> {MILD_SOJOURN_YEARS:.2f} y; h = 1/T")
        factors.extend(_not_applied_within_dementia(age, apoe4_alleles, edu, hippocampal_percentile))
    else:  # Moderate Dementia
        baseline = 1.0 / MODERATE_SOJOURN_YEARS
        baseline_source = (f"Time to cross the 10-point moderate MMSE band (20->10) at 3.83 points/y "
                           f"(PMC3014643 middle phase) -> {MODERATE_SOJOURN_YEARS:.2f} y; h = 1/T")
        factors.extend(_not_applied_within_dementia(age, apoe4_alleles, edu, hippocampal_percentile))
        notes.append("Moderate Dementia is the last of the four modelled classes; the risk shown is of reaching "
                     "severe dementia (CDR 3, MMSE 0-10), estimated from MMSE decline only.")

    hazard = baseline
    for f in factors:
        hazard *= f.hazard_ratio
    risks = {k: _risk(hazard, t) for k, t in HORIZONS_YEARS.items()}
    followup = _recommended_followup(hazard, followup_max_risk)
    rule = (f"longest of 6 months / 1 / 2 / 3 years with progression risk <= {followup_max_risk:.0%} "
            "(shortest offered: 6 months); a product rule, not a clinical guideline")
    return ProgressionRisk(
        current_stage=stage, next_stage=NEXT_STAGE[stage], risks=risks, annual_hazard=float(hazard),
        baseline_hazard=float(baseline), baseline_source=baseline_source, factors=tuple(factors),
        recommended_followup=followup, followup_rule=rule,
        within_modelled_classes=stage != "Moderate Dementia", notes=tuple(notes))


def _education_factor(edu: float) -> Factor:
    return Factor("education", f"{edu:g} y", EDUCATION_HR_PER_YEAR ** (edu - EDUCATION_REF_YEARS),
                  "PMC7721642 (SSM Popul Health meta): -7 % dementia risk per year of education",
                  f"relative to {EDUCATION_REF_YEARS:g} y (modelling choice)")


def _hippocampal_factor(percentile: float | None) -> Factor:
    h = HENNEMAN_2009_HR_BELOW_MEDIAN
    src = "Henneman 2009 Neurology 72:999: HR 5.7 (1.5-22.2) for hippocampal volume below the median"
    if percentile is None:
        return Factor("hippocampal volume", "not given", 1.0, src, "not given: population-average hazard")
    below = float(percentile) < HIPPOCAMPAL_MEDIAN_PERCENTILE
    hr = 2 * h / (1 + h) if below else 2 / (1 + h)
    return Factor("hippocampal volume", f"{float(percentile):.0f}th percentile", hr, src,
                  ("below" if below else "at or above") + " the median; centred so that the population average "
                  "is unchanged (sample median taken as the 50th norm percentile)")


def _not_applied_within_dementia(age: float, apoe: int, edu: float, pct: float | None) -> list[Factor]:
    why = "not applied: FACTS.md has no figure for this factor on the rate of decline after a dementia diagnosis"
    return [Factor("age", f"{age:g} y", 1.0, "-", why),
            Factor("APOE e4", f"{apoe} allele(s)", 1.0, "-", why),
            Factor("education", f"{edu:g} y", 1.0, "-", why),
            Factor("hippocampal volume", "not given" if pct is None else f"{float(pct):.0f}th percentile", 1.0, "-",
                   why)]


def annualised_change_pct(first_value: float, last_value: float, years: float) -> float:
    """Annualised percentage change between two measurements (e.g. a volume in mL).

    Linear (simple) rate: ``100 * (last - first) / first / years`` -- the form in which the
    atrophy rates of FACTS.md section 3 (Barnes 2009, Fotenos 2005) are reported. Negative values
    mean shrinkage.

    Raises:
        ValueError: when ``years <= 0`` or ``first_value == 0`` (no rate can be computed).
    """
    if years <= 0:
        raise ValueError("An annualised change needs two measurements at different dates.")
    if first_value == 0:
        raise ValueError("An annualised change needs a non-zero first measurement.")
    return 100.0 * (float(last_value) - float(first_value)) / float(first_value) / float(years)


__all__ = ["annualised_change_pct", "progression_risk", "ProgressionRisk", "Factor", "STAGES", "canonical_stage", "NEXT_STAGE", "CDR_OF_STAGE"]
