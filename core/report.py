"""PDF reports (reportlab): scan summary, QC report, findings, images, model provenance.

Every page carries the research-use notice. A report built from demo (phantom-trained)
models says so in a box above the findings. Pages assemble :class:`ReportSection` objects
from their results (see :func:`result_sections`) and call :func:`build_pdf`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Image as RLImage
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from xml.sax.saxutils import escape

from core.types import QCReport, Result, Scan

RESEARCH_NOTICE = ("RadLens - research use only. Not a medical device; not for diagnosis or treatment decisions. "
                   "Findings must be reviewed by a qualified professional.")
DEMO_NOTICE = ("Demo models: the models behind these findings were trained on synthetic phantoms from core/synth. "
               "They show the workflow; their outputs are not evidence about real patients.")


@dataclass(frozen=True)
class ReportImage:
    """An RGB (rows, cols, 3) uint8 or grayscale (rows, cols) image with a caption."""

    pixels: np.ndarray
    caption: str
    width_mm: float = 80.0  # printed width; capped at the text frame width


@dataclass(frozen=True)
class ReportSection:
    """One titled block of the report: paragraphs, an optional table (first row = header), images."""

    heading: str
    paragraphs: tuple[str, ...] = ()
    table: tuple[tuple[str, ...], ...] | None = None
    images: tuple[ReportImage, ...] = field(default_factory=tuple)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _pct(value: Any) -> str:
    """A probability as a percentage; missing or NaN as a dash."""
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return f"{float(value):.1%}"


def scan_summary(scan: Scan) -> dict[str, str]:
    """De-identified facts about a scan for the report header."""
    spacing = ", ".join(f"{s:.2f}" for s in scan.spacing_mm)
    summary = {
        "Input": scan.display_name,
        "SHA-256": scan.source.split("sha256:")[-1][:16] + "..." if "sha256:" in scan.source else "-",
        "Modality": scan.modality.value,
        "Shape (X, Y, Z)": " x ".join(str(n) for n in scan.shape),
        "Spacing (mm)": spacing,
        "Subject pseudonym": scan.subject_pseudonym or "-",
    }
    if scan.history:
        summary["Preprocessing"] = " -> ".join(scan.history)
    return summary


def qc_section(qc: QCReport) -> ReportSection:
    """The gates' verdict with every check."""
    n_warn = len(qc.warnings)
    verdict = (("Accepted" + (f" with {n_warn} warning(s): reliability may be lower." if n_warn else "."))
               if qc.accepted else "Refused: " + " ".join(qc.reasons))
    rows = [("Check", "Result", "Measured", "Message")]
    for check in qc.checks:
        result = "pass" if check.passed else ("REFUSED" if check.severity.value == "error" else check.severity.value.upper())
        rows.append((check.code, result, _short_value(check.value), check.message))
    return ReportSection("Input checks (QC report)", (verdict,), tuple(rows) if len(rows) > 1 else None)


def _short_value(value: Any, limit: int = 60) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping):
        text = ", ".join(f"{k} {_short_value(v, 20)}" for k, v in value.items())
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def result_sections(result: Result, images: Sequence[ReportImage] = ()) -> list[ReportSection]:
    """Findings, per-model scores, boxes and provenance of a task Result."""
    paragraphs = []
    if result.ok:
        paragraphs.append(f"Prediction: {result.prediction}" + (
            f" (confidence {result.confidence:.0%})" if result.confidence is not None else ""))
    else:
        paragraphs.append("No prediction: " + " ".join(result.reasons))
        candidates = result.extras.get("top_candidates") or ()
        if candidates and result.qc.accepted:
            paragraphs.append("Candidates (not a prediction): " + ", ".join(
                f"{c[0]} {_pct(c[1])}" for c in candidates if len(c) >= 2))
    extras = result.extras
    if "ensemble_score" in extras and "decision_threshold" in extras:  # spine: score vs its decision threshold
        paragraphs.append(f"Ensemble score {float(extras['ensemble_score']):.3f} vs decision threshold "
                          f"{float(extras['decision_threshold']):.3f} ({extras.get('decision_threshold_source', '')})."
                          + (" The threshold is UNVERIFIED (FACTS.md section 6): provisional." if
                             extras.get("threshold_unverified") else ""))
    rich = extras.get("findings")
    if rich:  # chest: level and recommendation per finding
        findings = [("Finding", "Probability", "Level", "Recommendation")] + [
            (str(r.get("finding")), _pct(r.get("probability")), str(r.get("level", "")), str(r.get("recommendation", "")))
            for r in rich]
    else:
        findings = [("Label", "Probability")] + [(lbl, _pct(p)) for lbl, p in zip(result.labels, result.probabilities)]
    sections = [ReportSection(f"Findings - {result.task}", tuple(paragraphs),
                              tuple(findings) if len(findings) > 1 else None, tuple(images))]
    if result.per_model:
        header = ("Model",) + tuple(result.labels)
        rows = [header] + [(mid,) + tuple(_pct(p) for p in probs) for mid, probs in result.per_model.items()]
        sections.append(ReportSection("Per-model scores", (), tuple(rows)))
    if result.boxes:
        rows = [("Lesion", "Score", "x0", "y0", "x1", "y1")] + [
            (b.label, f"{b.score:.0%}", *(f"{v:.0f}" for v in (b.x0, b.y0, b.x1, b.y1))) for b in result.boxes]
        sections.append(ReportSection("Detected regions (pixels)", (), tuple(rows)))
    provenance = [("Item", "Value")] + [(k, v) for k, v in result.model_versions.items()] + [
        (f"time: {k}", f"{v:.2f} s") for k, v in result.timings_s.items()]
    if len(provenance) > 1:
        sections.append(ReportSection("Models and timings", (), tuple(provenance)))
    return sections


