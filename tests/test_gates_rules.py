"""Metadata rules, expectations, confidence decisions and OOD scores of core.gates."""

from __future__ import annotations

import numpy as np
import pytest

from core.gates import run_gates
from core.gates.confidence import UNABLE_TO_DETERMINE, decide
from core.gates.expectations import describe, matching_page
from core.gates.metadata_rules import apply_rules
from core.gates.ood import MahalanobisModel, calibrate_threshold, energy_score, is_out_of_distribution
from core.types import Modality, Scan


def _scan(array: np.ndarray, modality: Modality = Modality.UNKNOWN, **meta) -> Scan:
    arr = array.astype(np.float32)
    if arr.ndim == 2:  # (rows, cols) displayed -> (1, X=cols, Y=rows, 1)
        arr = arr.T[None, :, :, None]
    elif arr.ndim == 3:
        arr = arr[None]
    return Scan(arr, np.eye(4), modality, dict(meta), "test sha256:0")


def _textured(rows: int = 256, cols: int = 256, seed: int = 0) -> np.ndarray:
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:rows, :cols]
    disc = ((yy - rows / 2) ** 2 / (rows * 0.4) ** 2 + (xx - cols / 2) ** 2 / (cols * 0.4) ** 2) < 1
    tex = ndimage.gaussian_filter(rng.normal(size=(rows, cols)), 1.5)
    return (disc * (100 + 40 * tex / tex.std()) + rng.normal(0, 2, (rows, cols))).clip(0)


@pytest.mark.parametrize("modality,body_part,expected", [
    ("MR", "HEAD", ("mri", "brain")),
    ("MR", "BRAIN", ("mri", "brain")),
    ("CR", "CHEST", ("xray", "chest")),
    ("DX", "CHEST", ("xray", "chest")),
    ("DX", "LSPINE", ("xray", "spine")),
    ("DX", "CSPINE", ("xray", "spine")),
    ("MR", "KNEE", ("mri", "knee")),
    ("CT", "HEAD", ("ct", "brain")),
    ("MR", None, ("mri", None)),
    ("US", "ABDOMEN", ("other", "other")),
    ("XC", None, ("photo", "other")),
])
def test_metadata_rules_table(modality, body_part, expected):
    scan = _scan(_textured(), Modality.UNKNOWN, format="dicom", dicom_modality=modality, body_part_examined=body_part)
    found = apply_rules(scan)
    assert (found.kind, found.body_part if found.kind != "photo" else "other") == expected
    assert found.evidence


def test_geometry_rules_volume_and_radiograph():
    vol = np.zeros((40, 40, 40), np.float32)
    vol[10:30, 10:30, 10:30] = 100.0
    assert apply_rules(_scan(vol, format="nifti")).kind == "mri"
    assert apply_rules(_scan(vol - 1000.0, format="nifti")).kind == "ct"
    # a DICOM without Modality, 0.14 mm pixels over ~240 mm and no MR timing: a radiograph
    img = _textured(1700, 1400)
    found = apply_rules(_scan(img, format="dicom", dicom_modality=None, pixel_spacing_mm=[0.143, 0.143]))
    assert found.kind == "xray" and found.body_part is None
    # same pixels on an MR-like grid (0.4 mm) say nothing
    found = apply_rules(_scan(img, format="dicom", dicom_modality=None, pixel_spacing_mm=[0.4, 0.4]))
    assert found.kind is None


