"""brain-tumor task: Result contract, thresholds, gates, missing models, registry."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import _image_models as im
from core.config import get_settings
from core.io import load_scan
from core.tasks.brain_tumor import LABELS, build
from core.types import QCReport, Result, Task


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return im.brain_folder(tmp_path_factory.mktemp("bt-weights"))


def _phantom_scan(label: str = "glioma"):
    from core.synth.samples import get_sample_case

    data, name = get_sample_case(f"Phantom brain slice: {label}").loader()
    return load_scan(data, filename=name)


def test_result_contract_on_a_phantom_slice(weights: Path) -> None:
    task = build(weights_dir=weights, gate=im.rule_gates, settings=replace(get_settings(), confidence_threshold_brain_tumor=0.0))
    assert isinstance(task, Task) and task.name == "brain-tumor" and set(task.labels) == set(LABELS)
    scan = _phantom_scan()
    r = task(scan)
    assert isinstance(r, Result) and r.status == "ok", r.reasons
    assert len(r.labels) == len(r.probabilities) == 4 and abs(sum(r.probabilities) - 1) < 1e-5
    assert r.prediction == r.labels[int(np.argmax(r.probabilities))]
    assert r.confidence == pytest.approx(max(r.probabilities))
    assert set(r.per_model) == {"bt-densenet"} and r.per_model["bt-densenet"] == pytest.approx(r.probabilities)
    assert r.cam is not None and r.cam.shape == scan.shape[:2] and 0 <= r.cam.min() and r.cam.max() <= 1
    assert set(r.extras["cams"]) == set(LABELS)
    assert r.model_versions == {"bt-densenet": "0.0-test"}
    assert {"gate_s", "preprocess_s", "forward_s", "postprocess_s", "total_s"} <= set(r.timings_s)
    assert isinstance(r.qc, QCReport) and r.qc.accepted
    assert r.extras["notices"] and "phantom" in r.extras["notices"][0]


def test_below_threshold_is_unable_to_determine_with_candidates(weights: Path) -> None:
    task = build(weights_dir=weights, gate=im.rule_gates, settings=replace(get_settings(), confidence_threshold_brain_tumor=0.99))
    r = task(_phantom_scan("meningioma"))
    assert r.status == "rejected" and r.prediction is None
    assert r.reasons[0].startswith("Unable to determine")
    assert len(r.labels) == 4 and len(r.probabilities) == 4 and r.per_model


def test_gate_refusal_has_reasons_and_no_prediction(weights: Path) -> None:
    from core.types import Modality, Scan

    blank = Scan(np.zeros((1, 256, 256, 1), np.float32), np.eye(4), Modality.UNKNOWN, {}, "blank.png sha256:0")
    r = build(weights_dir=weights, gate=im.rule_gates)(blank)
    assert r.status == "rejected" and r.reasons and r.prediction is None and not r.qc.accepted
    assert r.probabilities == ()


def test_no_models_is_a_refusal_not_a_crash(tmp_path: Path) -> None:
    r = build(weights_dir=tmp_path, gate=im.rule_gates)(_phantom_scan())
    assert r.status == "rejected" and "No model is available" in r.reasons[0]


def test_real_samples(weights: Path, samples_dir: Path) -> None:
    task = build(weights_dir=weights, gate=im.rule_gates)
    for path in sorted((samples_dir / "brain_tumor").glob("*.jpg")):
        r = task(load_scan(path))
        assert r.status in ("ok", "rejected") and r.qc.accepted, (path.name, r.reasons)
        assert len(r.probabilities) == 4


def test_registry_builds_from_settings(weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.tasks import clear_task_cache, get_task, list_tasks

    monkeypatch.setenv("RADLENS_WEIGHTS_DIR", str(weights))
    get_settings.cache_clear()
    clear_task_cache()
    try:
        assert {"brain-tumor", "chest-xray", "spine-xray"} <= set(list_tasks())
        task = get_task("brain-tumor")
        assert [m.id for m in task.members] == ["bt-densenet"]
    finally:
        monkeypatch.delenv("RADLENS_WEIGHTS_DIR")
        get_settings.cache_clear()
        clear_task_cache()


def test_concurrent_calls_give_the_serial_answer(weights: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    task = build(weights_dir=weights, gate=im.rule_gates)
    scans = [_phantom_scan(label) for label in ("glioma", "pituitary")]
    serial = [task(s) for s in scans]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(task, scans * 3))
    for i, r in enumerate(results):
        ref = serial[i % 2]
        np.testing.assert_allclose(r.probabilities, ref.probabilities, atol=1e-6)
        np.testing.assert_allclose(r.cam, ref.cam, atol=1e-4)
    net = task.members[0].module
    assert all(not m._forward_hooks for m in net.modules())