def _png_flowable(image: ReportImage, max_width_mm: float) -> list[Any]:
    pixels = np.asarray(image.pixels)
    if pixels.dtype != np.uint8:
        lo, hi = float(np.nanmin(pixels)), float(np.nanmax(pixels))
        pixels = ((pixels - lo) / (hi - lo if hi > lo else 1.0) * 255).astype(np.uint8)
    pil = Image.fromarray(pixels)
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG")
    buffer.seek(0)
    width_mm = min(max_width_mm, image.width_mm)
    height_mm = width_mm * pil.height / pil.width
    return [RLImage(buffer, width=width_mm * mm, height=height_mm * mm)]


def _table(rows: Sequence[Sequence[str]], style: ParagraphStyle, width_mm: float) -> Table:
    cells = [[Paragraph(escape(_fmt(c)), style) for c in row] for row in rows]
    n_cols = max(len(r) for r in rows)
    # The last column usually holds sentences (messages): give it the room left by the others.
    narrow_mm = min(38.0, width_mm / n_cols)
    widths = [narrow_mm * mm] * (n_cols - 1) + [(width_mm - narrow_mm * (n_cols - 1)) * mm]
    table = Table(cells, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    return table


def build_pdf(title: str, *, summary: Mapping[str, str], qc: QCReport | None,
              sections: Sequence[ReportSection], demo: bool) -> bytes:
    """Render a report to PDF bytes.

    Args:
        title: report title, e.g. "Chest X-ray analysis".
        summary: de-identified facts about the input (see :func:`scan_summary`).
        qc: the gates' QC report, shown before any finding; None when not applicable.
        sections: findings and extra material, in order.
        demo: True when any model involved is phantom-trained; adds the demo notice.
    Returns:
        The PDF file as bytes (nothing is written to disk).
    """
    styles = getSampleStyleSheet()
    small = ParagraphStyle("small", parent=styles["BodyText"], fontSize=8, leading=10)
    notice = ParagraphStyle("notice", parent=styles["BodyText"], fontSize=9, leading=11,
                            textColor=colors.HexColor("#7a4b00"), backColor=colors.HexColor("#fff4e0"),
                            borderPadding=4)
    frame_width_mm = (A4[0] / mm) - 40
    story: list[Any] = [Paragraph(escape(title), styles["Title"]),
                        Paragraph(escape(datetime.now(timezone.utc).strftime("Generated %Y-%m-%d %H:%M UTC")), small),
                        Spacer(1, 4 * mm), Paragraph(escape(RESEARCH_NOTICE), notice), Spacer(1, 3 * mm)]
    if demo:
        story += [Paragraph(escape(DEMO_NOTICE), notice), Spacer(1, 3 * mm)]
    story += [Paragraph("Input", styles["Heading2"]), _table([("Field", "Value")] + list(summary.items()), small, frame_width_mm)]
    all_sections = ([qc_section(qc)] if qc is not None else []) + list(sections)
    for section in all_sections:
        story += [Spacer(1, 4 * mm), Paragraph(escape(section.heading), styles["Heading2"])]
        story += [Paragraph(escape(p), styles["BodyText"]) for p in section.paragraphs]
        if section.table:
            story.append(_table(section.table, small, frame_width_mm))
        for image in section.images:  # an image and its caption never split across pages
            story.append(KeepTogether(_png_flowable(image, frame_width_mm) + [Paragraph(escape(image.caption), small)]))

    def _footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawString(20 * mm, 10 * mm, RESEARCH_NOTICE[:150])
        canvas.drawRightString(A4[0] - 20 * mm, 10 * mm, f"page {doc.page}")
        canvas.restoreState()

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm,
                            topMargin=18 * mm, bottomMargin=18 * mm, title=title, author="RadLens")
    doc.build(story, onFirstPage=_footer, onLaterPages=_footer)
    return buffer.getvalue()


