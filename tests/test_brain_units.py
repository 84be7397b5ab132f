"""Fast unit tests of core.brain pieces: norms, grading, staging rule, geometry helpers, atlas."""

from __future__ import annotations

import numpy as np
import pytest

from core.brain import grading, norms
from core.brain.report import STAGE_LABELS, UNABLE, Stage


# --- norms ----------------------------------------------------------------------------------
def test_centilebrain_matches_published_check_values():
    # NORMS.md s.3 check values: M L age 50 eTIV 1.5e6 -> 4222.9; F L age 70 eTIV 1.5e6 -> 3884.1
    assert norms.centilebrain_predicted_mm3("L", 50, "M", 1.5e6)[0] == pytest.approx(4222.9, abs=0.1)
    assert norms.centilebrain_predicted_mm3("L", 70, "F", 1.5e6)[0] == pytest.approx(3884.1, abs=0.1)


def test_centilebrain_percentile_is_phi_of_z():
    pred, rmse = norms.centilebrain_predicted_mm3("R", 65, "F", 1.4e6)
    r = norms.centilebrain_percentile("R", (pred - rmse) / 1000.0, 65, "F", 1400.0)
    assert r.z == pytest.approx(-1.0, abs=1e-6)
    assert r.percentile == pytest.approx(15.87, abs=0.01)


@pytest.mark.parametrize("roi,age,sex,p50,p97", [
    ("Left-Hippocampus", 60, "F", 3906, 4701),          # NORMS.md s.2 table rows
    ("Right-Lateral-Ventricle", 70, "M", 14887, 31953),
])
def test_pcn_table_centiles_roundtrip(roi, age, sex, p50, p97):
    assert norms.pcn_percentile(roi, p50 / 1000.0, age, sex).percentile == pytest.approx(50.0, abs=0.01)
    assert norms.pcn_percentile(roi, p97 / 1000.0, age, sex).percentile == pytest.approx(97.5, abs=0.01)


def test_pcn_interpolates_across_age_and_is_monotone():
    mid = norms.pcn_percentile("Left-Hippocampus", 3.8, 62.5, "F")
    lo = norms.pcn_percentile("Left-Hippocampus", 3.8, 60, "F")
    hi = norms.pcn_percentile("Left-Hippocampus", 3.8, 65, "F")
    assert lo.percentile < mid.percentile < hi.percentile  # same volume ranks higher when older
    assert norms.pcn_percentile("Left-Hippocampus", 3.0, 60, "F").percentile < lo.percentile


def test_age_outside_table_is_flagged():
    assert "outside" in norms.pcn_percentile("Left-Hippocampus", 4.0, 95, "M").note


def test_bad_sex_rejected():
    with pytest.raises(ValueError):
        norms.pcn_percentile("Left-Hippocampus", 4.0, 60, "X")


# --- grading -----------------------------------------------------------------------------------
def test_ventricle_grades_follow_centile_bands():
    assert grading.ventricle_grade_from_z(0.0) == "none"
    assert grading.ventricle_grade_from_z(1.5) == "mild"
    assert grading.ventricle_grade_from_z(2.2) == "moderate"
    assert grading.ventricle_grade_from_z(3.0) == "severe"


def test_thinning_grades():
    ref = grading.expected_thickness_mm(70)
    assert grading.thinning_grade(ref, 70) == "none"
    assert grading.thinning_grade(ref * 0.88, 70) == "mild"
    assert grading.thinning_grade(ref * 0.80, 70) == "moderate"
    assert grading.thinning_grade(ref * 0.70, 70) == "severe"
    assert grading.expected_thickness_mm(80) < grading.expected_thickness_mm(50)


def _rule(zh: float, zv: float, th: float = 2.45) -> Stage:
    return grading.rule_stage(zh, zh, (3.5, 3.6), (0.33, 0.33), zv, 1.5, th, 70.0, 0.6)


