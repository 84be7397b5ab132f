"""Shared Streamlit renderer of the three image-model pages (brain tumour, chest X-ray, spine X-ray).

A page calls :func:`task_page` and nothing else: input (upload, sample case or a public sample
scan) -> load + input check -> ``get_task(name)(scan)`` -> findings, Grad-CAM overlay, boxes,
per-model table, processing time, QC report, metadata. The task and the results are cached
(``st.cache_resource``: tasks hold no per-request state; results are frozen plain data).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from core.config import get_settings
from core.types import Result, Scan
from core.ui import common, records

# task -> (sub-folder of settings.samples_dir holding public scans of that kind, sample-case kinds)
PUBLIC_SAMPLE_FOLDERS: dict[str, str] = {"brain-tumor": "brain_tumor", "chest-xray": "chest_xray",
                                         "spine-xray": "spine_xray"}
# kinds of core.synth.samples.SampleCase offered on each page
SAMPLE_KINDS: dict[str, tuple[str, ...]] = {"brain-tumor": ("brain-mri-slice",), "chest-xray": ("chest-xray",),
                                            "spine-xray": ("spine-xray",)}
PUBLIC_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm", ".dicom")


@st.cache_resource(show_spinner="Loading models…")
def _task(name: str, weights_dir: str) -> Any:
    from core.tasks import get_task

    return get_task(name)


def cached_task(name: str) -> Any:
    """The task, built once per process and weights folder."""
    return _task(name, str(get_settings().weights_dir))


@st.cache_resource(max_entries=8, show_spinner="Analysing…")
def _run(name: str, weights_dir: str, digest: str, _scan: Scan) -> Result:
    return cached_task(name)(_scan)


def public_samples(task_name: str) -> list[Path]:
    """Real public scans for this task under ``settings.samples_dir`` (absent folder: none)."""
    folder = Path(get_settings().samples_dir) / PUBLIC_SAMPLE_FOLDERS.get(task_name, "")
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in PUBLIC_SUFFIXES)


def choose_input(task_name: str, key: str) -> common.ScanInput | None:
    """A public sample scan when the user ticks it (and some exist), else upload / sample case."""
    publics = public_samples(task_name)
    if publics and st.toggle("Use a public sample scan", key=f"{key}_public",
                             help=f"Real public images from {get_settings().samples_dir} (see SOURCES.md there)."):
        path = st.selectbox("Public sample", publics, format_func=lambda p: p.name, key=f"{key}_public_file")
        data = Path(path).read_bytes()
        return common.ScanInput(label=Path(path).name, files=((Path(path).name, data),),
                                digest=hashlib.sha256(data).hexdigest())
    return common.scan_input(key, sample_kinds=list(SAMPLE_KINDS.get(task_name, ())))


def render_model_status(task: Any) -> None:
    """Phantom-trained notices and the model table (loaded or why not)."""
    for notice in task.notices():
        st.info(f"**Demo models:** {notice}", icon=":material/science:")
    rows = task.model_table()
    if not rows:
        st.warning(f"No model folder for this task under `{get_settings().weights_dir}`. Add one (metadata.json + "
                   "weights) as the README describes.", icon=":material/warning:")
    with st.expander("Models", expanded=not task.members):
        if rows:
            st.dataframe(rows, hide_index=True, width="stretch")


def _pct(p: float) -> str:
    return "—" if p is None or (isinstance(p, float) and math.isnan(p)) else f"{p:.1%}"


def render_findings(result: Result) -> None:
    """Verdict (or refusal with top candidates) and the probability table with each model's column."""
    if result.ok:
        st.success(f"**{result.prediction}** — confidence {_pct(result.confidence)}", icon=":material/check_circle:")
    else:
        for reason in result.reasons:
            st.warning(reason, icon=":material/help:")
    findings = result.extras.get("findings")
    if findings:  # chest: confidence level and recommendation per finding
        rows = [{"finding": r["finding"], "ensemble": _pct(r["probability"]), "level": r["level"],
                 "recommendation": r["recommendation"],
                 **{m: _pct(r.get(m)) for m in result.per_model}} for r in findings]
        st.dataframe(rows, hide_index=True, width="stretch")
        return
    if not result.labels or not result.probabilities:
        return
    order = np.argsort([-(p if not math.isnan(p) else -1) for p in result.probabilities])
    rows = [{"label": result.labels[i], "ensemble" if len(result.per_model) > 1 else "probability":
             _pct(result.probabilities[i]), **({m: _pct(v[i]) for m, v in result.per_model.items()}
                                               if len(result.per_model) > 1 else {})} for i in order]
    st.dataframe(rows, hide_index=True, width="stretch")
    if "ensemble_score" in result.extras:  # spine
        x = result.extras
        st.caption(f"Ensemble score {x['ensemble_score']:.3f} vs decision threshold {x['decision_threshold']:.3f} "
                   f"({x['decision_threshold_source']}).")
        if x.get("threshold_unverified"):
            st.warning("The decision threshold 0.449 is UNVERIFIED (FACTS.md section 6): treat the normal/abnormal "
                       "cut as provisional.", icon=":material/warning:")