def result_pdf(result: Result, scan: Scan, images: Sequence[ReportImage] = (), title: str | None = None) -> bytes:
    """One-call PDF for a task Result on a scan (QC report, findings, per-model table, boxes, images)."""
    return build_pdf(title or f"RadLens - {result.task}", summary=scan_summary(scan), qc=result.qc,
                     sections=result_sections(result, images), demo=is_demo(result))


def qc_pdf(qc: QCReport, scan: Scan | None = None, name: str | None = None,
           title: str = "RadLens - Input check") -> bytes:
    """A PDF of the input check alone (an input refused before any model ran, or the Scan Explorer).

    Args:
        qc: the gates' report.
        scan: the loaded scan, or None when it could not be loaded.
        name: the input's display name when there is no scan.
    """
    summary = scan_summary(scan) if scan is not None else {"Input": name or "-", "Loaded": "no"}
    return build_pdf(title, summary=summary, qc=qc, sections=(), demo=False)


# --------------------------------------------------------------------------------------------
# Demo detection and report images
# --------------------------------------------------------------------------------------------
def is_demo(result: Result | None) -> bool:
    """True when any model behind ``result`` is phantom-trained (metadata ``demo``).

    Task results say so in three ways, depending on the task: ``extras["demo"]``, demo notices in
    ``extras["notices"]`` (one per distinct demo model), or the ``phantom-trained demo`` column of
    ``extras["models"]`` (the task's model table).
    """
    if result is None:
        return False
    extras = result.extras
    if extras.get("demo"):
        return True
    if extras.get("notices"):
        return True
    rows = extras.get("models") or ()
    loaded = set(result.model_versions)
    return any(isinstance(r, Mapping) and r.get("phantom-trained demo") and (not loaded or r.get("model") in loaded)
               for r in rows)


def as_report_images(images: Any) -> list[ReportImage]:
    """Normalise what pages pass: ReportImage, ``(pixels, caption)`` pairs or bare arrays (or None)."""
    out: list[ReportImage] = []
    for i, item in enumerate(images or ()):
        if isinstance(item, ReportImage):
            out.append(item)
        elif isinstance(item, tuple) and len(item) == 2:
            out.append(ReportImage(np.asarray(item[0]), str(item[1])))
        else:
            out.append(ReportImage(np.asarray(item), f"Image {i + 1}"))
    return out


def result_images(scan: Scan, result: Result) -> list[ReportImage]:
    """The analysed 2D image as the page shows it: Grad-CAM overlay of the decided class and the boxes.

    Returns an empty list for volumes and for inputs the gates refused (nothing was analysed).
    """
    from core.preprocess import to_display_2d
    from core.viz.slices import apply_window, auto_window, draw_boxes, fit_within, overlay_heatmap

    if scan.is_volume or not result.qc.accepted:
        return []
    gray = to_display_2d(scan)
    shown = apply_window(gray, auto_window(gray))
    parts = ["The analysed image"]
    cam_model = result.extras.get("cam_model")
    cam_label = result.extras.get("cam_label")
    cams = (result.extras.get("cams_by_model") or {}).get(cam_model) or result.extras.get("cams") or {}
    if cam_label in cams:
        heat = np.asarray(cams[cam_label], dtype=np.float32)
        shown = overlay_heatmap(shown, heat, opacity=0.4, min_value=0.2)
        empty = not np.any(np.nan_to_num(heat) >= 0.2)
        parts.append(f"with the Grad-CAM of {cam_model or 'the primary model'} for '{cam_label}' "
                     + ("(empty: the network found no positive evidence for this class in the image)" if empty else
                        "(where the network looked; not a lesion outline)"))
    if result.boxes:
        shown = draw_boxes(shown, result.boxes)
        parts.append(f"and {len(result.boxes)} detected region(s)")
    return [ReportImage(fit_within(shown, 1024), " ".join(parts) + ".", width_mm=95.0)]


