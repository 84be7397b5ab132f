"""Batch page renderer: several files or a zip -> one task -> progress -> results table -> CSV (and records).

The page (pages/7_Batch.py) calls :func:`batch_page`; the work is :func:`core.batch.run_batch`.
Results are kept in the session (keyed by the uploaded bytes, task and options) so that
downloading the CSV does not run the batch again.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd
import streamlit as st

from core.longitudinal import pseudonym_problem
from core.ui.records import PSEUDONYM_HELP, store

TASK_HELP = {"chest-xray": "Chest X-ray findings", "spine-xray": "Spine X-ray normal/abnormal + lesion boxes",
             "brain-tumor": "Brain MRI slice: tumour type", "alzheimers": "Brain T1 volume: Alzheimer's stage (CNN)",
             "input-gate": "Input gate only: image kind and body part"}
BATCH_UPLOAD_TYPES = ("png", "jpg", "jpeg", "dcm", "dicom", "ima", "zip", "nii", "gz", "mgz")


def _digest(files: list[tuple[str, bytes]], *parts: Any) -> str:
    h = hashlib.sha256()
    for name, data in files:
        h.update(name.encode())
        h.update(hashlib.sha256(data).digest())
    h.update(repr(parts).encode())
    return h.hexdigest()


def summary_text(table: pd.DataFrame) -> str:
    """"12 scans: 9 ok, 3 rejected" style summary."""
    counts = table["status"].value_counts()
    return f"{len(table)} scan(s): " + ", ".join(f"{counts[k]} {k}" for k in sorted(counts.index))


def render_results(table: pd.DataFrame, key: str) -> None:
    """Summary, the results table (rejected rows first shown with their reason) and the CSV download."""
    st.success(summary_text(table), icon=":material/task_alt:")
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"confidence": st.column_config.NumberColumn(format="%.3f"),
                                "qc_reasons": st.column_config.TextColumn("reasons", width="large")})
    st.download_button("Download results (CSV)", data=table.to_csv(index=False), file_name="radlens_batch.csv",
                       mime="text/csv", key=f"{key}_csv", icon=":material/table:", on_click="ignore")


def batch_page(key: str = "batch") -> None:
    """The whole body of the Batch page."""
    from core.batch import run_batch
    from core.tasks import list_tasks

    tasks = list_tasks()
    c1, c2 = st.columns([2, 3])
    task_name = c1.selectbox("Task", tasks, index=tasks.index("chest-xray") if "chest-xray" in tasks else 0,
                             format_func=lambda t: f"{t} — {TASK_HELP.get(t, '')}".rstrip(" —"), key=f"{key}_task")
    uploads = c2.file_uploader("Files or a zip", type=list(BATCH_UPLOAD_TYPES), accept_multiple_files=True,
                               key=f"{key}_files", help="Several images, DICOM files, volumes, or a zip of them. "
                               "DICOM files of one folder are analysed together as one series.")
    save = st.toggle("Save results to the longitudinal record", key=f"{key}_save",
                     help="Each analysed scan is recorded (findings and QC report, no pixels).")
    subject = ""
    if save:
        subject = st.text_input("Subject ID (pseudonym) for every record", key=f"{key}_subject", help=PSEUDONYM_HELP,
                                placeholder="leave empty to use each DICOM file's own pseudonym").strip()
        st.caption(":material/shield_person: Pseudonyms only: never type a real name, ID or birth date. Files "
                   "without a patient identifier are not recorded unless a subject ID is given.")
        if subject and (problem := pseudonym_problem(subject)):
            st.warning(problem, icon=":material/warning:")
            return
    if not uploads:
        st.info("Upload several files or a zip to begin.")
        return
    files = [(u.name, u.getvalue()) for u in uploads]
    run_key = _digest(files, task_name, save, subject)
    results: dict[str, pd.DataFrame] = st.session_state.setdefault(f"{key}_results", {})
    if run_key not in results:
        if not st.button(f"Run {task_name} on {len(files)} upload(s)", key=f"{key}_run", type="primary",
                         icon=":material/play_arrow:"):
            return
        bar = st.progress(0.0, text="Starting…")

        def _progress(done: int, total: int, name: str) -> None:
            bar.progress(done / max(total, 1), text=f"{done}/{total}: {name}")

        table = run_batch(files, task_name, store=store() if save else None, subject=subject or None,
                          progress=_progress)
        bar.empty()
        results.clear()  # keep one table per session: a batch can be large
        results[run_key] = table
    render_results(results[run_key], key)


__all__ = ["batch_page", "render_results", "summary_text"]
