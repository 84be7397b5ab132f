"""PDF reports carry the research notice, the QC verdict, the findings and the demo notice."""

from __future__ import annotations

import io

import numpy as np
from pypdf import PdfReader

from core.report import DEMO_NOTICE, ReportImage, result_pdf
from core.types import Check, Modality, QCReport, Result, Scan, Severity


def _scan() -> Scan:
    return Scan(array=np.zeros((1, 32, 32, 1), np.float32), affine=np.diag([0.5, 0.5, 1.0, 1.0]),
                modality=Modality.CR, meta={}, source="chest.dcm sha256:abcdef0123456789abcdef",
                subject_pseudonym="sub-123")


def _text(pdf: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_pdf_contains_notice_qc_findings_and_image():
    qc = QCReport((Check("modality", True, Severity.ERROR, "DICOM modality CR matches a chest X-ray."),))
    result = Result(task="chest-xray", status="ok", labels=("Cardiomegaly", "Effusion"), probabilities=(0.91, 0.12),
                    prediction="Cardiomegaly", confidence=0.91, qc=qc, model_versions={"chest-densenet": "1.0.0"},
                    timings_s={"forward": 0.2}, extras={"demo": True})
    image = ReportImage(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8), "Grad-CAM overlay")
    pdf = result_pdf(result, _scan(), [image])
    assert pdf.startswith(b"%PDF")
    text = _text(pdf)
    assert "research use only" in text
    assert "Cardiomegaly" in text and "91.0%" in text
    assert "DICOM modality CR matches" in text
    assert "synthetic phantoms" in text and DEMO_NOTICE[:20] in text
    assert "sub-123" in text
    assert b"/Subtype /Image" in pdf


def test_rejected_result_shows_reasons_and_no_prediction():
    qc = QCReport((Check("body_part", False, Severity.ERROR, "This looks like a knee MRI; this page expects a brain MRI."),))
    result = Result(task="brain-tumor", status="rejected", reasons=qc.reasons, qc=qc, extras={"demo": False})
    text = _text(result_pdf(result, _scan()))
    assert "No prediction" in text and "knee MRI" in text
    assert "synthetic phantoms" not in text
