"""Longitudinal page renderer: one subject's records, charts over time, annualised change vs published rates.

The page (pages/6_Longitudinal.py) calls :func:`longitudinal_page`. Data come from the store at
``Settings.store_url`` (:mod:`core.ui.records`); tables and rates from :mod:`core.longitudinal`,
charts from :mod:`core.viz.timeline`.
"""

from __future__ import annotations

import streamlit as st

from core.longitudinal import annualised_changes, record_rows
from core.ui.records import store
from core.viz.timeline import confidence_figure, icv_figure, volumes_figure


def choose_subject(subjects: list[str], key: str) -> str | None:
    """A pseudonym from the store (with a filter box when there are many)."""
    if not subjects:
        return None
    shown = subjects
    if len(subjects) > 20:
        text = st.text_input("Filter pseudonyms", key=f"{key}_filter", placeholder="part of a pseudonym")
        shown = [s for s in subjects if text.strip().lower() in s.lower()] or subjects
    return st.selectbox("Subject (pseudonym)", shown, key=f"{key}_subject",
                        help="Subjects are known only by their pseudonym; the store holds no names or pixels.")


def render_changes(timeline) -> None:
    """Annualised change of brain measures between the first and last brain record, beside published rates."""
    changes = annualised_changes(timeline)
    if changes.empty:
        st.info("Annualised change needs at least two Brain MRI records of this subject.")
        return
    st.dataframe(changes, hide_index=True, width="stretch",
                 column_config={"change %/y": st.column_config.NumberColumn(format="%+.2f"),
                                "published rates": st.column_config.TextColumn(width="large")})
    st.caption("Linear rate 100 x (last - first) / first / years. Published rates (FACTS.md section 3, all "
               "group means): hippocampus CN -1.41 %/y, AD -4.66 %/y (Barnes 2009 Neurobiol Aging 30:1711); "
               "whole brain -0.45 %/y nondemented >65 y, -0.98 %/y very mild DAT (Fotenos 2005 Neurology 64:1032). "
               "Two time points of an atlas-based volumetry carry measurement error of the same order as a "
               "year's atrophy: read the rate with the interval between scans in mind.")


def longitudinal_page(key: str = "longitudinal") -> None:
    """The whole body of the Longitudinal page."""
    db = store()
    subjects = db.subjects()
    subject = choose_subject(subjects, key)
    if subject is None:
        st.info("No records yet. Analyse a scan on one of the analysis pages (or the Batch page) and press "
                "'Save to longitudinal record'; the subject's records then appear here.")
        return
    records = db.studies(subject)
    timeline = db.timeline(subject)
    st.subheader(f"Records of {subject}")
    st.dataframe(record_rows(records), hide_index=True, width="stretch")
    st.caption("Dates are the study dates given when saving, else the date the record was made. Records hold "
               "findings, volumes, QC reports and model versions, never pixels.")

    st.subheader("Brain volumes over time")
    fig = volumes_figure(timeline)
    if fig is None:
        st.info("No Brain MRI records for this subject.")
    else:
        st.plotly_chart(fig, width="stretch", key=f"{key}_volumes")
        icv = icv_figure(timeline)
        if icv is not None:
            st.markdown("**Normalised to intracranial volume** (corrects for head size)")
            st.plotly_chart(icv, width="stretch", key=f"{key}_icv")
        st.markdown("**Annualised change (first to last brain record)**")
        render_changes(timeline)

    st.subheader("Predictions and stage confidence by task")
    conf = confidence_figure(timeline)
    if conf is None:
        st.info("No record with a confidence yet.")
    else:
        st.plotly_chart(conf, width="stretch", key=f"{key}_confidence")
        st.caption("Brain MRI: the combined stage's confidence. Other tasks: the top class's calibrated probability; "
                   "'Unable to determine' records keep their top probability.")

    st.subheader("Export")
    c1, c2 = st.columns(2)
    c1.download_button("Download records (JSON)", data=db.export_json(subject), file_name=f"{subject}_records.json",
                       mime="application/json", key=f"{key}_json", icon=":material/data_object:")
    c2.download_button("Download timeline (CSV)", data=timeline.to_csv(index=False), file_name=f"{subject}_timeline.csv",
                       mime="text/csv", key=f"{key}_csv", icon=":material/table:")


__all__ = ["longitudinal_page", "choose_subject", "render_changes"]
