"""Upload a scan or pick a sample case, see its input check (QC), browse it in 2D and 3D, and read its de-identified metadata."""

import streamlit as st

from core.ui import common, explorer

common.page_setup("Scan Explorer")
st.title("Scan Explorer")
choice = common.scan_input("explorer")
if choice is None:
    st.info("Upload a scan or pick a sample case to begin.")
    st.stop()

outcome = common.load_input(choice, "explorer")
st.subheader("Input check")
common.render_qc(outcome.qc)
if outcome.scan is None or not outcome.qc.accepted:
    st.stop()

scan = outcome.scan
st.subheader("Slices")
explorer.slice_viewer(scan, "explorer")
left, right = st.columns(2, gap="large")
with left:
    st.subheader("3D view")
    explorer.view_3d(scan, "explorer")
with right:
    st.subheader("Metadata (de-identified)")
    common.render_metadata(scan)
