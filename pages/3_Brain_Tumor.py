"""Classify a brain MRI slice as glioma, meningioma, pituitary tumour or no tumour, with Grad-CAM and confidence."""

import streamlit as st

from core.ui import common, tasks

common.page_setup("Brain Tumor")
st.title("Brain Tumor MRI")
st.caption("One MRI slice (JPEG/PNG, DICOM, or the middle axial slice of a volume) -> glioma / meningioma / "
           "pituitary / no tumour. Below the confidence threshold the answer is 'Unable to determine'.")
tasks.task_page("brain-tumor", "brain_tumor")
