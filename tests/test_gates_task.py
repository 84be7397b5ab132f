"""The input-gate task and run_gates with the learned gate on phantoms and generated negatives.

Phantoms come from the test split seeds (never seen in training); the photograph is a
held-out scikit-image picture.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.gates import run_gates
from core.gates.gate_data import generate
from core.tasks import get_task
from core.types import Modality, Scan


def _raster_scan(img: np.ndarray) -> Scan:
    """A Scan as core.io makes it for an 8-bit PNG/JPEG (values 0..255, no tags)."""
    arr = np.clip(img, 0, 1) * 255.0
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    arr = np.ascontiguousarray(arr.transpose(0, 2, 1)[..., None], dtype=np.float32)  # (C, x=col, y=row, 1)
    meta = {"format": "png", "modality": "UNKNOWN", "bits_stored": 8, "spacing_known": False,
            "colour": arr.shape[0] == 3}
    return Scan(arr, np.eye(4), Modality.UNKNOWN, meta, "phantom.png sha256:0")


@pytest.fixture(scope="module")
def gate():
    return get_task("input-gate")


@pytest.mark.parametrize("source,expected,page", [
    ("xray_chest", "xray/chest", "chest-xray"),
    ("xray_spine", "xray/spine", "spine-xray"),
    ("mri_brain_slice", "mri/brain", "brain-tumor"),
    ("mri_head_levels", "mri/brain", "brain-tumor"),
    ("mri_knee", "mri/knee", None),
])
def test_phantoms_routed_and_accepted_by_their_page(gate, source, expected, page):
    imgs = generate(source, "test", 3, 224)
    hits = 0
    for img in imgs:
        scan = _raster_scan(img)
        res = gate(scan)
        assert set(res.kind) == {"mri", "xray", "ct", "photo", "other"}
        hits += res.prediction == expected
        for task in ("brain-tumor", "chest-xray", "spine-xray"):
            assert run_gates(scan, task).accepted == (task == page) or res.prediction != expected
    assert hits >= 2, (source, hits)


@pytest.mark.parametrize("source", ["photo", "text", "noise", "drawing"])
def test_negatives_refused_by_every_page(source):
    for img in generate(source, "test", 3, 224):
        scan = _raster_scan(img)
        for task in ("brain-tumor", "chest-xray", "spine-xray"):
            report = run_gates(scan, task)
            assert not report.accepted, (source, task)
            assert report.reasons


def test_blank_image_rejected_by_task(gate):
    res = gate(_raster_scan(np.full((128, 128), 0.5)))
    assert res.status == "rejected" and res.prediction is None and res.reasons


def test_uncertain_routing_gives_unable_to_determine(gate, monkeypatch):
    from dataclasses import replace

    import core.tasks.input_gate as mod
    from core.config import get_settings

    strict = replace(get_settings(), confidence_threshold_input_gate=1.01)
    monkeypatch.setattr(mod, "get_settings", lambda: strict)
    res = gate(_raster_scan(generate("xray_chest", "test", 1, 224)[0]))
    assert res.prediction is None
    assert any("Unable to determine" in r for r in res.reasons)
