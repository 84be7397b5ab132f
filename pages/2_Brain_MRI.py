"""Brain MRI volume (T1): volumes against age norms, hippocampi and ventricles in 2D and 3D, Alzheimer's staging two ways, and progression risk."""

import streamlit as st

from core.ui import brain, common, records

common.page_setup("Brain MRI")
st.title("Brain MRI: volumetry, Alzheimer's staging and progression risk")
st.caption("A 3D T1-weighted head volume (NIfTI, MGZ, DICOM series or zip). Age and sex enable percentiles "
           "against published norms; education and APOE e4 feed the progression-risk model.")
inputs = brain.patient_inputs("brain")
choice = common.scan_input("brain", sample_kinds=["brain-mri-volume"])
if choice is None:
    st.info("Upload a T1 volume or pick a sample case. Without a scan, the progression-risk model below still "
            "works from a stage you choose.")
    st.subheader("Progression risk (no scan)")
    brain.render_risk(None, inputs, "brain")
    brain.prepare_analysis()
    st.stop()

outcome = common.load_input(choice, "brain")
if outcome.scan is None or not outcome.qc.accepted:
    st.subheader("Input check")
    common.render_qc(outcome.qc)
    records.render_qc_report(outcome.qc, outcome.scan, choice.label, key="brain_qc_pdf")
    st.stop()
report = brain.render_analysis(outcome.scan, inputs, "brain")
if report is not None:
    records.render_brain_record_and_report(outcome.scan, report, risk=records.brain_risk_from_page(report, inputs, "brain"))
