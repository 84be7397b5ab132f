"""AppTests of the Brain MRI page.

The fast tests patch :func:`core.brain.analyze` with a report built from a phantom's ground-truth
labels (the page's rendering is under test, not the volumetry), while the staging CNN and the
progression model run for real. The slow test runs the real analysis on a small phantom.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from core.synth.head import as_nifti_bytes, make_head_phantom
from tests.apptest_utils import assert_clean, elements, page_text, run_page, upload

PAGE = "pages/2_Brain_MRI.py"
STAGES = ("Non-Demented", "Very Mild Dementia", "Mild Dementia", "Moderate Dementia")


def _phantom(seed: int, atrophy: float = 0.6):
    return make_head_phantom(seed=seed, shape=(80, 96, 80), spacing_mm=2.0, atrophy=atrophy)


def _fake_analyze(phantom):
    """An analyze() stand-in returning a BrainReport from the phantom's own label map."""
    from core.brain import Biomarkers, BrainReport, Stage
    from core.tasks import get_task
    from core.types import QCReport

    labels = phantom.labels

    def analyze(scan, age_years=None, sex=None, *, run_cnn=True):
        assert scan.shape == labels.shape
        masks = {"hippocampus_left": labels == 7, "hippocampus_right": labels == 8,
                 "lateral_ventricles": np.isin(labels, (5, 6)), "brain": np.isin(labels, (3, 4, 7, 8, 9, 10, 11)),
                 "icv": labels >= 2}
        v = dict(phantom.volumes_ml)
        vols = {k: v[k] for k in ("icv", "brain", "gm", "wm", "csf", "hippocampus_left", "hippocampus_right",
                                  "lateral_ventricles", "lateral_ventricle_left", "lateral_ventricle_right")}
        vols["hippocampus_total"] = v["hippocampus"]
        known = age_years is not None and sex is not None
        bio = Biomarkers(hippocampal_volume_percentile=8.0 if known else None,
                         hippocampus_left_percentile=10.0 if known else None,
                         hippocampus_right_percentile=7.0 if known else None,
                         ventricle_percentile=91.0 if known else None, ventricle_left_percentile=None,
                         ventricle_right_percentile=None, ventricle_enlargement="moderate", cortical_thinning="mild",
                         cortical_thickness_mm=2.2, norm_source="test norms",
                         percentile_unavailable_reason="" if known else "age or sex missing")
        rule = Stage("Mild Dementia", {"Non-Demented": 0.05, "Very Mild Dementia": 0.2, "Mild Dementia": 0.65,
                                       "Moderate Dementia": 0.1}, "ok", "rule", confidence=0.65)
        res = get_task("alzheimers")(scan)
        probs = dict(zip(res.labels, res.probabilities))
        cnn = Stage(res.prediction or "Unable to determine", probs, "ok" if res.ok else "unable_to_determine", "cnn",
                    confidence=res.confidence)
        return BrainReport(volumes_ml=vols, volumes_icv_fraction={k: x / vols["icv"] for k, x in vols.items()},
                           biomarkers=bio, stage=rule, stage_rule=rule, stage_cnn=cnn,
                           stage_agreement=(cnn.label == rule.label) if cnn.status == "ok" else None, masks=masks,
                           timings_s={"total": 1.0}, qc=QCReport(), scan=scan, history=(), age_years=age_years,
                           sex=sex, cnn_result=res)

    return analyze


def _with_inputs(at, age=None, sex=None):
    if age is not None:
        at.number_input(key="brain_age").set_value(age)
    if sex is not None:
        at.selectbox(key="brain_sex").set_value(sex)
    return at.run()


