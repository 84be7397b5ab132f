"""Find chest X-ray findings with an ensemble of two networks, each model's findings beside the ensemble, confidence levels and Grad-CAM."""

import streamlit as st

from core.ui import common, tasks

common.page_setup("Chest X-ray")
st.title("Chest X-ray findings")
st.caption("Frontal chest radiograph (DICOM, PNG or JPEG) -> multi-label findings from a DenseNet121-family and a "
           "MobileNetV2-family model, with the confidence level and recommended action of each finding.")
tasks.task_page("chest-xray", "chest_xray")