def display_image(scan: Scan, result: Result) -> np.ndarray:
    """The analysed 2D image as grey uint8 (rows, cols), windowed for display."""
    from core.preprocess import to_display_2d
    from core.viz.slices import apply_window, auto_window

    image = to_display_2d(scan)
    return apply_window(image, auto_window(image))


def render_image(scan: Scan, result: Result, key: str) -> None:
    """The image with a Grad-CAM overlay (class selector, opacity slider) and detection boxes."""
    from core.viz.slices import draw_boxes, fit_within, overlay_heatmap

    gray = display_image(scan, result)
    by_model: dict[str, dict[str, np.ndarray]] = dict(result.extras.get("cams_by_model") or {})
    shown = gray
    if by_model:
        models = list(by_model)
        primary = result.extras.get("cam_model")
        c0, c1, c2 = st.columns([2, 2, 2])
        model = c0.selectbox("Grad-CAM model", models, index=models.index(primary) if primary in models else 0,
                             key=f"{key}_cam_model") if len(models) > 1 else models[0]
        cams = by_model[model]
        labels = list(cams)
        default = result.extras.get("cam_label")
        label = c1.selectbox("Grad-CAM class", labels, index=labels.index(default) if default in labels else 0,
                             key=f"{key}_cam_class")
        opacity = c2.slider("Overlay opacity", 0.0, 1.0, 0.4, 0.05, key=f"{key}_cam_opacity")
        shown = overlay_heatmap(gray, np.asarray(cams[label], dtype=np.float32), opacity=opacity, min_value=0.2)
        layer = (result.extras.get("cam_layers") or {}).get(model, "")
        st.caption(f"Grad-CAM of {model} (layer `{layer}`): where the network looked for this class, "
                   "not a lesion outline.")
    elif result.ok:
        st.caption("No Grad-CAM: the models of this task are not torch networks (e.g. ONNX).")
    if result.boxes:
        shown = draw_boxes(shown, result.boxes)
    st.image(fit_within(shown, 900), width="content" if max(shown.shape[:2]) < 700 else "stretch")
    if result.boxes:
        st.dataframe([{"lesion": b.label, "confidence": _pct(b.score), "x0": round(b.x0), "y0": round(b.y0),
                       "x1": round(b.x1), "y1": round(b.y1)} for b in result.boxes], hide_index=True, width="stretch")
        st.caption("Boxes are in pixel columns (x) and rows (y) of the displayed image.")
    elif result.extras.get("detector_note"):
        st.caption(result.extras["detector_note"])
    elif result.prediction == "abnormal" and "detector" in result.extras:
        st.caption("The lesion detector found no box above its confidence threshold.")


def render_timings(result: Result) -> None:
    """Processing time per step (seconds)."""
    t = result.timings_s
    st.caption(f"Processing time {t.get('total_s', float('nan')):.2f} s · versions: "
               + ", ".join(f"{k} {v}" for k, v in result.model_versions.items()))
    with st.expander("Timings"):
        st.dataframe([{"step": k.removesuffix("_s"), "seconds": round(v, 3)} for k, v in t.items()],
                     hide_index=True, width="stretch")


def task_page(task_name: str, key: str) -> None:
    """The whole body of an image-model page."""
    task = cached_task(task_name)
    render_model_status(task)
    choice = choose_input(task_name, key)
    if choice is None:
        st.info("Upload an image, pick a sample case, or use a public sample scan to begin.")
        return
    outcome = common.load_input(choice, key)
    if outcome.scan is None or not outcome.qc.accepted:
        st.subheader("Input check")
        common.render_qc(outcome.qc)
        records.render_qc_report(outcome.qc, outcome.scan, choice.label, key=f"{key}_qc_pdf")
        return
    scan = outcome.scan
    result = _run(task_name, str(get_settings().weights_dir), choice.digest + ":" + scan.source, scan)
    left, right = st.columns([3, 2])
    with right:
        st.subheader("Findings")
        render_findings(result)
        for notice in result.extras.get("notices", ()):
            st.info(f"Phantom-trained model: {notice}", icon=":material/science:")
        render_timings(result)
    with left:
        if result.qc.accepted and result.extras.get("display_shape"):
            render_image(scan, result, key)
        elif scan.is_2d:
            from core.viz.slices import fit_within

            # A refused image is still shown, so the researcher sees what the gates judged.
            st.image(fit_within(display_image(scan, result), 600))
            st.caption("The refused input as received; no model output is shown for it.")
    st.subheader("Input check")
    common.render_qc(result.qc)
    if result.per_model and len(result.per_model) > 0:
        with st.expander("Per-model probabilities", expanded=len(result.per_model) > 1):
            st.dataframe([{"model": m, "weight": round(result.extras.get("ensemble_weights", {}).get(m, float("nan")), 3),
                           **{l: _pct(p) for l, p in zip(result.labels, probs)}}
                          for m, probs in result.per_model.items()], hide_index=True, width="stretch")
    with st.expander("Metadata (de-identified)", expanded=task_name == "spine-xray"):
        common.render_metadata(scan)
    records.render_record_and_report(scan, result=result, key=f"{key}_records")


__all__ = ["task_page", "cached_task", "choose_input", "public_samples", "render_findings", "render_image",
           "render_model_status", "render_timings"]