def test_volume_renders_everything(monkeypatch):
    import core.brain

    ph = _phantom(seed=31)
    monkeypatch.setattr(core.brain, "analyze", _fake_analyze(ph))
    at = run_page(PAGE)
    assert_clean(at)
    at = _with_inputs(at, age=72, sex="F")
    at = upload(at, [("phantom_t1.nii.gz", as_nifti_bytes(ph.scan))], key="brain_upload")
    assert_clean(at)
    text = page_text(at)
    for expected in ("Volumes and norms", "Hippocampus, left", "Lateral ventricles", "Regions of interest",
                     "Left hippocampus", "Staging", "Biomarker rule", "3D CNN", "Progression risk", "6 months",
                     "3 years", "Suggested follow-up", "Phantom-trained", "ICV-adjusted centiles"):
        assert expected in text, expected
    assert elements(at, "bidi_component"), "the 3D view is missing"
    assert len(elements(at, "image")) >= 3  # the three overlay planes
    assert any(str(m.label) == "1 year" for m in at.metric)
    # Grad-CAM overlay toggles on without error
    at.toggle(key="brain_cam").set_value(True)
    at = at.run()
    assert_clean(at)
    assert "Grad-CAM" in page_text(at)


def test_missing_age_keeps_the_rest_working(monkeypatch):
    import core.brain

    ph = _phantom(seed=32)
    monkeypatch.setattr(core.brain, "analyze", _fake_analyze(ph))
    at = run_page(PAGE)
    at = upload(at, [("phantom_t1.nii.gz", as_nifti_bytes(ph.scan))], key="brain_upload")
    assert_clean(at)
    text = page_text(at)
    assert "Percentiles unavailable" in text and "Enter age and sex" in text
    assert "Enter the age to estimate the progression risk" in text
    assert "Biomarker rule" in text


def test_2d_image_is_refused_clearly():
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((128, 128)) * 255).astype(np.uint8)).save(buf, format="PNG")
    at = run_page(PAGE)
    at = upload(at, [("slice.png", buf.getvalue())], key="brain_upload")
    assert_clean(at)
    text = page_text(at)
    assert "single 2D image" in text and "3D" in text
    assert "Volumes and norms" not in text


def test_risk_calculator_without_a_scan():
    at = run_page(PAGE)
    at = _with_inputs(at, age=78, sex="M")
    at.selectbox(key="brain_risk_stage").set_value("Very Mild Dementia")
    at = at.run()
    assert_clean(at)
    text = page_text(at)
    assert "Very Mild Dementia" in text and "Mild Dementia" in text and "Suggested follow-up" in text
    assert "Mitchell" in text  # the source of the baseline is shown


def test_page_without_a_scan_loads_the_templates_for_the_first_analysis():
    """While it waits for a scan the page loads the MNI templates and the atlas, so the first
    analysis does not pay for them (~5 s)."""
    from core.brain.atlas import template_rois
    from core.mni import load_template

    load_template.cache_clear()
    template_rois.cache_clear()
    at = run_page(PAGE)
    assert_clean(at)
    assert load_template.cache_info().currsize == 2  # the 1 mm and 2 mm templates
    assert template_rois.cache_info().currsize == 1


@pytest.mark.slow
def test_real_analysis_on_a_small_phantom(monkeypatch):
    from core.brain import pipeline

    # the 2 mm working grid the volumetry tests use for this phantom (the page is under test, not accuracy)
    monkeypatch.setattr(pipeline, "WORKING_SPACING_MM", 2.0)
    ph = make_head_phantom(seed=3, shape=(84, 100, 84), spacing_mm=2.0, atrophy=0.2)
    at = run_page(PAGE, timeout_s=600)
    at = _with_inputs(at, age=70, sex="M")
    at = upload(at, [("phantom_t1.nii.gz", as_nifti_bytes(ph.scan))], key="brain_upload")
    assert_clean(at)
    text = page_text(at)
    assert "Volumes and norms" in text and "Progression risk" in text
    assert elements(at, "bidi_component")


def test_centile_chart_colours_each_centile_alike_in_both_panels():
    """The legend is shared, so a centile must have the same colour on the left and the right."""
    from core.ui.brain import centile_figure
    from tests.records_fixtures import brain_report

    fig = centile_figure(brain_report())
    by_name: dict[str, set] = {}
    for trace in fig.data:
        if trace.name.startswith("P"):
            by_name.setdefault(trace.name, set()).add(trace.line.color)
    assert len(by_name) == 7
    assert all(len(colours) == 1 and None not in colours for colours in by_name.values()), by_name