# --------------------------------------------------------------------------------------------
# Brain MRI reports (core.brain.BrainReport + optional core.progression.ProgressionRisk)
# --------------------------------------------------------------------------------------------
_VOLUME_NAMES: dict[str, str] = {
    "icv": "Intracranial (ICV)", "brain": "Brain", "gm": "Grey matter", "wm": "White matter", "csf": "CSF",
    "hippocampus_left": "Hippocampus, left", "hippocampus_right": "Hippocampus, right",
    "hippocampus_total": "Hippocampus, total", "lateral_ventricles": "Lateral ventricles",
    "lateral_ventricle_left": "Lateral ventricle, left", "lateral_ventricle_right": "Lateral ventricle, right"}
_PERCENTILE_FIELD: dict[str, str] = {
    "hippocampus_left": "hippocampus_left_percentile", "hippocampus_right": "hippocampus_right_percentile",
    "hippocampus_total": "hippocampal_volume_percentile", "lateral_ventricles": "ventricle_percentile",
    "lateral_ventricle_left": "ventricle_left_percentile", "lateral_ventricle_right": "ventricle_right_percentile"}


def _opt(value: Any, fmt: str = "{:.1f}") -> str:
    return "n/a" if value is None else fmt.format(float(value))


def _stage_row(method: str, stage: Any, labels: Sequence[str]) -> tuple[str, ...]:
    label = stage.label if stage.status == "ok" else ("unavailable" if stage.status == "unavailable"
                                                       else "Unable to determine")
    probs = tuple(_opt(stage.probabilities.get(s) if stage.probabilities else None, "{:.0%}") for s in labels)
    return (method, label, _opt(stage.confidence, "{:.0%}")) + probs


def brain_sections(brain_report: Any, risk: Any = None) -> list[ReportSection]:
    """Report sections of a brain analysis: volumes vs norms, biomarkers, staging, progression risk, provenance.

    Args:
        brain_report: a :class:`core.brain.BrainReport`.
        risk: a :class:`core.progression.ProgressionRisk`, or None when it was not computed
            (the section then says so).
    Returns:
        Sections in reading order; the QC report is added by :func:`build_pdf` from ``qc``.
    """
    from core.progression import STAGES

    r = brain_report
    b = r.biomarkers
    rows: list[tuple[str, ...]] = [("Structure", "Volume (mL)", "% of ICV", "Percentile for age/sex")]
    for key, name in _VOLUME_NAMES.items():
        if key not in r.volumes_ml:
            continue
        frac = r.volumes_icv_fraction.get(key)
        pct_field = _PERCENTILE_FIELD.get(key)
        pct = getattr(b, pct_field) if pct_field else None
        rows.append((name, f"{float(r.volumes_ml[key]):.2f}", _opt(None if frac is None else 100 * float(frac), "{:.3f}"),
                     _opt(pct) if pct_field else "-"))
    age = "not given" if r.age_years is None else f"{r.age_years:g} years"
    from core.brain.accuracy import accuracy_note

    paragraphs = [f"Age {age}; sex {r.sex or 'not given'}. Norms: {b.norm_source}.", accuracy_note()]
    if b.percentile_unavailable_reason:
        paragraphs.append(f"Percentiles unavailable: {b.percentile_unavailable_reason}")
    sections = [ReportSection("Brain volumes and norms", tuple(paragraphs), tuple(rows))]

    grades = [("Biomarker", "Value"),
              ("Hippocampal volume percentile", _opt(b.hippocampal_volume_percentile)),
              ("Ventricle enlargement", b.ventricle_enlargement),
              ("Cortical thinning", b.cortical_thinning),
              ("Mean cortical thickness (mm)", _opt(b.cortical_thickness_mm, "{:.2f}"))]
    grades += [(f"Grading rule: {k}", str(v)) for k, v in dict(b.grading_basis).items()]
    sections.append(ReportSection("Biomarkers", tuple(b.notes), tuple(grades)))

    stage_rows = [("Method", "Stage", "Confidence") + tuple(STAGES)]
    for method, stage in (("Biomarker rule", r.stage_rule), ("3D CNN", r.stage_cnn), ("Combined", r.stage)):
        stage_rows.append(_stage_row(method, stage, STAGES))
    agreement = ("Agreement: not assessable (one method gave no stage)." if r.stage_agreement is None else
                 "The two methods agree." if r.stage_agreement else
                 "The two methods disagree: read the biomarkers, not only the stage.")
    stage_notes = [agreement] + [f"{s.source}: {reason}" for s in (r.stage_rule, r.stage_cnn, r.stage)
                                 for reason in s.reasons]
    sections.append(ReportSection("Alzheimer's staging (two methods)", tuple(stage_notes), tuple(stage_rows)))

    if risk is None:
        sections.append(ReportSection("Progression risk", (
            "Not included: the progression risk needs the age and the risk-model inputs given on the Brain MRI page.",)))
    else:
        risk_rows = [("Horizon", "Risk of progressing")] + [
            (k.replace("_", " "), f"{100 * float(v):.1f} %") for k, v in risk.risks.items()]
        risk_rows.append(("Suggested follow-up", risk.recommended_followup))
        paragraphs = (f"From {risk.current_stage} to {risk.next_stage}. Hazard {risk.annual_hazard:.3f}/y = baseline "
                      f"{risk.baseline_hazard:.3f}/y x factors; risk = 1 - exp(-hazard x t).",
                      f"Baseline: {risk.baseline_source}.", f"Follow-up rule: {risk.followup_rule}.") + tuple(risk.notes)
        factor_rows = [("Factor", "Value", "Hazard ratio", "Source")] + [
            (f.name, f.value, f"{f.hazard_ratio:.3f}", f.source + (f" ({f.note})" if f.note else "")) for f in risk.factors]
        sections.append(ReportSection("Progression risk", paragraphs, tuple(risk_rows)))
        sections.append(ReportSection("Progression risk factors", (), tuple(factor_rows)))

    provenance: list[tuple[str, str]] = [("Item", "Value")]
    cnn = r.cnn_result
    if cnn is not None:
        provenance += [(f"model {k}", str(v)) for k, v in cnn.model_versions.items()]
    provenance += [(f"time: {k}", f"{float(v):.2f} s") for k, v in r.timings_s.items()]
    if r.history:
        provenance.append(("Analysis steps", " -> ".join(r.history)))
    sections.append(ReportSection("Models, steps and timings", (), tuple(provenance)))
    return sections