def test_rule_stage_monotone_in_atrophy():
    stages = [_rule(z, v, t) for z, v, t in [(0.3, 0.0, 2.45), (-1.9, 1.0, 2.3), (-2.6, 2.2, 2.0), (-3.5, 3.0, 1.7)]]
    expected = list(STAGE_LABELS)
    means = [sum(i * s.probabilities[l] for i, l in enumerate(STAGE_LABELS)) for s in stages]
    assert means == sorted(means)
    assert stages[0].label == expected[0] and stages[-1].label == expected[-1]
    for s in stages:
        assert sum(s.probabilities.values()) == pytest.approx(1.0)


def test_rule_stage_deterministic_and_needs_hippocampus():
    a, b = _rule(-1.7, 1.4), _rule(-1.7, 1.4)
    assert a.probabilities == b.probabilities
    none = grading.rule_stage(None, None, (3.5, 3.6), (0.33, 0.33), 0.0, 1.0, 2.5, None, 0.6)
    assert none.status == "unable_to_determine" and none.label == UNABLE and "age and sex" in none.reasons[0]


def test_borderline_rule_is_unable_to_determine():
    # Right on the P5 hippocampal boundary the answer flips under measurement error.
    s = grading.rule_stage(-1.95, -1.95, (3.5, 3.5), (0.33, 0.33), 1.28, 1.5, 2.3, 70.0, 0.9)
    assert s.status == "unable_to_determine"


# --- combination with the CNN ------------------------------------------------------------------
def test_combine_rule_and_cnn():
    from core.brain.pipeline import _combine

    p_rule = dict(zip(STAGE_LABELS, (0.1, 0.8, 0.1, 0.0)))
    p_cnn = dict(zip(STAGE_LABELS, (0.1, 0.7, 0.2, 0.0)))
    rule = Stage("Very Mild Dementia", p_rule, "ok", "rule", confidence=0.8)
    cnn = Stage("Very Mild Dementia", p_cnn, "ok", "cnn", confidence=0.7)
    st, agree = _combine(rule, cnn, 0.6)
    assert agree is True and st.status == "ok" and st.source == "combined"
    assert st.probabilities["Very Mild Dementia"] == pytest.approx(0.75)
    unavailable = Stage(UNABLE, {}, "unavailable", "cnn", reasons=("missing",))
    st2, agree2 = _combine(rule, unavailable, 0.6)
    assert agree2 is None and st2.source == "rule" and st2.label == "Very Mild Dementia"
    cnn_other = Stage("Mild Dementia", dict(zip(STAGE_LABELS, (0.0, 0.1, 0.9, 0.0))), "ok", "cnn", confidence=0.9)
    st3, agree3 = _combine(rule, cnn_other, 0.6)
    assert agree3 is False and st3.status == "unable_to_determine"  # 0.45 / 0.5 split: below 0.6


def test_cnn_unavailable_and_rejecting(monkeypatch):
    import core.tasks as tasks
    from core.brain.pipeline import _run_cnn
    from core.types import Modality, RejectedInput, Scan

    scan = Scan(np.zeros((1, 4, 4, 4), np.float32), np.eye(4), Modality.MR, {}, "x")

    def missing(name):
        raise KeyError("no alzheimers task")

    monkeypatch.setattr(tasks, "get_task", missing)
    st, res = _run_cnn(scan)
    assert st.status == "unavailable" and res is None

    def rejecting(name):
        def task(s):
            raise RejectedInput("not a brain")
        return task

    monkeypatch.setattr(tasks, "get_task", rejecting)
    st, _ = _run_cnn(scan)
    assert st.status == "unavailable" and "not a brain" in st.reasons[0]

    def broken(name):
        raise IndexError("list index out of range")

    monkeypatch.setattr(tasks, "get_task", broken)
    st, _ = _run_cnn(scan)
    assert st.status == "unavailable" and "IndexError" in st.reasons[0]


