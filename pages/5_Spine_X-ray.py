"""Screen a spine radiograph as normal/abnormal with a three-model ensemble and draw lesion boxes when abnormal."""

import streamlit as st

from core.ui import common, tasks

common.page_setup("Spine X-ray")
st.title("Spine X-ray screening")
st.caption("Spine radiograph (DICOM preferred) -> normal/abnormal from DenseNet121-, ResNet50- and "
           "EfficientNetV2-S-family models; when abnormal, a YOLO11 detector boxes VinDr-SpineXR lesion classes.")
tasks.task_page("spine-xray", "spine_xray")