def _gridded(rows: int, cols: int, px_mm: float, **meta) -> Scan:
    arr = np.zeros((1, cols, rows, 1), np.float32)
    arr[0, cols // 4: 3 * cols // 4, rows // 4: 3 * rows // 4, 0] = 100.0
    return Scan(arr, np.diag([px_mm, px_mm, 1.0, 1.0]), Modality.UNKNOWN, dict(format="dicom", **meta), "t sha256:0")


def test_field_of_view_priors():
    # a small radiograph field (~170 x 210 mm, a lateral C-spine or knee film) is unlikely an adult chest
    small = apply_rules(_gridded(1485, 1172, 0.143, dicom_modality="DX"))
    assert small.kind == "xray" and small.body_part_prior == {"chest": 0.3}
    assert any("small for an adult chest film" in e for e in small.evidence)
    large = apply_rules(_gridded(3000, 2500, 0.143, dicom_modality="DX"))
    assert large.body_part_prior is None
    # MRI: 160 mm is small for a whole head, 210 mm large for a knee; a named body part needs no prior
    assert apply_rules(_gridded(512, 512, 0.3125, dicom_modality="MR")).body_part_prior == {"brain": 0.3}
    assert apply_rules(_gridded(512, 512, 0.41, dicom_modality="MR")).body_part_prior == {"knee": 0.3}
    assert apply_rules(_gridded(512, 512, 0.41, dicom_modality="MR", body_part_examined="HEAD")).body_part_prior is None


def test_wrong_page_refused_from_metadata_alone():
    chest = _scan(_textured(), format="dicom", dicom_modality="CR", body_part_examined="CHEST")
    report = run_gates(chest, "spine-xray", use_learned=False)
    assert not report.accepted
    assert any("chest X-ray" in r and "Spine X-ray page" in r and "Use the Chest X-ray page" in r
               for r in report.reasons)
    assert run_gates(chest, "chest-xray", use_learned=False).accepted


def test_dimensions_expected_by_pages():
    vol = _textured(96, 96)[:, :, None].repeat(40, axis=2)
    mr_vol = _scan(vol.transpose(1, 0, 2), format="dicom", dicom_modality="MR", body_part_examined="BRAIN")
    assert run_gates(mr_vol, "alzheimers", use_learned=False).accepted
    refused = run_gates(mr_vol, "brain-tumor", use_learned=False)
    assert not refused.accepted and any("3D volume" in r for r in refused.reasons)
    # the advice names the pages as the sidebar and their titles do
    assert any("Use the Brain MRI page for brain MRI volumes" in r for r in refused.reasons)
    slice_ = _scan(_textured(), format="dicom", dicom_modality="MR", body_part_examined="HEAD")
    refused = run_gates(slice_, "alzheimers", use_learned=False)
    assert not refused.accepted and any("single 2D image" in r for r in refused.reasons)
    assert any("the Brain MRI page expects" in r and "Use the Brain Tumor MRI page" in r for r in refused.reasons)


def test_describe_and_matching_page():
    assert describe("xray", "chest") == "a chest X-ray"
    assert describe("mri", "knee") == "a knee MRI"
    assert describe("mri", None) == "an MRI"
    assert describe("photo", "other") == "a photograph"
    assert matching_page("xray", "spine", False).task == "spine-xray"
    assert matching_page("mri", "brain", True).task == "alzheimers"
    assert matching_page("mri", "knee", False) is None


def test_decide_threshold():
    d = decide(["a", "b", "c"], [0.7, 0.2, 0.1], 0.6)
    assert d.prediction == "a" and d.status == "ok" and d.reasons == ()
    d = decide(["a", "b", "c"], [0.45, 0.40, 0.15], 0.6)
    assert d.prediction is None and d.status == "uncertain" and d.label_text == UNABLE_TO_DETERMINE
    assert [c[0] for c in d.top_candidates] == ["a", "b", "c"]
    assert "not a finding" in d.reasons[0]
    with pytest.raises(ValueError):
        decide(["a"], [0.1, 0.9], 0.5)


def test_energy_and_calibration():
    confident = np.array([[12.0, 0.0, 0.0]])
    flat = np.array([[0.1, 0.0, 0.05]])
    assert energy_score(confident)[0] < energy_score(flat)[0]
    # temperature 1: E = -logsumexp
    assert np.isclose(energy_score(np.array([0.0, 0.0]))[()], -np.log(2.0))
    rng = np.random.default_rng(0)
    in_dist = energy_score(rng.normal(0, 1, (500, 3)) + np.array([8.0, 0.0, 0.0]))
    thr = calibrate_threshold(in_dist, 0.99)
    assert np.mean(in_dist > thr) <= 0.011
    assert is_out_of_distribution(flat[0], thr) is True
    assert is_out_of_distribution(confident[0], thr) is False
    with pytest.raises(ValueError):
        calibrate_threshold(np.array([]))


def test_mahalanobis_scores_far_points_higher():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 1, (200, 4)), rng.normal(5, 1, (200, 4))])
    y = np.repeat([0, 1], 200)
    model = MahalanobisModel.fit(x, y)
    near, far = model.score(np.array([[0.1, 0, 0, 0], [20, -20, 20, -20]]))
    assert far > 10 * near


def test_coil_name_priors():
    # a head coil makes every other body part less likely; a knee coil the reverse; a flexible coil says nothing
    head = apply_rules(_gridded(256, 256, 0.9, dicom_modality="MR", coil_names=["TxRx_Head"]))
    # coil and field of view (230 mm, large for a knee) are separate evidence: their factors multiply
    assert head.body_part_prior == pytest.approx({"knee": 0.09, "spine": 0.3, "chest": 0.3, "other": 0.3})
    assert any("head coil (TxRx_Head)" in e for e in head.evidence)
    knee = apply_rules(_gridded(380, 380, 0.5, dicom_modality="MR", coil_names=["Knee 8ch"]))  # 190 mm: no field prior
    assert knee.body_part_prior == {"brain": 0.3, "spine": 0.3, "chest": 0.3, "other": 0.3}
    flex = apply_rules(_gridded(512, 512, 0.3125, dicom_modality="MR", coil_names=["RM:GEM Flex M"]))
    assert flex.body_part_prior == {"brain": 0.3}  # falls back to the field-of-view prior
    named = apply_rules(_gridded(256, 256, 0.9, dicom_modality="MR", coil_names=["Head_32"], body_part_examined="KNEE"))
    assert named.body_part == "knee" and named.body_part_prior is None


def test_routing_message_for_a_nifti_volume_names_the_rules_not_dicom_tags():
    # A NIfTI has no DICOM tags: its kind comes from the geometry rule (a stack of non-negative
    # slices is MRI), and the user-facing sentence must not claim otherwise.
    vol = np.zeros((64, 64, 64), np.float32)
    vol[16:48, 16:48, 16:48] = 100.0
    checks = {c.code: c for c in run_gates(_scan(vol, format="nifti"), "alzheimers", use_learned=False).checks}
    routing = checks["gate_routing"].message
    assert "DICOM" not in routing and "metadata rules" in routing
    assert "a stack of 64 slices" in checks["gate_metadata"].message
