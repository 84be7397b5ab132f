"""chest-xray task: two-model ensemble, per-model findings, confidence levels."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import _image_models as im
from core.config import get_settings
from core.io import load_scan
from core.tasks.chest_xray import CONFIDENCE_LEVELS, NO_FINDING, build, confidence_level


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return im.chest_folder(tmp_path_factory.mktemp("cx-weights"))


def _phantom_chest():
    from core.synth.samples import get_sample_case

    data, name = get_sample_case("Phantom chest PA (cardiomegaly + effusion, PNG)").loader()
    return load_scan(data, filename=name)


@pytest.mark.parametrize("p,name", [(0.95, "High"), (0.85, "High"), (0.849, "Moderate-High"), (0.7, "Moderate-High"),
                                    (0.6, "Moderate"), (0.5, "Moderate"), (0.4, "Low-Moderate"), (0.3, "Low-Moderate"),
                                    (0.1, "Low"), (0.0, "Low"), (1.0, "High")])
def test_confidence_levels(p: float, name: str) -> None:
    assert confidence_level(p).name == name
    assert "immediate review" in CONFIDENCE_LEVELS[0].recommendation.lower()


def test_ensemble_is_the_weighted_mean_of_both_models(weights: Path) -> None:
    task = build(weights_dir=weights, gate=im.rule_gates, settings=replace(get_settings(), confidence_threshold_chest_xray=0.0))
    assert task.weights == pytest.approx({"cx-densenet": 0.6, "cx-mobilenet": 0.4})
    r = task(_phantom_chest())
    assert r.status == "ok", r.reasons
    assert r.labels == tuple(im.CHEST_LABELS) and set(r.per_model) == {"cx-densenet", "cx-mobilenet"}
    expected = 0.6 * np.asarray(r.per_model["cx-densenet"]) + 0.4 * np.asarray(r.per_model["cx-mobilenet"])
    np.testing.assert_allclose(r.probabilities, expected, atol=1e-9)
    rows = r.extras["findings"]
    assert [row["finding"] for row in rows] == sorted(r.labels, key=lambda l: -r.probabilities[r.labels.index(l)])
    for row in rows:
        assert row["level"] == confidence_level(row["probability"]).name
        assert {"cx-densenet", "cx-mobilenet"} <= set(row)
    present = [row["finding"] for row in rows if row["present"]]
    assert r.prediction == (", ".join(present) if present else NO_FINDING)
    assert r.extras["cam_model"] == "cx-densenet" and r.cam is not None
    assert set(r.extras["cams_by_model"]) == {"cx-densenet", "cx-mobilenet"}
    for cams in r.extras["cams_by_model"].values():
        assert set(cams) == set(im.CHEST_LABELS)
        assert all(c.shape == (64, 64) and 0 <= c.min() and c.max() <= 1 for c in cams.values())


def test_unable_to_determine_keeps_candidates(weights: Path) -> None:
    r = build(weights_dir=weights, gate=im.rule_gates, settings=replace(get_settings(), confidence_threshold_chest_xray=0.999))(_phantom_chest())
    assert r.status == "rejected" and r.reasons[0].startswith("Unable to determine") and len(r.probabilities) == 3


def test_real_samples_png_and_dicom(weights: Path, samples_dir: Path) -> None:
    task = build(weights_dir=weights, gate=im.rule_gates)
    files = sorted((samples_dir / "chest_xray").glob("*.png")) + sorted((samples_dir / "chest_xray").glob("*.dcm"))
    assert len(files) == 4
    for path in files:
        r = task(load_scan(path))
        assert r.qc.accepted, (path.name, r.reasons)
        assert len(r.probabilities) == 3 and len(r.per_model) == 2
