"""core.brain.analyze end to end on head phantoms (fast: 2 mm) and real samples (slow / samples).

Fast tests run the whole pipeline on small 2 mm phantoms with the working resolution set
to 2 mm; full-resolution accuracy checks are marked slow.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
import pytest

from core.brain import BrainReport, NoBrainFoundError, NotAVolumeError, analyze
from core.brain import accuracy, pipeline
from core.types import Modality, RejectedInput, Scan, Severity

VOLUME_KEYS = ("icv", "brain", "gm", "wm", "csf", "hippocampus_left", "hippocampus_right", "hippocampus_total",
               "lateral_ventricles")
MASK_KEYS = ("hippocampus_left", "hippocampus_right", "lateral_ventricles", "brain", "gm", "wm", "csf")


@pytest.fixture(scope="module")
def lowres():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "WORKING_SPACING_MM", 2.0)
        mp.setattr(pipeline, "SYN_ITERATIONS", (30, 10, 0))  # pieces, not accuracy, are tested at 2 mm
        yield


@pytest.fixture(scope="module")
def small_phantom():
    from core.synth.head import make_head_phantom

    return make_head_phantom(seed=3, shape=(84, 100, 84), spacing_mm=2.0, atrophy=0.2)


@pytest.fixture(scope="module")
def small_report(lowres, small_phantom) -> BrainReport:
    return analyze(small_phantom.scan, age_years=70, sex="F", run_cnn=False)


def test_report_shape(small_report, small_phantom):
    r = small_report
    for k in VOLUME_KEYS:
        assert k in r.volumes_ml and r.volumes_ml[k] > 0, k
        if k != "icv":
            assert r.volumes_icv_fraction[k] == pytest.approx(r.volumes_ml[k] / r.volumes_ml["icv"], rel=1e-3)
    assert r.volumes_ml["hippocampus_total"] == pytest.approx(r.volumes_ml["hippocampus_left"] + r.volumes_ml["hippocampus_right"], abs=0.01)
    for k in MASK_KEYS:
        m = r.masks[k]
        assert m.shape == r.scan.shape and m.dtype == bool and m.any(), k
    assert r.scan.array.shape[0] == 1 and r.scan.history[-1].startswith("brain:")
    b = r.biomarkers
    assert 0 <= b.hippocampal_volume_percentile <= 100 and 0 <= b.ventricle_percentile <= 100
    assert b.hippocampus_left_percentile is not None and b.hippocampus_right_percentile is not None
    assert b.ventricle_enlargement in ("none", "mild", "moderate", "severe")
    assert b.cortical_thinning in ("none", "mild", "moderate", "severe")
    assert "CentileBrain" in b.norm_source and "PCN" in b.norm_source
    # the information-only Brain Charts note states its percentile, not only its caveat
    assert f"Brain Charts total-ventricle percentile {b.ventricles_total_percentile_braincharts:.1f} " in " ".join(b.notes)
    assert b["hippocampal_volume_percentile"] == b.hippocampal_volume_percentile  # mapping-style access
    assert r.stage.status in ("ok", "unable_to_determine")
    assert r.stage_cnn.status == "unavailable" and r.stage_agreement is None
    assert set(r.timings_s) >= {"n4", "affine", "syn", "warp", "tissue", "total"}
    assert not r.qc.warnings or all(c.severity is Severity.WARNING for c in r.qc.warnings)


def test_left_right_and_anatomy_on_low_res_phantom(small_report, small_phantom):
    """Masks sit on the phantom's structures (generous bounds at 2 mm)."""
    r, lab = small_report, small_phantom.labels
    truth = small_phantom.volumes_ml
    assert r.volumes_ml["icv"] == pytest.approx(truth["icv"], rel=0.15)
    # left masks are on the left side (x < 0 in RAS world; phantom centred on the origin)
    for key, sign in (("hippocampus_left", -1), ("hippocampus_right", 1)):
        x = (np.argwhere(r.masks[key]) @ r.scan.affine[:3, :3].T + r.scan.affine[:3, 3])[:, 0]
        assert np.sign(x.mean()) == sign
    lv_true = np.isin(lab, (5, 6))
    lv = r.masks["lateral_ventricles"]
    assert (lv & lv_true).sum() / lv.sum() > 0.6  # most of the mask is true ventricle
    hc = r.masks["hippocampus_left"] | r.masks["hippocampus_right"]
    assert (hc & np.isin(lab, (7, 8, 9, 3))).sum() / hc.sum() > 0.8  # on grey matter near the hippocampus


