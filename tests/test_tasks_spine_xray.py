"""spine-xray task: three-family ensemble, metadata/default thresholds, detector boxes when abnormal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import _image_models as im
from core.io import load_scan
from core.tasks.spine_xray import (DEFAULT_DECISION_THRESHOLD, DEFAULT_FAMILY_WEIGHTS, build, decision_confidence)
from core.types import Box


def _phantom_spine():
    from core.synth.samples import get_sample_case

    data, name = get_sample_case("Phantom lumbar spine lateral (lesions, DICOM)").loader()
    return load_scan(data, filename=name)


@pytest.fixture(scope="module")
def forced_abnormal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # decision threshold 0 in metadata: every image is "abnormal", so the detector always runs
    return im.spine_folder(tmp_path_factory.mktemp("sp-abn"), decision=0.0)


def test_decision_confidence() -> None:
    assert decision_confidence(0.449, 0.449) == pytest.approx(0.5)
    assert decision_confidence(1.0, 0.449) == pytest.approx(1.0)
    assert decision_confidence(0.0, 0.449) == pytest.approx(1.0)
    assert decision_confidence(0.2245, 0.449) == pytest.approx(0.75)


def test_default_weights_and_unverified_threshold(tmp_path: Path) -> None:
    task = build(weights_dir=im.spine_folder(tmp_path, detector=False), gate=im.rule_gates)
    raw = {m.id: task.weight_of(m) for m in task.members}
    assert raw == {"sp-densenet": DEFAULT_FAMILY_WEIGHTS["densenet"], "sp-resnet": DEFAULT_FAMILY_WEIGHTS["resnet"],
                   "sp-efficientnet": DEFAULT_FAMILY_WEIGHTS["efficientnet"]}
    threshold, source = task.decision_threshold
    assert threshold == DEFAULT_DECISION_THRESHOLD and "UNVERIFIED" in source
    r = task(_phantom_spine())
    assert r.extras["threshold_unverified"] and r.labels == ("normal", "abnormal")
    scores = r.extras["model_scores"]
    expected = sum(task.weights[k] * v for k, v in scores.items())
    assert r.extras["ensemble_score"] == pytest.approx(expected)
    if r.prediction == "abnormal":
        assert "No lesion detector" in r.extras["detector_note"]


def test_metadata_copy_of_0449_is_still_flagged_unverified(tmp_path: Path) -> None:
    task = build(weights_dir=im.spine_folder(tmp_path, decision=DEFAULT_DECISION_THRESHOLD, detector=False), gate=im.rule_gates)
    assert task.decision_threshold == (DEFAULT_DECISION_THRESHOLD, "metadata of sp-densenet")
    assert task(_phantom_spine()).extras["threshold_unverified"]


def test_abnormal_runs_the_detector_with_pixel_boxes(forced_abnormal: Path) -> None:
    task = build(weights_dir=forced_abnormal, gate=im.rule_gates)
    assert task.detector is not None and task.decision_threshold == (0.0, "metadata of sp-densenet")
    scan = _phantom_spine()
    r = task(scan)
    assert r.status == "ok" and r.prediction == "abnormal", r.reasons
    assert set(r.per_model) == {"sp-densenet", "sp-resnet", "sp-efficientnet"}
    assert "detect_s" in r.timings_s and "spine-det" in r.model_versions
    rows, cols = scan.shape[1], scan.shape[0]  # displayed image is array[..., 0].T
    assert r.boxes, "the untrained detector at conf 1e-4 proposes boxes"
    for b in r.boxes:
        assert isinstance(b, Box) and b.label in im.SPINE_DET_LABELS + [f"unused-{i}" for i in range(73)]
        assert -1 <= b.x0 <= b.x1 <= cols + 1 and -1 <= b.y0 <= b.y1 <= rows + 1
    assert r.cam is not None and r.cam.shape == scan.shape[:2]
    assert {m: set(c) for m, c in r.extras["cams_by_model"].items()} == {
        "sp-densenet": {"abnormal"}, "sp-resnet": {"abnormal"}, "sp-efficientnet": {"abnormal"}}
    assert r.extras["dicom_meta"]


def test_real_spine_dicom(forced_abnormal: Path, samples_dir: Path) -> None:
    [path] = sorted((samples_dir / "spine_xray").glob("*.dicom"))
    r = build(weights_dir=forced_abnormal, gate=im.rule_gates)(load_scan(path))
    assert r.qc.accepted, r.reasons
    assert r.status == "ok" and r.prediction == "abnormal"
    img_rows, img_cols = load_scan(path).shape[1], load_scan(path).shape[0]
    for b in r.boxes:
        assert b.x1 <= img_cols + 1 and b.y1 <= img_rows + 1
    assert np.isfinite(r.extras["ensemble_score"])
