"""Real sample scans are routed to the right kind and body part; the wrong pages refuse them.

Uses ../shared/samples through the ``samples_dir`` fixture (skipped when absent) and the
committed ``weights/input-gate`` demo weights (the learned gate decides where the DICOM tags
are silent: PNG/JPEG, DICOMs without Modality or BodyPartExamined). Every file is routed right
since input-gate v3 (head slices at the orbit, skull-base and jaw levels; field-of-view priors);
several routings are close to the 60 % threshold (see weights/input-gate/metadata.json).
"""

from __future__ import annotations

import pytest

from core.gates import evaluate
from core.gates.expectations import EXPECTATIONS

# relative path -> (kind, body part, pages that must accept it)
EXPECTED: dict[str, tuple[str, str, set[str]]] = {
    "brain_mri_dicom/1-001.dcm": ("mri", "brain", {"brain-tumor"}),
    "brain_mri_dicom/1-002.dcm": ("mri", "brain", {"brain-tumor"}),
    "brain_mri_dicom/1-003.dcm": ("mri", "brain", {"brain-tumor"}),
    "brain_t1/chris_t1.nii.gz": ("mri", "brain", {"alzheimers"}),
    "brain_tumor/sample_1.jpg": ("mri", "brain", {"brain-tumor"}),
    "brain_tumor/sample_2.jpg": ("mri", "brain", {"brain-tumor"}),
    "brain_tumor/sample_3.jpg": ("mri", "brain", {"brain-tumor"}),
    "brain_tumor/sample_4.jpg": ("mri", "brain", {"brain-tumor"}),
    "chest_xray/00000001_000.png": ("xray", "chest", {"chest-xray"}),
    "chest_xray/00027426_000.png": ("xray", "chest", {"chest-xray"}),
    "chest_xray/rsna_cr.dcm": ("xray", "chest", {"chest-xray"}),
    "chest_xray/Fake_MONOHR1.dcm": ("xray", "chest", {"chest-xray"}),
    "knee_mri/IM-0001-0041-0001.dcm": ("mri", "knee", set()),
    "knee_mri/IM-0001-0081-0001.dcm": ("mri", "knee", set()),
    "spine_xray/00a4089038fb4f7b926624bd31b3ca88.dicom": ("xray", "spine", {"spine-xray"}),
}


@pytest.fixture(scope="module")
def loaded(samples_dir):
    from core.io import load_scan

    return {rel: load_scan(samples_dir / rel) for rel in EXPECTED}


@pytest.mark.parametrize("rel", list(EXPECTED))
def test_sample_routed_and_pages_decide(loaded, rel):
    kind, part, accepting = EXPECTED[rel]
    scan = loaded[rel]
    routing = None
    for task in EXPECTATIONS:
        report = evaluate(scan, task, routing=routing)
        routing = routing or report.routing
        if task in accepting:
            assert report.qc.accepted, (rel, task, report.qc.reasons)
        else:
            assert not report.qc.accepted, (rel, task)
            assert report.qc.reasons and all(r.strip() for r in report.qc.reasons)
    assert routing is not None
    assert routing.top_kind[0] == kind, (rel, routing.kind)
    assert routing.top_body_part[0] == part, (rel, routing.body_part)


def test_refusal_messages_name_the_right_page(loaded):
    from core.gates import run_gates

    chest = run_gates(loaded["chest_xray/00000001_000.png"], "spine-xray")
    assert any("chest X-ray" in r and "Use the Chest X-ray page" in r for r in chest.reasons), chest.reasons
    knee = run_gates(loaded["knee_mri/IM-0001-0041-0001.dcm"], "brain-tumor")
    assert any("knee MRI" in r for r in knee.reasons), knee.reasons


def test_input_gate_task_on_samples(loaded):
    from core.tasks import get_task

    gate = get_task("input-gate")
    res = gate(loaded["brain_tumor/sample_4.jpg"])
    assert res.prediction == "mri/brain" and res.status == "ok"
    assert set(res.kind) == {"mri", "xray", "ct", "photo", "other"}
    assert set(res.body_part) == {"brain", "knee", "spine", "chest", "other"}
    assert abs(sum(res.kind.values()) - 1) < 1e-4 and abs(sum(res.body_part.values()) - 1) < 1e-4
    assert res.extras["suggested_task"] == "brain-tumor"
    res = gate(loaded["chest_xray/rsna_cr.dcm"])
    assert res.prediction == "xray/chest" and res.extras["kind_source"] == "metadata"


def test_three_slice_series_is_not_a_volume_for_alzheimers(samples_dir):
    from core.gates import run_gates
    from core.io import load_scan

    series = load_scan(sorted((samples_dir / "brain_mri_dicom").glob("*.dcm")))
    report = run_gates(series, "alzheimers")
    assert not report.accepted