# --- geometry ------------------------------------------------------------------------------------
def test_ants_conversion_roundtrip():
    from core.brain.register import ants_affine, to_ants

    aff = np.array([[-0.9, 0, 0, 80.0], [0, 0, 1.2, -100.0], [0, 1.1, 0, -60.0], [0, 0, 0, 1]])
    img = to_ants(np.zeros((5, 6, 7), np.float32), aff)
    np.testing.assert_allclose(ants_affine(img), aff, atol=1e-5)
    # physical point of voxel (1,2,3) in LPS equals the RAS point with x, y negated
    ras = aff @ np.array([1, 2, 3, 1.0])
    lps = np.asarray(img.origin) + np.asarray(img.direction) @ (np.asarray(img.spacing) * np.array([1, 2, 3]))
    np.testing.assert_allclose(lps, ras[:3] * np.array([-1, -1, 1]), atol=1e-5)


def test_downsample_keeps_world_position():
    from core.brain.preprocess import downsample

    aff = np.diag([1.0, 1.0, 1.0, 1.0])
    vol = np.zeros((8, 8, 8), np.float32)
    vol[2:4, 2:4, 2:4] = 1
    low, laff = downsample(vol, aff, 2)
    assert low[1, 1, 1] == 1.0
    np.testing.assert_allclose(laff @ [1, 1, 1, 1], [2.5, 2.5, 2.5, 1])  # block centre


def test_atlas_rois_are_freesurfer_sized():
    from core.brain.atlas import template_rois

    r = template_rois()
    voxel_ml = abs(np.linalg.det(r.affine[:3, :3])) / 1000
    # BRAIN-NOTES: template-space FreeSurfer hippocampus ~6.4 mL per side
    assert r.hippocampus_left.sum() * voxel_ml == pytest.approx(6.44, abs=0.2)
    assert r.hippocampus_right.sum() * voxel_ml == pytest.approx(6.40, abs=0.2)
    lv_ml = r.lateral_ventricles.sum() * voxel_ml
    assert 5 < lv_ml < 40
    # left hippocampus on the left (x < 0 in RAS)
    x = (np.argwhere(r.hippocampus_left) @ r.affine[:3, :3].T + r.affine[:3, 3])[:, 0]
    assert x.max() < 0


def test_split_left_right_follows_template_midline():
    from core.brain.pipeline import _split_lr

    mask = np.zeros((10, 4, 4), bool)
    mask[1:3, 1, 1] = True  # x = -4..-3 mm: left
    mask[7:9, 1, 1] = True  # x = +2..+3 mm: right
    aff = np.eye(4)
    aff[0, 3] = -5.0
    left, right = _split_lr(mask, aff, np.eye(4))
    assert left.sum() == 2 and right.sum() == 2 and left[1, 1, 1] and right[8, 1, 1]
    shifted = np.eye(4)
    shifted[0, 3] = 3.0  # subject midline at x = +3 mm: the voxel at +2 mm is now left
    left, right = _split_lr(mask, aff, shifted)
    assert left.sum() == 3 and right.sum() == 1