def test_deterministic(lowres, small_phantom, small_report):
    import tempfile
    from pathlib import Path

    before = set(Path(tempfile.gettempdir()).glob("radlens_ants_*"))
    again = analyze(small_phantom.scan, age_years=70, sex="F", run_cnn=False)
    # ANTs transform files live in a per-analysis folder that is removed afterwards.
    assert set(Path(tempfile.gettempdir()).glob("radlens_ants_*")) == before
    assert again.volumes_ml == small_report.volumes_ml
    assert again.biomarkers.as_dict() == small_report.biomarkers.as_dict()
    assert again.stage.probabilities == small_report.stage.probabilities
    for k in MASK_KEYS:
        assert np.array_equal(again.masks[k], small_report.masks[k])


def test_intracranial_affine_falls_back_to_the_first_with_a_warning(lowres, small_phantom, small_report, monkeypatch):
    """When the second (intracranial) affine is not trusted, the ICV comes from the first
    registration's template mask and the QC report says so; nothing else changes."""
    assert "icv_affine" in small_report.timings_s
    assert "icv_affine" not in {c.code for c in small_report.qc.warnings}
    assert any(h.startswith("brain: second affine for the intracranial volume (") for h in small_report.history)
    monkeypatch.setattr(pipeline, "MAX_ICV_AFFINE_SCALE_RATIO", 1.0 + 1e-9)  # nothing but the first passes
    r = analyze(small_phantom.scan, age_years=70, sex="F", run_cnn=False)
    warning = {c.code: c for c in r.qc.warnings}["icv_affine"]
    assert "first registration only" in warning.message and "volume scale" in warning.message
    assert any("intracranial volume not used" in h for h in r.history)
    assert r.volumes_ml["icv"] != small_report.volumes_ml["icv"]
    assert r.volumes_ml["icv"] == pytest.approx(small_phantom.volumes_ml["icv"], rel=0.15)
    for k in ("hippocampus_left", "hippocampus_right"):
        assert r.volumes_ml[k] == small_report.volumes_ml[k]  # the hippocampal path never used it


def test_ventricles_reaching_past_the_search_are_flagged(lowres, small_phantom, small_report, monkeypatch):
    """When the search limit cuts the ventricles broadly, the QC report says their volume is less
    reliable; the volumes themselves do not change."""
    from core.brain import tissue

    assert "ventricles_beyond_search" not in {c.code for c in small_report.qc.warnings}
    assert 0.0 <= small_report.details["ventricle_search_truncated_fraction"] <= tissue.VENTRICLE_TRUNCATED_FRACTION
    monkeypatch.setattr(tissue, "VENTRICLE_TRUNCATED_FRACTION", -1.0)  # every result counts as cut
    r = analyze(small_phantom.scan, age_years=70, sex="F", run_cnn=False)
    warning = {c.code: c for c in r.qc.warnings}["ventricles_beyond_search"]
    assert "reach past the search region" in warning.message and "less reliable" in warning.message
    assert r.volumes_ml == small_report.volumes_ml


