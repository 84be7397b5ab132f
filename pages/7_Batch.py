"""Run one task over many files or a zip: progress, one results row per scan (refusals with their reason), CSV download, optional save to the longitudinal record."""

import streamlit as st

from core.ui import batch, common

common.page_setup("Batch", icon=":material/stacks:")
st.title("Batch processing")
st.caption("Upload several images or a zip, choose the task, and get one row per scan. Files the input checks "
           "refuse appear as 'rejected' with the reason; nothing is forced into a prediction.")
batch.batch_page("batch")
