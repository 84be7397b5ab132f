"""Follow a pseudonymous subject over time: saved records, brain volumes and prediction confidence as charts, annualised change against published atrophy rates, JSON/CSV export."""

import streamlit as st

from core.ui import common, longitudinal

common.page_setup("Longitudinal", icon=":material/timeline:")
st.title("Longitudinal record")
st.caption("Records saved from the analysis pages, per pseudonymous subject. The store holds findings, volumes, "
           "QC reports and model versions, never pixels or names.")
longitudinal.longitudinal_page("longitudinal")