def brain_images(brain_report: Any) -> list[ReportImage]:
    """ROI overlays (hippocampi, ventricles) on the three planes through the hippocampi, and the
    CNN's Grad-CAM on the same planes when the CNN ran."""
    from core.viz import brain3d
    from core.viz import slices as sl

    r = brain_report
    vol = r.scan.array[0]
    labels = brain3d.roi_label_map(r.masks)
    centre = brain3d.roi_centre(labels)
    window = sl.auto_window(vol)
    planes = ("axial", "coronal", "sagittal")
    tiles = [sl.fit_within(brain3d.overlay_slice(vol, labels, p, int(centre[sl.PLANE_AXIS[p]]), r.scan.spacing_mm,
                                                 window), 320) for p in planes]
    legend = ", ".join(f"{name} ({sl.rgb_to_hex(color)})" for name, color in brain3d.legend_entries().items())
    images = [ReportImage(sl.montage(tiles, ncols=3), "Regions of interest on the axial, coronal and sagittal planes "
                          f"through the hippocampi ({legend}). Radiological display: patient's right on the viewer's "
                          "left. Masks from the atlas registration.", width_mm=170.0)]
    from core.tasks.alzheimers import cam_on_analysis_grid

    cam = cam_on_analysis_grid(r)
    if cam is not None:
        heat = [sl.fit_within(brain3d.heatmap_slice(vol, cam, p, int(centre[sl.PLANE_AXIS[p]]), r.scan.spacing_mm,
                                                    window), 320) for p in planes]
        images.append(ReportImage(sl.montage(heat, ncols=3), "Grad-CAM of the staging CNN on the same planes (coarse: "
                                  "where the network found evidence for its top class; not a lesion map).",
                                  width_mm=170.0))
    return images


def brain_pdf(scan: Scan, brain_report: Any, risk: Any = None, images: Sequence[ReportImage] | None = None,
              qc: QCReport | None = None, title: str = "RadLens - Brain MRI volumetry and staging") -> bytes:
    """One-call PDF for a brain analysis.

    Args:
        scan: the scan as loaded (its name, digest and pseudonym head the report).
        brain_report: :class:`core.brain.BrainReport`.
        risk: optional :class:`core.progression.ProgressionRisk`.
        images: report images; None draws the ROI overlays (and Grad-CAM) with :func:`brain_images`.
        qc: the gates' QC report; merged with the analysis' own warnings (``brain_report.qc``).
    """
    full_qc = brain_report.qc if qc is None else qc.merged(brain_report.qc)
    shown = brain_images(brain_report) if images is None else list(images)
    sections = brain_sections(brain_report, risk)
    if shown:
        sections.insert(0, ReportSection("Images", (), None, tuple(shown)))
    return build_pdf(title, summary=scan_summary(scan), qc=full_qc, sections=sections,
                     demo=is_demo(brain_report.cnn_result))
