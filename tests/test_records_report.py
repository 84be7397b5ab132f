"""PDF reports of task results and brain analyses: QC report, findings, images, notices."""

from __future__ import annotations

import io

import numpy as np
from pypdf import PdfReader

from core.progression import progression_risk
from core.report import (DEMO_NOTICE, RESEARCH_NOTICE, as_report_images, brain_images, brain_pdf, brain_sections,
                         is_demo, result_images, result_pdf)
from core.types import Check, QCReport, Result, Severity
from tests.records_fixtures import brain_report, head_scan, task_result, xray_scan


def _pages(pdf: bytes) -> list[str]:
    """Text per page, whitespace collapsed (table cells wrap lines)."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def test_brain_sections_hold_volumes_stages_and_risk():
    report = brain_report()
    risk = progression_risk("Very Mild Dementia", 72, "F", 12, 1, hippocampal_percentile=12.0)
    sections = {s.heading: s for s in brain_sections(report, risk)}
    volumes = sections["Brain volumes and norms"].table
    assert ("Hippocampus, total", "4.00", f"{100 * 4.0 / 1500:.3f}", "12.0") in volumes
    assert ("Brain", "1100.00", f"{100 * 1100 / 1500:.3f}", "-") in volumes
    assert ("Hippocampus, left", "2.00", f"{100 * 2.0 / 1500:.3f}", "11.0") in volumes
    staging = sections["Alzheimer's staging (two methods)"].table
    assert staging[1][:3] == ("Biomarker rule", "Very Mild Dementia", "70%")
    assert staging[2][1] == "unavailable"
    horizons = dict(sections["Progression risk"].table[1:])
    assert horizons["1 year"] == f"{100 * risk['1_year']:.1f} %"
    assert horizons["Suggested follow-up"] == risk.recommended_followup
    factors = sections["Progression risk factors"].table
    assert any(row[0] == "APOE e4" for row in factors)
    assert "Not included" in brain_sections(report, None)[3].paragraphs[0]
    from core.brain.accuracy import accuracy_note

    assert accuracy_note() in sections["Brain volumes and norms"].paragraphs  # the measured accuracy is quoted


def test_brain_pdf_has_qc_on_record_notice_on_every_page_and_roi_images():
    gates = QCReport((Check("modality", True, Severity.ERROR, "DICOM modality MR matches a brain MRI."),))
    pdf = brain_pdf(head_scan(), brain_report(), risk=None, qc=gates)
    pages = _pages(pdf)
    text = " ".join(pages)
    assert "DICOM modality MR matches a brain MRI." in text  # gates' QC
    assert "Slices are thick" in text  # the analysis' own QC warning, merged
    assert "Hippocampus, total" in text and "Very Mild Dementia" in text
    assert "sub-0123456789ab" in text
    assert all("research use only" in page for page in pages)  # footer on every page
    assert DEMO_NOTICE[:30] not in text  # no CNN ran: nothing phantom-trained behind these findings
    assert pdf.count(b"/Subtype /Image") >= 1


def test_brain_images_show_the_roi_colours():
    images = brain_images(brain_report())
    assert len(images) == 1  # no CNN -> no Grad-CAM montage
    pixels = images[0].pixels
    assert pixels.ndim == 3 and pixels.shape[2] == 3
    coloured = np.abs(pixels[..., 0].astype(int) - pixels[..., 2].astype(int)) > 40
    assert coloured.sum() > 20  # hippocampi / ventricles drawn in colour over the grey anatomy
    assert "Hippocampus" in images[0].caption or "hippocampi" in images[0].caption


def test_result_images_overlay_cam_and_boxes_only_for_accepted_2d():
    scan = xray_scan()
    images = result_images(scan, task_result())
    assert len(images) == 1
    img = images[0].pixels
    assert img.shape[:2] == (96, 128) and img.shape[2] == 3
    assert not np.array_equal(img[..., 0], img[..., 2])  # the heat colours are there
    assert "Grad-CAM" in images[0].caption and "1 detected region" in images[0].caption
    refused = Result(task="chest-xray", status="rejected", qc=QCReport((Check("kind", False, Severity.ERROR, "A photo."),)))
    assert result_images(scan, refused) == []
    assert result_images(head_scan(), task_result()) == []


def test_demo_is_detected_from_notices_models_table_or_flag():
    assert is_demo(task_result(demo=True))
    assert not is_demo(task_result(demo=False))
    assert not is_demo(None)
    table = Result(task="t", status="ok", model_versions={"m": "1"},
                   extras={"models": [{"model": "m", "phantom-trained demo": True}]})
    assert is_demo(table)
    other = Result(task="t", status="ok", model_versions={"n": "1"},
                   extras={"models": [{"model": "m", "phantom-trained demo": True}]})
    assert not is_demo(other)  # the demo model is not among those that produced the result
    assert is_demo(Result(task="t", status="ok", extras={"demo": True}))


def test_result_pdf_has_per_model_table_boxes_qc_and_demo_notice():
    result = task_result()
    pdf = result_pdf(result, xray_scan(), result_images(xray_scan(), result), title="RadLens - Chest X-ray")
    text = " ".join(_pages(pdf))
    assert "Per-model scores" in text and "cx-b" in text
    assert "Nodule" in text and "Detected regions" in text
    assert "The image is small" in text  # a QC warning reaches the PDF
    assert "synthetic phantoms" in text and RESEARCH_NOTICE[:20] in text
    assert b"/Subtype /Image" in pdf


def test_as_report_images_accepts_pairs_and_arrays():
    arr = np.zeros((8, 8), np.uint8)
    out = as_report_images([(arr, "a caption"), arr])
    assert [i.caption for i in out] == ["a caption", "Image 2"]
    assert as_report_images(None) == []


def test_result_sections_show_chest_levels_spine_threshold_and_candidates():
    from dataclasses import replace

    from core.report import qc_section, result_sections

    base = task_result()
    chest = replace(base, extras={**base.extras, "findings": [
        {"finding": "Cardiomegaly", "probability": 0.82, "level": "high", "recommendation": "Review the heart size."}]})
    table = result_sections(chest)[0].table
    assert table[0] == ("Finding", "Probability", "Level", "Recommendation")
    assert table[1] == ("Cardiomegaly", "82.0%", "high", "Review the heart size.")
    unsure = replace(base, status="rejected", prediction=None, reasons=("Unable to determine: below 60%.",),
                     extras={"top_candidates": [["Cardiomegaly", 0.41], ["Effusion", 0.39]],
                             "ensemble_score": 0.47, "decision_threshold": 0.449, "decision_threshold_source": "metadata",
                             "threshold_unverified": True})
    paragraphs = " ".join(result_sections(unsure)[0].paragraphs)
    assert "Candidates (not a prediction): Cardiomegaly 41.0%, Effusion 39.0%" in paragraphs
    assert "0.470 vs decision threshold 0.449" in paragraphs and "UNVERIFIED" in paragraphs
    assert qc_section(base.qc).paragraphs[0].startswith("Accepted with 1 warning(s)")


def test_qc_pdf_of_a_refused_input_without_a_scan():
    from core.report import qc_pdf

    refused = QCReport((Check("unknown_format", False, Severity.ERROR, "The file is not a supported scan."),))
    text = " ".join(_pages(qc_pdf(refused, None, name="notes.png")))
    assert "Refused: The file is not a supported scan." in text and "notes.png" in text
    assert "research use only" in text


def test_an_empty_grad_cam_is_said_to_be_empty():
    from dataclasses import replace

    base = task_result()
    zero = {"Cardiomegaly": np.zeros((32, 32), np.float32)}
    result = replace(base, extras={**base.extras, "cams": zero, "cams_by_model": {"cx-a": zero}})
    (image,) = result_images(xray_scan(), result)
    assert "empty: the network found no positive evidence" in image.caption
