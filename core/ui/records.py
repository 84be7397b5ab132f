"""Record-and-report widgets every analysis page calls with one line after its result is shown.

* Task pages: ``render_record_and_report(scan, result=result, images=None, title="Chest X-ray")``
* Brain MRI page: ``render_brain_record_and_report(scan, brain_report, risk=None)``

Each shows a pseudonymous subject ID (default: the scan's salted pseudonym), an optional study
date, a "Save to longitudinal record" button (:mod:`core.store` at ``Settings.store_url``; plain
data and the QC report, never pixels) and a "Download PDF report" button (:mod:`core.report`: QC
report, findings, per-model table, boxes, the displayed image with Grad-CAM / boxes / ROI overlays,
research-use notice, demo notice when a model is phantom-trained). The PDF is built only when the
button is clicked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Sequence

import streamlit as st

from core.config import get_settings
from core.longitudinal import pseudonym_problem
from core.types import QCReport, Result, Scan

TASK_TITLES: dict[str, str] = {"brain-tumor": "Brain tumour MRI", "chest-xray": "Chest X-ray", "spine-xray": "Spine X-ray",
                               "alzheimers": "Alzheimer's staging (3D CNN)", "input-gate": "Input gate"}
PSEUDONYM_HELP = ("A pseudonymous code for the subject, so later scans can be followed over time. DICOM inputs "
                  "get a salted pseudonym automatically. Never enter a real name, a patient/record number or a "
                  "birth date.")


@dataclass(frozen=True)
class RecordInputs:
    """What the user entered for the record: the subject pseudonym (or the reason it is refused) and the date."""

    subject: str
    problem: str | None
    study_date: str | None


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "report"


@st.cache_resource
def _store(url: str) -> Any:
    """One Store (engine + connection pool) per URL and process; it holds no per-request state."""
    from core.store import Store

    return Store(url)


def store() -> Any:
    """The longitudinal store at ``Settings.store_url``."""
    return _store(get_settings().store_url)


def record_inputs(scan: Scan, key: str) -> RecordInputs:
    """Subject pseudonym and optional study date widgets, with the no-real-identifiers warning."""
    c1, c2 = st.columns([3, 2])
    subject = c1.text_input("Subject ID (pseudonym)", value=scan.subject_pseudonym or "", key=f"{key}_subject",
                            help=PSEUDONYM_HELP, placeholder="e.g. sub-001")
    when = c2.date_input("Study date (optional)", value=None, min_value=date(1900, 1, 1), max_value=date.today(),
                         key=f"{key}_date", format="YYYY-MM-DD",
                         help="The date the scan was taken, so the timeline is in study time. Left empty, the "
                              "record date is used.")
    st.caption(":material/shield_person: Pseudonyms only: never type a real name, ID or birth date. "
               + ("This pseudonym was derived from the file's patient identifier (salted hash)."
                  if scan.subject_pseudonym and subject.strip() == scan.subject_pseudonym else
                  "The file carries no patient identifier: choose a code for this subject."
                  if not scan.subject_pseudonym else ""))
    problem = pseudonym_problem(subject)
    return RecordInputs(subject=subject.strip(), problem=problem,
                        study_date=None if when is None else when.isoformat())


def _save_button(key: str, inputs: RecordInputs, save: Callable[[Any, RecordInputs], int], source: str) -> None:
    if inputs.problem and inputs.subject:
        st.warning(inputs.problem, icon=":material/warning:")
    saved = st.session_state.get(f"{key}_saved")
    already = bool(saved) and saved[1:] == (inputs.subject, source)  # one record per scan and subject per session
    clicked = st.button("Save to longitudinal record", key=f"{key}_save", disabled=inputs.problem is not None or already,
                        icon=":material/save:", help="Stores the findings, volumes, QC report and model versions "
                        "(no pixels) under this pseudonym; the Longitudinal page shows them over time.")
    if clicked:
        try:
            record_id = save(store(), inputs)
        except ValueError as exc:  # bad date or subject the store refuses: the user's to fix
            st.error(str(exc), icon=":material/block:")
            return
        st.session_state[f"{key}_saved"] = (record_id, inputs.subject, source)
        saved = st.session_state[f"{key}_saved"]
    if saved and saved[2] == source:  # a confirmation belongs to the scan it was saved for
        st.success(f"Saved as record {saved[0]} of {saved[1]}. Open the Longitudinal page to follow it over time.",
                   icon=":material/check_circle:")


def render_record_and_report(scan: Scan, result: Result, images: Sequence[Any] | None = None,
                             title: str | None = None, key: str | None = None) -> None:
    """Save-to-record and PDF-download widgets for a task Result.

    Args:
        scan: the analysed scan (its display name, digest and pseudonym head the report and record).
        result: the task's Result (accepted or refused; the QC report goes into both).
        images: report images (``ReportImage``, ``(pixels, caption)`` or arrays); None draws the displayed
            image with the Grad-CAM of the decided class and the boxes (:func:`core.report.result_images`).
        title: report title, e.g. "Chest X-ray"; defaults to :data:`TASK_TITLES` (else the task name).
        key: widget key prefix; defaults to ``records_<task>``.
    """
    key = key or f"records_{result.task}"
    st.subheader("Record and report")
    inputs = record_inputs(scan, key)

    def _save(db: Any, given: RecordInputs) -> int:
        return db.add_result(result, subject=given.subject, source=scan.source, modality=scan.modality.value,
                             study_date=given.study_date)

    def _pdf() -> bytes:
        from core.report import as_report_images, result_images, result_pdf

        shown = result_images(scan, result) if images is None else as_report_images(images)
        return result_pdf(result, scan, shown, title=f"RadLens - {title or TASK_TITLES.get(result.task, result.task)}")

    c1, c2 = st.columns(2)
    with c1:
        _save_button(key, inputs, _save, scan.source)
    with c2:
        st.download_button("Download PDF report", data=_pdf, file_name=_safe_name(f"radlens_{result.task}_"
                           f"{scan.display_name}") + ".pdf", mime="application/pdf", key=f"{key}_pdf",
                           icon=":material/picture_as_pdf:", on_click="ignore",
                           help="QC report, findings, per-model scores, the image with Grad-CAM and boxes, "
                                "model versions; research use only.")


def render_qc_report(qc: QCReport, scan: Scan | None = None, name: str | None = None, key: str = "qc_report") -> None:
    """A "Download input-check report (PDF)" button for inputs refused before analysis (or the Scan Explorer).

    Args:
        qc: the input check shown on the page.
        scan: the loaded scan, or None when loading failed.
        name: the input's display name when there is no scan.
        key: widget key, unique per page.
    """
    def _pdf() -> bytes:
        from core.report import qc_pdf

        return qc_pdf(qc, scan, name)

    label = scan.display_name if scan is not None else (name or "input")
    st.download_button("Download input-check report (PDF)", data=_pdf, file_name=_safe_name(f"radlens_qc_{label}")
                       + ".pdf", mime="application/pdf", key=key, icon=":material/picture_as_pdf:", on_click="ignore",
                       help="Every check with its result and message; research use only.")


def _gates(scan: Scan) -> QCReport:
    return _gates_cached(scan.source, scan)


@st.cache_resource(max_entries=6, show_spinner=False)
def _gates_cached(source: str, _scan: Scan) -> QCReport:
    from core.gates import run_gates

    return run_gates(_scan, "alzheimers")


def render_brain_record_and_report(scan: Scan, brain_report: Any, risk: Any = None, images: Sequence[Any] | None = None,
                                   qc: QCReport | None = None, key: str = "records_brain") -> None:
    """Save-to-record and PDF-download widgets for a brain analysis.

    Args:
        scan: the scan as loaded (not the preprocessed ``brain_report.scan``).
        brain_report: :class:`core.brain.BrainReport`.
        risk: :class:`core.progression.ProgressionRisk` shown on the page, or None (the PDF says it is absent).
        images: report images; None draws the ROI overlays (and the CNN's Grad-CAM) on three planes.
        qc: the input gates' QC report; None re-runs the Alzheimer's gates (cached per scan). The analysis'
            own QC warnings are merged in.
        key: widget key prefix.
    """
    st.subheader("Record and report")
    inputs = record_inputs(scan, key)
    gates_qc = qc if qc is not None else _gates(scan)

    def _save(db: Any, given: RecordInputs) -> int:
        return db.add_brain_report(brain_report, subject=given.subject, source=scan.source,
                                   modality=scan.modality.value, study_date=given.study_date, risk=risk, qc=gates_qc)

    def _pdf() -> bytes:
        from core.report import as_report_images, brain_pdf

        return brain_pdf(scan, brain_report, risk=risk, images=None if images is None else as_report_images(images),
                         qc=gates_qc)

    c1, c2 = st.columns(2)
    with c1:
        _save_button(key, inputs, _save, scan.source)
    with c2:
        st.download_button("Download PDF report", data=_pdf, file_name=_safe_name(f"radlens_brain_{scan.display_name}")
                           + ".pdf", mime="application/pdf", key=f"{key}_pdf", icon=":material/picture_as_pdf:",
                           on_click="ignore", help="QC report, volumes vs norms, biomarkers, both staging methods, "
                           "progression risk, ROI overlays and Grad-CAM; research use only.")


def brain_risk_from_page(brain_report: Any, inputs: Any, key: str) -> Any:
    """The progression risk the Brain MRI page shows, recomputed from its widget state.

    ``core.ui.brain.render_risk`` draws the risk from its ``<key>_risk_stage`` and ``<key>_mci`` widgets
    and the patient inputs; this repeats that call so the record and the PDF hold the same numbers.
    Returns None when the age is not given (the page shows no risk then).
    """
    from core.progression import STAGES, progression_risk

    if inputs is None or getattr(inputs, "age_years", None) is None:
        return None
    stage = st.session_state.get(f"{key}_risk_stage")
    if stage not in STAGES:
        stage = next((s.label for s in (brain_report.stage, brain_report.stage_rule, brain_report.stage_cnn)
                      if s.status == "ok" and s.label in STAGES), STAGES[0])
    setting = st.session_state.get(f"{key}_mci") or "specialist"
    return progression_risk(stage, inputs.age_years, inputs.sex, inputs.education_years, inputs.apoe4_alleles,
                            hippocampal_percentile=brain_report.biomarkers.hippocampal_volume_percentile,
                            mci_setting=setting)


__all__ = ["render_record_and_report", "render_brain_record_and_report", "render_qc_report", "brain_risk_from_page", "record_inputs",
           "store", "RecordInputs", "PSEUDONYM_HELP"]
