"""The longitudinal store keeps plain data per pseudonymous subject and never pixels."""

from __future__ import annotations

import numpy as np
import pytest

from core.store import Store
from core.types import Box, Check, QCReport, Result, Severity


def _result(prediction: str = "glioma", confidence: float = 0.9, status: str = "ok") -> Result:
    qc = QCReport((Check("blank_image", True, Severity.ERROR, "Image has content."),
                   Check("blur", False, Severity.WARNING, "Image looks blurred; reliability lower.")))
    return Result(task="brain-tumor", status=status, labels=("glioma", "notumor"), probabilities=(confidence, 1 - confidence),
                  prediction=prediction if status == "ok" else None, confidence=confidence,
                  per_model={"m1": (confidence, 1 - confidence)}, boxes=(Box("Osteophytes", 0.8, 1, 2, 3, 4),),
                  cam=np.ones((4, 4)), qc=qc, model_versions={"m1": "1.0.0"}, timings_s={"forward": 0.1},
                  extras={"demo": True, "volumes_ml": {"hippocampus_left": 3.9}})


def test_records_round_trip_per_subject(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'db' / 'radlens.sqlite'}")
    first = store.add_result(_result(confidence=0.9), subject="sub-aaa", source="a.png sha256:1", modality="UNKNOWN",
                             study_date="2025-01-02")
    store.add_result(_result(confidence=0.7), subject="sub-aaa", source="b.png sha256:2", modality="UNKNOWN")
    store.add_result(_result(status="rejected"), subject="sub-bbb", source="c.png sha256:3", modality="UNKNOWN")

    assert store.subjects() == ["sub-aaa", "sub-bbb"]
    records = store.studies("sub-aaa")
    assert [r.id for r in records][0] == first
    assert records[0].study_date == "2025-01-02"
    assert records[0].prediction == "glioma" and records[0].confidence == pytest.approx(0.9)
    assert records[0].payload["boxes"][0]["label"] == "Osteophytes"
    assert {q["code"] for q in records[0].qc} == {"blank_image", "blur"}
    assert store.studies("sub-bbb")[0].prediction is None


def test_heat_maps_and_pixels_are_not_stored(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'x.sqlite'}")
    store.add_result(_result(), subject="sub-aaa", source="a sha256:1", modality="MR")
    payload = store.studies("sub-aaa")[0].payload
    assert "cam" not in payload
    with pytest.raises(TypeError):
        store.add(subject="s", task="t", status="ok", source="x", modality="MR", payload={"img": np.zeros(3)},
                  qc=QCReport())


def test_timeline_flattens_numeric_payload_for_charts(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'x.sqlite'}")
    store.add_result(_result(), subject="sub-aaa", source="a sha256:1", modality="MR", study_date="2024-05-01")
    frame = store.timeline("sub-aaa")
    assert frame.loc[0, "date"] == "2024-05-01"
    assert frame.loc[0, "extras.volumes_ml.hippocampus_left"] == pytest.approx(3.9)
    assert "extras.demo" not in frame.columns  # flags are not chartable numbers
    assert frame.loc[0, "timings_s.forward"] == pytest.approx(0.1)


def test_bad_subject_and_date_are_refused(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with pytest.raises(ValueError, match="subject"):
        store.add_result(_result(), subject=" ", source="a", modality="MR")
    with pytest.raises(ValueError):
        store.add_result(_result(), subject="sub-a", source="a", modality="MR", study_date="02/01/2025")
