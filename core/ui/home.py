"""Home page renderers: what RadLens does, its pages, installed models, device and settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from core.config import PROJECT_ROOT, describe_settings, get_settings
from core.ui.common import page_docstrings

INTRO = """
RadLens is a research dashboard for medical-imaging AI. Upload a scan (brain MRI volume or slice,
chest or spine X-ray; NIfTI, FreeSurfer MGZ, DICOM files, series or zip, PNG/JPEG) and RadLens first
checks whether the input is acceptable, refusing it with a clear reason when it is not. Accepted scans
can be browsed in 2D and 3D, and the analysis pages add model findings with calibrated confidence,
Grad-CAM explanation maps, brain volumetry against published norms, Alzheimer's staging and
progression risk, and PDF reports. It never forces a prediction: below the confidence threshold the
answer is "Unable to determine".
"""


def render_intro() -> None:
    st.title("RadLens")
    st.markdown(INTRO)


def render_pages(pages_dir: Path = PROJECT_ROOT / "pages") -> None:
    """One line per page: a link and the first paragraph of the page's docstring."""
    st.subheader("Pages")
    for path, title, doc in page_docstrings(pages_dir):
        st.page_link(path, label=title, icon=":material/arrow_forward:")
        if doc:
            st.caption(doc)


@st.cache_data(ttl=60, show_spinner="Checking installed models…")
def _model_rows() -> list[dict[str, Any]] | None:
    """Rows of the model table, or None when the model registry is not installed."""
    try:
        from core.models import list_models
    except ImportError:
        return None
    return [info.to_row() for info in list_models()]


def render_models() -> None:
    """Models found in ``weights/`` (metadata.json per folder) and whether each can be used."""
    st.subheader("Models")
    rows = _model_rows()
    if not rows:
        st.info(f"No models installed: no usable folder with a metadata.json in `{get_settings().weights_dir}`. "
                "The Scan Explorer works without models; analysis pages will say which model they miss.")
        return
    available = sum(bool(r.get("available")) for r in rows)
    st.caption(f"{available} of {len(rows)} model folders are usable. Demo models are phantom-trained: they show "
               "the workflow, not evidence about real patients. Add your own by dropping a folder with a "
               "metadata.json and the weight file into weights/ (see the README).")
    st.dataframe(rows, hide_index=True, width="stretch")


@st.cache_data(show_spinner=False)
def _device() -> tuple[str, str]:
    """(device string, human description)."""
    device = get_settings().resolved_device()
    if device.startswith("cuda"):
        import torch

        return device, f"CUDA GPU: {torch.cuda.get_device_name(0)}"
    return device, "CPU (no CUDA GPU found, or RADLENS_DEVICE=cpu)"


def render_device() -> None:
    device, description = _device()
    st.subheader("Compute")
    st.markdown(f"Models run on **{device}**: {description}.")


def render_settings() -> None:
    """Every setting with its value, environment variable and help text."""
    with st.expander("Settings (change them with the environment variables shown)"):
        st.dataframe([_mask_secret(row) for row in describe_settings()], hide_index=True, width="stretch")


_SECRET_WORDS = ("salt", "secret", "password", "token", "key")


def _mask_secret(row: dict[str, Any]) -> dict[str, Any]:
    """Hide secret values (the pseudonym salt, passwords inside database URLs) from the page."""
    row = dict(row)
    if any(word in row["setting"].lower() for word in _SECRET_WORDS):
        row["value"] = "(hidden)"
    elif "://" in row["value"] and "@" in row["value"]:
        scheme, rest = row["value"].split("://", 1)
        row["value"] = f"{scheme}://(credentials hidden)@{rest.rsplit('@', 1)[1]}"
    return row


__all__ = ["INTRO", "render_intro", "render_pages", "render_models", "render_device", "render_settings"]
