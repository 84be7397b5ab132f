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
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
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
    verdict = "Accepted" if qc.accepted else "Refused: " + " ".join(qc.reasons)
    rows = [("Check", "Result", "Severity", "Message")]
    for check in qc.checks:
        rows.append((check.code, "pass" if check.passed else "FAIL",
                     "-" if check.passed else check.severity.value, check.message))
    return ReportSection("Input checks (QC report)", (verdict,), tuple(rows) if len(rows) > 1 else None)


def result_sections(result: Result, images: Sequence[ReportImage] = ()) -> list[ReportSection]:
    """Findings, per-model scores, boxes and provenance of a task Result."""
    paragraphs = []
    if result.ok:
        paragraphs.append(f"Prediction: {result.prediction}" + (
            f" (confidence {result.confidence:.0%})" if result.confidence is not None else ""))
    else:
        paragraphs.append("No prediction: " + " ".join(result.reasons))
    findings = [("Label", "Probability")] + [(lbl, f"{p:.1%}") for lbl, p in zip(result.labels, result.probabilities)]
    sections = [ReportSection(f"Findings - {result.task}", tuple(paragraphs),
                              tuple(findings) if len(findings) > 1 else None, tuple(images))]
    if result.per_model:
        header = ("Model",) + tuple(result.labels)
        rows = [header] + [(mid,) + tuple(f"{p:.1%}" for p in probs) for mid, probs in result.per_model.items()]
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
    width_mm = min(max_width_mm, 80.0)
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
        for image in section.images:
            story += _png_flowable(image, frame_width_mm)
            story.append(Paragraph(escape(image.caption), small))

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
    """One-call PDF for a task Result on a scan."""
    demo = bool(result.extras.get("demo", False))
    return build_pdf(title or f"RadLens - {result.task}", summary=scan_summary(scan), qc=result.qc,
                     sections=result_sections(result, images), demo=demo)
