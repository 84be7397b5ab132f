"""Plain-data brain reports and task results for the records/report/longitudinal tests (no models, no registration)."""

from __future__ import annotations

from typing import Any

import numpy as np

from core.types import Box, Check, Modality, QCReport, Result, Scan, Severity

STAGES = ("Non-Demented", "Very Mild Dementia", "Mild Dementia", "Moderate Dementia")


def head_scan(n: int = 40, pseudonym: str | None = "sub-0123456789ab") -> Scan:
    """A small head-like volume (2 mm voxels) with a brain, ventricles and two 'hippocampi'."""
    g = np.indices((n, n, n)).astype(np.float32) - (n - 1) / 2
    r = np.sqrt((g ** 2).sum(axis=0))
    vol = np.where(r < 0.45 * n, 300.0, 0.0) + np.where(r < 0.38 * n, 300.0, 0.0) - np.where(r < 0.1 * n, 400.0, 0.0)
    return Scan(array=vol[None].astype(np.float32), affine=np.diag([2.0, 2.0, 2.0, 1.0]), modality=Modality.MR,
                meta={}, source="head.nii.gz sha256:00112233445566778899", subject_pseudonym=pseudonym)


def brain_report(scan: Scan | None = None, hippocampus_ml: float = 4.0, ventricles_ml: float = 30.0,
                 brain_ml: float = 1100.0, stage: str = "Very Mild Dementia", confidence: float = 0.7,
                 qc: QCReport | None = None) -> Any:
    """A BrainReport with given volumes, ROI masks on the scan grid, a rule stage and no CNN."""
    from core.brain import Biomarkers, BrainReport, Stage

    scan = scan or head_scan()
    n = scan.shape[0]
    masks = {k: np.zeros(scan.shape, bool) for k in ("hippocampus_left", "hippocampus_right", "lateral_ventricles")}
    c = n // 2
    masks["lateral_ventricles"][c - 3:c + 3, c - 3:c + 3, c - 2:c + 2] = True
    masks["hippocampus_left"][c - 8:c - 5, c - 2:c + 2, c - 2:c + 1] = True
    masks["hippocampus_right"][c + 5:c + 8, c - 2:c + 2, c - 2:c + 1] = True
    icv = 1500.0
    vols = {"icv": icv, "brain": brain_ml, "hippocampus_left": hippocampus_ml / 2, "hippocampus_right": hippocampus_ml / 2,
            "hippocampus_total": hippocampus_ml, "lateral_ventricles": ventricles_ml}
    bio = Biomarkers(hippocampal_volume_percentile=12.0, hippocampus_left_percentile=11.0,
                     hippocampus_right_percentile=13.0, ventricle_percentile=80.0, ventricle_left_percentile=None,
                     ventricle_right_percentile=None, ventricle_enlargement="mild", cortical_thinning="none",
                     cortical_thickness_mm=2.5, norm_source="test norms", grading_basis={"ventricles": "test rule"},
                     notes=("A biomarker note.",))
    probs = {s: (confidence if s == stage else (1 - confidence) / 3) for s in STAGES}
    rule = Stage(stage, probs, "ok", "rule", confidence=confidence)
    cnn = Stage("Unable to determine", {}, "unavailable", "cnn", reasons=("No staging CNN in weights/.",))
    qc = qc or QCReport((Check("thick_slices", False, Severity.WARNING, "Slices are thick; volumes less reliable."),))
    return BrainReport(volumes_ml=vols, volumes_icv_fraction={k: v / icv for k, v in vols.items()}, biomarkers=bio,
                       stage=rule, stage_rule=rule, stage_cnn=cnn, stage_agreement=None, masks=masks,
                       timings_s={"total": 1.5}, qc=qc, scan=scan, history=("reorient", "register"), age_years=72.0,
                       sex="F")


def xray_scan(rows: int = 96, cols: int = 128, pseudonym: str | None = None) -> Scan:
    yy, xx = np.mgrid[0:rows, 0:cols]
    image = (np.hypot(yy - rows / 2, xx - cols / 2) < 30) * 150.0 + xx
    return Scan(array=image.T[None, :, :, None].astype(np.float32), affine=np.eye(4), modality=Modality.DX, meta={},
                source="film.png sha256:ffeeddccbbaa99887766", subject_pseudonym=pseudonym)


def task_result(prediction: str | None = "Cardiomegaly", confidence: float = 0.82, demo: bool = True,
                cam: bool = True) -> Result:
    """A chest-xray-like Result with nested Grad-CAM arrays (as real tasks return) and a box."""
    qc = QCReport((Check("kind", True, Severity.ERROR, "The image is an X-ray of the chest."),
                   Check("low_resolution", False, Severity.WARNING, "The image is small; details may be lost.")))
    cams = {"Cardiomegaly": np.tile(np.linspace(0, 1, 32, dtype=np.float32), (32, 1))} if cam else {}
    return Result(task="chest-xray", status="ok" if prediction else "rejected", labels=("Cardiomegaly", "Effusion"),
                  probabilities=(confidence, 1 - confidence), prediction=prediction, confidence=confidence,
                  per_model={"cx-a": (confidence, 0.1), "cx-b": (confidence - 0.05, 0.2)},
                  boxes=(Box("Nodule", 0.77, 10, 12, 40, 44),), reasons=() if prediction else ("Unable to determine",),
                  qc=qc, model_versions={"cx-a": "1.0", "cx-b": "1.1"}, timings_s={"total_s": 0.3},
                  extras={"notices": ["Trained on synthetic phantoms."] if demo else [], "cams": cams,
                          "cams_by_model": {"cx-a": cams} if cam else {}, "cam_model": "cx-a",
                          "cam_label": "Cardiomegaly" if cam else None, "display_shape": (96, 128)})