def test_missing_age_and_thick_slices(lowres, small_phantom):
    s = small_phantom.scan
    aff = s.affine.copy()
    aff[:3, 2] *= 3.0  # keep every 3rd slice: 6 mm slices
    thick = replace(s, array=np.ascontiguousarray(s.array[:, :, :, ::3]), affine=aff)
    r = analyze(thick, age_years=None, sex=None, run_cnn=False)
    codes = {c.code for c in r.qc.warnings}
    assert "thick_slices" in codes and "percentiles_unavailable" in codes
    assert any("lower reliability" in c.message for c in r.qc.warnings)
    b = r.biomarkers
    assert b.hippocampal_volume_percentile is None and b.ventricle_percentile is None
    assert "age" in b.percentile_unavailable_reason
    assert b.ventricle_enlargement in ("none", "mild", "moderate", "severe")
    assert r.stage_rule.status == "unable_to_determine"
    assert r.volumes_ml["hippocampus_total"] > 0 and r.volumes_ml["lateral_ventricles"] > 0


def _scan(arr: np.ndarray, spacing: float = 2.0) -> Scan:
    return Scan(arr[None].astype(np.float32), np.diag([spacing, spacing, spacing, 1.0]), Modality.MR, {}, "test")


def test_refuses_2d_image():
    with pytest.raises(NotAVolumeError) as exc:
        analyze(Scan(np.ones((1, 256, 256, 1), np.float32), np.eye(4), Modality.MR, {}, "slice"))
    assert "3D" in str(exc.value)
    assert isinstance(exc.value, RejectedInput)


def test_refuses_blank_volume():
    with pytest.raises(NoBrainFoundError):
        analyze(_scan(np.zeros((80, 96, 80))))


def test_refuses_limb_like_volume(lowres):
    """A knee-like cylinder (fat, muscle, cortical bone, marrow) is not a head."""
    x, y, z = np.meshgrid(np.arange(80) - 40, np.arange(80) - 40, np.arange(100), indexing="ij")
    r = np.sqrt(x ** 2 + y ** 2) * 2.0  # mm
    img = np.where(r < 70, 0.9, 0.0)  # subcutaneous fat
    img = np.where(r < 62, 0.35, img)  # muscle
    img = np.where(r < 22, 0.05, img)  # cortical bone
    img = np.where(r < 17, 0.8, img)  # fatty marrow
    img = img + np.random.default_rng(0).normal(0, 0.02, img.shape)
    with pytest.raises(NoBrainFoundError) as exc:
        analyze(_scan(img.astype(np.float32)))
    assert "brain" in str(exc.value).lower() or "head" in str(exc.value).lower()


def test_refuses_head_sized_blob_without_brain(lowres):
    """A uniform ball passes the affine gate (a blob is brain-shaped) but has no brain inside."""
    idx = np.indices((80, 96, 80)) - np.array([40, 48, 40])[:, None, None, None]
    ball = (np.sqrt((idx ** 2).sum(0)) < 30) * 1.0 + np.random.default_rng(2).normal(0, 0.02, (80, 96, 80))
    with pytest.raises(NoBrainFoundError) as exc:
        analyze(_scan(ball.astype(np.float32)))
    assert "brain" in str(exc.value).lower()


def test_refuses_noise_volume(lowres):
    img = np.random.default_rng(1).random((80, 96, 80)).astype(np.float32)
    with pytest.raises(NoBrainFoundError):
        analyze(_scan(img))


def test_refuses_2d_knee_dicom(samples_dir):
    from core.io import load_scan

    knee = load_scan(samples_dir / "knee_mri" / "IM-0001-0041-0001.dcm")
    with pytest.raises(NotAVolumeError):
        analyze(knee)


# --- slow: full resolution ---------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _full_phantom_errors(seed: int, atrophy: float) -> dict[str, float]:
    """Relative errors of one 1 mm phantom analysis (core.brain.accuracy, the bench's own measure)."""
    from core.brain.accuracy import phantom_errors

    errors = phantom_errors(seed, atrophy)
    print(seed, atrophy, {k: f"{100 * v:+.1f}%" for k, v in errors.items()})
    return errors