def _skull_shells(csf_mm: float, table_mm: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Concentric head: WM/GM brain (r < 40 mm), CSF, inner table, bright diploe, outer table, scalp (1 mm)."""
    from scipy import ndimage

    n = 120
    r = np.sqrt(((np.indices((n, n, n)) - (n - 1) / 2) ** 2).sum(0))
    brain_r = 40.0
    cavity_r = brain_r + csf_mm
    img = np.zeros(r.shape, np.float32)
    for radius, value in ((cavity_r + table_mm + 10, 0.9), (cavity_r + table_mm + 5, 0.06), (cavity_r + table_mm + 3, 0.55),
                          (cavity_r + table_mm, 0.06), (cavity_r, 0.12), (brain_r, 0.45), (brain_r - 3, 0.8)):
        img[r < radius] = value
    img = ndimage.gaussian_filter(img, 0.5) + np.random.default_rng(0).normal(0, 0.02, img.shape).astype(np.float32)
    return img, r < brain_r, int((r < cavity_r).sum())


@pytest.mark.parametrize("csf_mm,table_mm", [(1.5, 1.5), (5.0, 2.0)])
def test_intracranial_growth_fills_csf_and_stops_at_a_thin_inner_table(csf_mm, table_mm):
    """The cavity grows from the template mask through CSF to the skull; a thin inner table
    blurred by bright marrow reads like CSF and is kept out by the skull margin."""
    from core.brain.tissue import TissueIntensities, intracranial_mask

    img, template_mask, true_voxels = _skull_shells(csf_mm, table_mm)
    ti = TissueIntensities(csf=0.12, gm=0.45, wm=0.8)
    _, _, voxels = intracranial_mask(img, template_mask, ti, 1.0)
    assert voxels / true_voxels == pytest.approx(1.0, abs=0.05)  # the template mask alone: -10 % / -30 %
    if csf_mm < 2:
        _, _, no_margin = intracranial_mask(img, template_mask, ti, 1.0, skull_margin_mm=0.0)
        assert no_margin / true_voxels > 1.05  # without the margin the growth takes the table


def test_intracranial_affine_is_used_only_near_the_first_registration():
    """A second affine far from the first (the grown mask took in scalp) or weak is not trusted."""
    from core.brain.pipeline import icv_affine_usable

    assert icv_affine_usable(0.61, 0.69, 0.45) == (True, "")  # phantom atrophy 1.0: ratio 1.13
    ok, why = icv_affine_usable(0.80, 1.20, 0.70)
    assert not ok and "1.50 x" in why
    ok, why = icv_affine_usable(0.80, 0.50, 0.70)
    assert not ok and "0.62 x" in why
    ok, why = icv_affine_usable(0.80, 0.82, 0.12)
    assert not ok and "similarity 0.12" in why


def test_template_mask_reaching_past_the_marrow_is_cut_back_to_the_skull():
    """A template mask placed beyond the inner table (over the skull base) holds bright marrow
    that is not brain: it is cut there, and the bone beyond goes with it."""
    from scipy import ndimage

    from core.brain.tissue import TissueIntensities, cut_beyond_marrow, intracranial_mask

    csf_mm, table_mm = 3.0, 2.0
    img, brain, true_voxels = _skull_shells(csf_mm, table_mm)
    r = ndimage.distance_transform_edt(~brain) + 40.0  # radius from the centre, outside the brain
    too_far = brain | (r < 40.0 + csf_mm + table_mm + 5.0)  # out through the diploe to the outer table
    ti = TissueIntensities(csf=0.12, gm=0.45, wm=0.8)
    _, _, voxels = intracranial_mask(img, too_far, ti, 1.0)
    assert voxels / true_voxels == pytest.approx(1.0, abs=0.05)
    assert too_far.sum() / true_voxels > 1.3  # what the mask alone would count
    sm = ndimage.gaussian_filter(img, 0.7)
    assert np.array_equal(cut_beyond_marrow(brain, sm, ti, 1.0), brain)  # no marrow inside: unchanged


def test_ventricle_search_reaches_past_the_prior_but_not_below_its_floor():
    """Enlarged ventricles are followed up to 10 mm beyond the prior, but not down a temporal horn."""
    from core.brain.tissue import TissueIntensities, gate_ventricles

    img = np.full((60, 60, 60), 0.8, np.float32)  # white matter
    img[20:40, 25:35, 30:40] = 0.12  # the ventricle, wider than its prior
    img[28:32, 28:32, 12:30] = 0.12  # a "temporal horn" running down from it
    prior = np.zeros(img.shape, np.float32)
    prior[24:36, 27:33, 32:38] = 1.0
    allowed = np.zeros(img.shape, bool)
    allowed[:, :, 30:] = True  # above the prior's floor
    ti = TissueIntensities(csf=0.12, gm=0.45, wm=0.8)
    icv = np.ones(img.shape, bool)
    free = gate_ventricles(img, prior, ti, icv, 1.0).mask
    floor = gate_ventricles(img, prior, ti, icv, 1.0, allowed=allowed).mask
    body = np.zeros(img.shape, bool)
    body[20:40, 25:35, 30:40] = True
    assert floor[body].mean() > 0.95  # the whole widened body, beyond the prior
    assert not floor[:, :, :29].any()  # nothing of the horn below the floor (one rim voxel may touch 29)
    assert free[:, :, 20:29].any()  # without the floor the search follows the horn down


def test_ventricle_search_leaves_out_csf_beside_the_hippocampus():
    """CSF touching the ventricle but lying beside the hippocampus (fissure, cistern) is not ventricle."""
    from core.brain.tissue import TissueIntensities, gate_ventricles, ventricle_search_allowed

    img = np.full((60, 60, 60), 0.8, np.float32)  # white matter
    img[20:40, 25:35, 30:40] = 0.12  # the ventricle (its prior)
    hippocampus = np.zeros(img.shape, bool)
    hippocampus[42:52, 26:34, 30:38] = True
    img[hippocampus] = 0.45  # grey matter
    img[40:48, 34:37, 30:38] = 0.12  # fissure CSF along the hippocampus, touching the ventricle
    img[30:34, 35:42, 33:37] = 0.12  # a genuine extension of the ventricle away from the hippocampus
    prior = np.zeros(img.shape, np.float32)
    prior[20:40, 25:35, 30:40] = 1.0
    ti = TissueIntensities(csf=0.12, gm=0.45, wm=0.8)
    icv = np.ones(img.shape, bool)
    above = np.ones(img.shape, bool)
    allowed = ventricle_search_allowed(above, hippocampus, 1.0)
    with_margin = gate_ventricles(img, prior, ti, icv, 1.0, allowed=allowed).mask
    without = gate_ventricles(img, prior, ti, icv, 1.0, allowed=above).mask
    fissure = np.zeros(img.shape, bool)
    fissure[42:48, 34:37, 30:38] = True  # within the 10 mm search, beyond the ventricle's rim
    assert without[fissure].mean() > 0.9  # connectivity alone takes the fissure in
    assert not with_margin[fissure].any()
    assert with_margin[30:34, 36:42, 33:37].all()  # the extension away from the hippocampus stays
    assert with_margin[20:40, 25:35, 30:40].all()  # and so does the prior's ventricle


def test_ventricle_gate_reports_when_its_search_limit_cuts_the_ventricles():
    """Ventricles wider than the prior + 10 mm all round are cut at the search limit and flagged;
    ventricles that end within the search are found whole and not flagged."""
    from scipy import ndimage

    from core.brain.tissue import TissueIntensities, gate_ventricles

    ti = TissueIntensities(csf=0.12, gm=0.45, wm=0.8)
    prior = np.zeros((70, 70, 70), np.float32)
    prior[25:45, 31:39, 31:39] = 1.0
    icv = np.ones(prior.shape, bool)

    def ventricle_beyond_prior(steps: int) -> np.ndarray:
        img = np.full(prior.shape, 0.8, np.float32)
        img[ndimage.binary_dilation(prior > 0, iterations=steps)] = 0.12
        return img

    wide = gate_ventricles(ventricle_beyond_prior(12), prior, ti, icv, 1.0)  # past the 10-step search
    assert wide.truncated and wide.truncated_fraction > 0.9
    assert (wide.mask == ndimage.binary_dilation(prior > 0, iterations=10)).all()  # found up to the limit only
    within = ventricle_beyond_prior(6)
    found = gate_ventricles(within, prior, ti, icv, 1.0)
    assert not found.truncated and found.truncated_fraction == 0.0
    assert (found.mask == (within < 0.5)).all()


@pytest.mark.parametrize("gm_fraction", [0.3, 0.5, 0.7])
def test_wm_peak_is_the_brightest_large_peak_even_when_grey_matter_dominates(gm_fraction):
    """WM is found as the brightest large histogram peak whatever the GM/WM mix of the mask.

    With more grey than white matter the old rule (maximum above the median) returned the upper
    flank of the grey-matter peak.
    """
    from core.brain.tissue import wm_peak

    rng = np.random.default_rng(0)
    n = 200_000
    n_gm, n_csf = int(gm_fraction * n), n // 10
    vals = np.concatenate([rng.normal(0.12, 0.03, n_csf), rng.normal(0.48, 0.04, n_gm),
                           rng.normal(0.85, 0.04, n - n_gm - n_csf),
                           rng.normal(1.3, 0.02, n // 200)])  # a few bright vessels / fat voxels
    image = vals.reshape(1, 1, -1).astype(np.float32)
    assert wm_peak(image, np.ones_like(image, dtype=bool)) == pytest.approx(0.85, abs=0.03)
