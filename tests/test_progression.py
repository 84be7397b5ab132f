"""Progression risk model: ranges, monotonicity where the literature supports it, inputs."""

from __future__ import annotations

import itertools
import math

import pytest

from core.progression import STAGES, canonical_stage, progression_risk

BASE = dict(age_years=75, sex="F", education_years=12, apoe4_alleles=0)


def test_keys_ranges_and_time_monotone():
    for stage in STAGES:
        r = progression_risk(stage, **BASE)
        vals = [r["6_month"], r["1_year"], r["3_year"]]
        assert all(0.0 <= v <= 1.0 for v in vals)
        assert vals[0] < vals[1] < vals[2]
        assert isinstance(r["recommended_followup"], str) and r.recommended_followup
        d = r.as_dict()
        assert d["1_year"] == r["1_year"] and d["annual_hazard"] > 0
        assert math.isclose(r.risk_at(1.0), r["1_year"])


def test_risk_formula_is_one_minus_exp():
    r = progression_risk("Non-Demented", **BASE)
    assert math.isclose(r["3_year"], 1 - math.exp(-3 * r.annual_hazard))
    product = r.baseline_hazard
    for f in r.factors:
        product *= f.hazard_ratio
    assert math.isclose(product, r.annual_hazard)


def test_cn_baseline_matches_roberts_2012_at_reference():
    # At the cohort mid-age, reference education, no APOE e4, no hippocampal input: the published rate.
    r = progression_risk("Non-Demented", age_years=79.5, sex=None, education_years=12, apoe4_alleles=0)
    assert math.isclose(r.annual_hazard, 0.0636)
    m = progression_risk("Non-Demented", age_years=79.5, sex="M", education_years=12, apoe4_alleles=0)
    f = progression_risk("Non-Demented", age_years=79.5, sex="female", education_years=12, apoe4_alleles=0)
    assert math.isclose(m.annual_hazard, 0.0724) and math.isclose(f.annual_hazard, 0.0573)


def test_mci_baseline_from_acr():
    r = progression_risk("VeryMildDemented", age_years=70, sex="M", education_years=12, apoe4_alleles=0)
    assert math.isclose(r["1_year"], 0.096)
    c = progression_risk("Very Mild Dementia", age_years=70, sex="M", education_years=12, apoe4_alleles=0,
                         mci_setting="community")
    assert math.isclose(c["1_year"], 0.049)


def test_older_is_not_lower_and_strictly_higher_for_cn():
    for stage in STAGES:
        risks = [progression_risk(stage, **{**BASE, "age_years": a})["1_year"] for a in (60, 70, 80, 90)]
        assert risks == sorted(risks)
    cn = [progression_risk("Non-Demented", **{**BASE, "age_years": a})["1_year"] for a in (60, 70, 80, 90)]
    assert all(a < b for a, b in zip(cn, cn[1:]))


@pytest.mark.parametrize("stage", ["Non-Demented", "Very Mild Dementia"])
def test_apoe4_increases_risk(stage):
    r = [progression_risk(stage, **{**BASE, "apoe4_alleles": n})["3_year"] for n in (0, 1, 2)]
    assert r[0] < r[1] <= r[2]
    for src in ("qiu2004", "farrer1997"):
        cn = [progression_risk("Non-Demented", **{**BASE, "apoe4_alleles": n}, apoe_cn_source=src)["1_year"]
              for n in (0, 1, 2)]
        assert cn[0] < cn[1] < cn[2]


@pytest.mark.parametrize("stage", ["Non-Demented", "Very Mild Dementia"])
def test_education_lowers_risk(stage):
    r = [progression_risk(stage, **{**BASE, "education_years": e})["1_year"] for e in (6, 12, 18)]
    assert r[0] > r[1] > r[2]


@pytest.mark.parametrize("stage", ["Non-Demented", "Very Mild Dementia"])
def test_lower_hippocampal_percentile_higher_risk(stage):
    r = [progression_risk(stage, **BASE, hippocampal_percentile=p)["1_year"] for p in (5, 30, 49, 50, 80, 99)]
    assert r == sorted(r, reverse=True) and r[0] > r[-1]
    none = progression_risk(stage, **BASE)["1_year"]
    assert r[-1] < none < r[0]  # centred: the unknown case sits between the two halves


def test_worse_stage_higher_risk_at_matched_typical_covariates():
    chain = ["Non-Demented", "Very Mild Dementia", "Mild Dementia"]
    grid = itertools.product((60, 65, 70, 75, 80), ("M", "F", None), (8, 12, 16), (0, 1), (None, 20, 80))
    for age, sex, edu, apoe, pct in grid:
        risks = [progression_risk(s, age_years=age, sex=sex, education_years=edu, apoe4_alleles=apoe,
                                  hippocampal_percentile=pct)["1_year"] for s in chain]
        assert risks[0] < risks[1] < risks[2], (age, sex, edu, apoe, pct, risks)


def test_moderate_is_flagged_outside_modelled_classes():
    r = progression_risk("ModerateDemented", **BASE)
    assert not r.within_modelled_classes
    assert "CDR 3" in r.next_stage
    assert any("severe" in n for n in r.notes)
    assert progression_risk("Mild Dementia", **BASE).within_modelled_classes


def test_followup_shortens_with_risk():
    order = {"6 months": 0, "1 year": 1, "2 years": 2, "3 years": 3}
    low = progression_risk("Non-Demented", age_years=60, sex="F", education_years=18, apoe4_alleles=0)
    high = progression_risk("Mild Dementia", **BASE)
    assert order[low.recommended_followup] > order[high.recommended_followup]
    assert high.recommended_followup == "6 months"


def test_kaggle_and_canonical_spellings():
    assert canonical_stage("NonDemented") == "Non-Demented"
    assert canonical_stage("VeryMildDemented") == "Very Mild Dementia"
    assert canonical_stage("mild dementia") == "Mild Dementia"
    assert canonical_stage("Moderate Dementia") == "Moderate Dementia"


@pytest.mark.parametrize("kwargs", [
    dict(current_class="Severe", **BASE),
    dict(current_class="Non-Demented", **{**BASE, "apoe4_alleles": 3}),
    dict(current_class="Non-Demented", **{**BASE, "age_years": 5}),
    dict(current_class="Non-Demented", **{**BASE, "education_years": -1}),
    dict(current_class="Non-Demented", **BASE, hippocampal_percentile=120),
    dict(current_class="Non-Demented", **{**BASE, "sex": "x"}),
])
def test_bad_inputs_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        progression_risk(**kwargs)


def test_every_factor_has_a_source():
    for stage in STAGES:
        r = progression_risk(stage, **BASE, hippocampal_percentile=10)
        assert r.baseline_source
        for f in r.factors:
            assert f.source and (f.hazard_ratio != 1.0 or f.note)