PHANTOMS = [(1, 0.0), (2, 0.6)]


@pytest.mark.slow
@pytest.mark.parametrize("seed,atrophy", PHANTOMS)
def test_phantom_icv_and_ventricles_within_5_percent(seed, atrophy):
    """ICV and lateral ventricles (FreeSurfer definition) within 5 % of the phantom's truth."""
    e = _full_phantom_errors(seed, atrophy)
    assert abs(e["icv"]) < 0.05
    assert abs(e["lateral_ventricles"]) < 0.05


@pytest.mark.slow
@pytest.mark.parametrize("seed,atrophy", [(3, 0.3), (5, 0.6), (6, 0.0)])
def test_more_phantoms_icv_and_ventricles_within_5_percent(seed, atrophy):
    e = _full_phantom_errors(seed, atrophy)
    assert abs(e["icv"]) < 0.05
    assert abs(e["lateral_ventricles"]) < 0.05


@pytest.mark.slow
def test_extreme_atrophy_phantom_icv_within_5_percent():
    """Phantom atrophy 1.0 (brain -21 %): the CSF over the convexity is wide; the cavity still reaches the skull."""
    e = _full_phantom_errors(4, 1.0)
    assert abs(e["icv"]) < 0.05


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=(
    "Known limitation at extreme atrophy (phantom 1.0: ventricles x2.8): lateral ventricles -6.7 %; "
    "the warped prior is too narrow for ventricles this large and most of the missed volume lies "
    "beyond the 10 mm search along the widened body (a wider search there flowed into cisterns on "
    "another phantom; the report warns instead). See core/brain/README.md."))
def test_extreme_atrophy_phantom_ventricles_within_5_percent():
    e = _full_phantom_errors(4, 1.0)
    assert abs(e["lateral_ventricles"]) < 0.05


@pytest.mark.slow
@pytest.mark.parametrize("seed,atrophy", accuracy.PHANTOMS)  # all the bench measures
def test_phantom_hippocampus_within_10_percent(seed, atrophy):
    """The atlas-shaped phantom hippocampi (core.synth.mtl) are measured within 10 %."""
    e = _full_phantom_errors(seed, atrophy)
    assert abs(e["hippocampus_left"]) < 0.10 and abs(e["hippocampus_right"]) < 0.10


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=(
    "Known limitation: the warped single-atlas hippocampus regresses towards the template's "
    "proportions: it reads small phantom hippocampi high and large ones low (measured over six "
    "phantoms -6.5 .. +8.9 %, Dice 0.89-0.92); seed 1 left -6.5 %, seed 2 right +6.1 %. The "
    "hippocampal head meets the amygdala with no intensity edge, so the warp there follows its "
    "regularisation. See core/brain/README.md."))
@pytest.mark.parametrize("seed,atrophy", PHANTOMS)
def test_phantom_hippocampus_within_5_percent(seed, atrophy):
    e = _full_phantom_errors(seed, atrophy)
    assert abs(e["hippocampus_left"]) < 0.05 and abs(e["hippocampus_right"]) < 0.05


@pytest.mark.slow
def test_chris_t1_adult_ranges_and_determinism(samples_dir):
    from core.io import load_scan

    scan = load_scan(samples_dir / "brain_t1" / "chris_t1.nii.gz")
    a = analyze(scan, age_years=45, sex="M", run_cnn=False)
    v = a.volumes_ml
    print(v, a.timings_s)
    assert 1100 <= v["icv"] <= 2000
    assert 2.5 <= v["hippocampus_left"] <= 5.5 and 2.5 <= v["hippocampus_right"] <= 5.5
    assert 5 <= v["lateral_ventricles"] <= 80
    assert 1.5 <= a.biomarkers.cortical_thickness_mm <= 4.0
    b = analyze(scan, age_years=45, sex="M", run_cnn=False)
    assert b.volumes_ml == a.volumes_ml
