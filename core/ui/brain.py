"""Brain MRI page renderers: patient inputs, gates, volumetry, norms chart, ROI overlays, 3D, staging, risk.

The page (pages/2_Brain_MRI.py) stays thin: it reads the scan input and the patient inputs, then
calls :func:`render_analysis`. Heavy work is cached with ``st.cache_resource`` keyed by the scan's
source digest (and age/sex for the analysis); cached objects are frozen dataclasses and are never
mutated, so sharing them across sessions is safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from core.progression import STAGES, ProgressionRisk, progression_risk
from core.types import QCReport, Scan
from core.ui.common import render_plotter, render_qc
from core.viz import brain3d
from core.viz import slices as sl

IMAGE_WIDTH_PX = 300
APOE_OPTIONS = ("unknown (treated as 0)", "0", "1", "2")
PLANES = ("axial", "coronal", "sagittal")


@dataclass(frozen=True)
class PatientInputs:
    """What the user entered about the subject (all optional except the risk-model defaults)."""

    age_years: float | None
    sex: str | None
    education_years: float
    apoe4_alleles: int
    apoe4_known: bool


def patient_inputs(key: str) -> PatientInputs:
    """Age, sex, education and APOE e4 widgets in one row."""
    c1, c2, c3, c4 = st.columns(4)
    age = c1.number_input("Age (years)", min_value=18, max_value=110, value=None, step=1, key=f"{key}_age",
                          help="Needed for percentiles against age norms and for the risk model.")
    sex = c2.selectbox("Sex", ("not given", "F", "M"), key=f"{key}_sex",
                       help="The norms and the CN->MCI baseline rate are sex-specific.")
    edu = c3.number_input("Education (years)", min_value=0, max_value=30, value=12, step=1, key=f"{key}_edu",
                          help="Risk model: -7 % dementia risk per year of education (PMC7721642).")
    apoe = c4.selectbox("APOE e4 alleles", APOE_OPTIONS, key=f"{key}_apoe",
                        help="Risk model: APOE e4 allele count (0, 1 or 2).")
    known = apoe != APOE_OPTIONS[0]
    return PatientInputs(age_years=None if age is None else float(age), sex=None if sex == "not given" else sex,
                         education_years=float(edu), apoe4_alleles=int(apoe) if known else 0, apoe4_known=known)


# --------------------------------------------------------------------------------------------
# Gates and analysis (cached)
# --------------------------------------------------------------------------------------------
@st.cache_resource(max_entries=6, show_spinner="Checking the input…")
def _gates(source: str, _scan: Scan) -> QCReport:
    from core.gates import run_gates

    return run_gates(_scan, "alzheimers")


@dataclass(frozen=True)
class Analysis:
    """The brain report, or the user-facing reason it could not be made."""

    report: Any = None
    error: str | None = None


@st.cache_resource(max_entries=4, show_spinner="Analysing the brain (registration, volumetry, staging)…")
def _analyze(source: str, age_years: float | None, sex: str | None, _scan: Scan) -> Analysis:
    from core.brain import analyze
    from core.types import RejectedInput

    try:
        return Analysis(report=analyze(_scan, age_years=age_years, sex=sex))
    except RejectedInput as exc:
        return Analysis(error=str(exc))


def prepare_analysis() -> None:
    """Load ANTsPy, the templates and the atlas (once per process) while the page waits for a scan.

    Called last on the page without a scan, so the page is already drawn; the first analysis then
    starts without the ~5 s load. ``warm_up`` is cached itself, so later reruns cost nothing.
    """
    from core.brain import warm_up

    warm_up()


def check_input(scan: Scan) -> QCReport:
    """Run (cached) and show the Alzheimer's input gates; returns the report."""
    report = _gates(scan.source, scan)
    render_qc(report)
    return report


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------
def _fmt(v: float | None, digits: int = 1, suffix: str = "") -> str:
    return "n/a" if v is None else f"{v:.{digits}f}{suffix}"


def volume_rows(report: Any) -> list[dict[str, Any]]:
    """Rows of the volumes table: mL, % of ICV and the percentile where a norm exists."""
    b = report.biomarkers
    pct = {"hippocampus_left": b.hippocampus_left_percentile, "hippocampus_right": b.hippocampus_right_percentile,
           "hippocampus_total": b.hippocampal_volume_percentile, "lateral_ventricles": b.ventricle_percentile,
           "lateral_ventricle_left": b.ventricle_left_percentile, "lateral_ventricle_right": b.ventricle_right_percentile}
    names = {"icv": "Intracranial (ICV)", "brain": "Brain", "gm": "Grey matter", "wm": "White matter", "csf": "CSF",
             "hippocampus_left": "Hippocampus, left", "hippocampus_right": "Hippocampus, right",
             "hippocampus_total": "Hippocampus, total", "lateral_ventricles": "Lateral ventricles",
             "lateral_ventricle_left": "Lateral ventricle, left", "lateral_ventricle_right": "Lateral ventricle, right"}
    rows = []
    for key, name in names.items():
        if key not in report.volumes_ml:
            continue
        frac = report.volumes_icv_fraction.get(key)
        rows.append({"structure": name, "volume (mL)": round(float(report.volumes_ml[key]), 2),
                     "% of ICV": None if frac is None else round(100.0 * float(frac), 3),
                     "percentile for age/sex": None if pct.get(key) is None else round(float(pct[key]), 1)})
    return rows


def render_volumes(report: Any) -> None:
    """Volumes table, grades and the norms behind the percentiles."""
    b = report.biomarkers
    st.dataframe(volume_rows(report), hide_index=True, width="stretch")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Hippocampal percentile", _fmt(b.hippocampal_volume_percentile, 0))
    c2.metric("Ventricle enlargement", b.ventricle_enlargement)
    c3.metric("Cortical thinning", b.cortical_thinning)
    c4.metric("Mean cortical thickness", _fmt(b.cortical_thickness_mm, 2, " mm"))
    if b.percentile_unavailable_reason:
        st.info(f"Percentiles unavailable: {b.percentile_unavailable_reason}")
    from core.brain.accuracy import accuracy_note

    st.caption(accuracy_note())
    st.caption(f"Norms: {b.norm_source}.")
    st.caption("Grading rules: " + " ".join(f"{k.replace('_', ' ')}: {str(v).rstrip('.')}."
                                            for k, v in dict(b.grading_basis).items()))
    for note in b.notes:
        st.caption(note)


def centile_figure(report: Any):
    """Plotly figure: the patient's hippocampi on the ICV-adjusted CentileBrain centile curves, or None.

    Curves are the normative model behind the hippocampal percentile (predicted volume for this
    head size and sex, +- z * RMSE) over ages 40-90.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    from scipy.stats import norm

    from core.brain.norms import centilebrain_predicted_mm3

    if report.age_years is None or report.sex is None:
        return None
    icv_mm3 = float(report.volumes_ml["icv"]) * 1000.0
    ages = np.arange(40.0, 90.5, 1.0)
    centiles = (2.5, 10.0, 25.0, 50.0, 75.0, 90.0, 97.5)
    # One colour per centile in both panels (plotly's default cycle would recolour the right one).
    colours = dict(zip(centiles, ("#9e9e9e", "#56b4e9", "#009e73", "#e6e6e6", "#009e73", "#56b4e9", "#9e9e9e")))
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Left hippocampus", "Right hippocampus"), shared_yaxes=True)
    for col, (hemi, key) in enumerate((("L", "hippocampus_left"), ("R", "hippocampus_right")), start=1):
        pred_rmse = [centilebrain_predicted_mm3(hemi, float(a), report.sex, icv_mm3) for a in ages]
        pred = np.array([p for p, _ in pred_rmse]) / 1000.0
        rmse = np.array([r for _, r in pred_rmse]) / 1000.0
        for c in centiles:
            z = float(norm.ppf(c / 100.0))
            fig.add_trace(go.Scatter(x=ages, y=pred + z * rmse, mode="lines", name=f"P{c:g}", legendgroup=f"P{c:g}",
                                     showlegend=col == 1, line={"color": colours[c], "width": 2.5 if c == 50 else 1,
                                                                "dash": "solid" if c == 50 else "dot"}),
                          row=1, col=col)
        fig.add_trace(go.Scatter(x=[report.age_years], y=[float(report.volumes_ml[key])], mode="markers",
                                 marker={"size": 13, "color": "#d55e00", "symbol": "diamond"}, name="this scan",
                                 legendgroup="scan", showlegend=col == 1), row=1, col=col)
    fig.update_xaxes(title_text="age (years)")
    fig.update_yaxes(title_text="volume (mL)", row=1, col=1)
    # The figure title sits above the subplot titles, with room so the two do not touch.
    fig.update_layout(height=400, margin={"t": 80, "b": 10, "l": 10, "r": 10},
                      title={"text": f"ICV-adjusted centiles (CentileBrain) for sex {report.sex}, "
                                     f"ICV {icv_mm3 / 1e6:.2f} L", "y": 0.97, "yanchor": "top"})
    return fig


def render_norms_chart(report: Any) -> None:
    fig = centile_figure(report)
    if fig is None:
        st.info("Enter age and sex to place the hippocampal volumes on the age centile curves.")
        return
    st.plotly_chart(fig, width="stretch")
    st.caption("Curves: CentileBrain (ENIGMA Lifespan, Ge et al.) per-hemisphere FreeSurfer-aseg hippocampus model, "
               "predicted for this scan's ICV; centile = prediction + z x RMSE. RadLens volumes come from an atlas "
               "registration, not FreeSurfer: compare with care.")


@st.fragment
def render_overlays(report: Any, key: str) -> None:
    """ROI overlays (and the Grad-CAM) on the three orthogonal planes, with slice sliders and a legend."""
    scan = report.scan
    vol = scan.array[0]
    labels = brain3d.roi_label_map(report.masks)
    centre = brain3d.roi_centre(labels)
    window = sl.auto_window(vol)
    show_cam = st.toggle("Show the CNN's 3D Grad-CAM", value=False, key=f"{key}_cam",
                         help="Where the staging CNN found the evidence for its top class (coarse: 28 mm cells).")
    from core.tasks.alzheimers import cam_on_analysis_grid

    cam = cam_on_analysis_grid(report) if show_cam else None
    cols = st.columns(3)
    for column, plane in zip(cols, PLANES):
        axis = sl.PLANE_AXIS[plane]
        n = sl.slice_count(vol.shape, plane)
        with column:
            index = st.slider(f"{plane.capitalize()} slice", 0, n - 1, int(centre[axis]), key=f"{key}_{plane}")
            img = brain3d.overlay_slice(vol, labels, plane, index, scan.spacing_mm, window)
            st.image(sl.fit_within(img, IMAGE_WIDTH_PX * 2), width=IMAGE_WIDTH_PX, caption=plane.capitalize())
            if cam is not None:
                hm = brain3d.heatmap_slice(vol, cam, plane, index, scan.spacing_mm, window)
                st.image(sl.fit_within(hm, IMAGE_WIDTH_PX * 2), width=IMAGE_WIDTH_PX, caption=f"{plane.capitalize()}: Grad-CAM")
    st.markdown(sl.legend_html(brain3d.legend_entries()), unsafe_allow_html=True)
    if show_cam and cam is None:
        st.info("No Grad-CAM: the CNN did not run on this scan.")
    st.caption("Radiological display: patient's right on the viewer's left. Masks from the atlas registration.")


@st.cache_resource(max_entries=3, show_spinner="Building the 3D scene…")
def _scene(source: str, age: Any, sex: Any, _report: Any) -> Any:
    return brain3d.roi_scene(_report.masks, _report.scan.spacing_mm)


def render_3d(report: Any, key: str) -> None:
    """Hippocampi and ventricles as coloured meshes inside a translucent brain."""
    plotter = _scene(report.scan.source, report.age_years, report.sex, report)
    render_plotter(plotter, key=f"{key}_3d")
    st.markdown(sl.legend_html({**brain3d.legend_entries(), "Brain (translucent)": brain3d.BRAIN_COLOR}),
                unsafe_allow_html=True)
    st.caption("Drag to rotate, scroll to zoom.")


def _stage_block(title: str, stage: Any) -> None:
    st.markdown(f"**{title}**")
    if stage.status == "ok":
        st.success(f"{stage.label} ({_fmt(None if stage.confidence is None else 100 * stage.confidence, 0, ' %')})")
    elif stage.status == "unavailable":
        st.warning("Unavailable")
    else:
        st.info("Unable to determine")
    for r in stage.reasons:
        st.caption(r)


def staging_figure(report: Any):
    """Grouped bars of the class probabilities of the two methods (and the combination)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, stage in (("biomarker rule", report.stage_rule), ("3D CNN", report.stage_cnn),
                        ("combined", report.stage)):
        if stage.probabilities:
            fig.add_trace(go.Bar(x=list(STAGES), y=[float(stage.probabilities.get(s, 0.0)) for s in STAGES], name=name))
    fig.update_layout(barmode="group", height=320, yaxis={"range": [0, 1], "title": "probability"},
                      margin={"t": 20, "b": 10, "l": 10, "r": 10})
    return fig


def render_staging(report: Any) -> None:
    """The two staging methods side by side, their agreement, probabilities and the CNN notice."""
    c1, c2, c3 = st.columns(3)
    with c1:
        _stage_block("Biomarker rule (transparent)", report.stage_rule)
    with c2:
        _stage_block("3D CNN with attention", report.stage_cnn)
    with c3:
        _stage_block("Combined", report.stage)
    if report.stage_agreement is None:
        st.caption("Agreement: not assessable (one method gave no stage).")
    elif report.stage_agreement:
        st.success("The two methods agree.", icon=":material/check_circle:")
    else:
        st.warning("The two methods disagree: read the biomarkers, not only the stage.", icon=":material/warning:")
    st.plotly_chart(staging_figure(report), width="stretch")
    res = report.cnn_result
    if res is not None:
        ex = res.extras
        if ex.get("demo"):
            st.warning("**Phantom-trained CNN.** " + " ".join(ex.get("notices") or []) + " Its stage on a real scan "
                       "is a demonstration of the workflow only.", icon=":material/science:")
        metrics = ex.get("heldout_metrics") or {}
        if metrics:
            st.caption(f"CNN held-out metrics ({metrics.get('heldout_set', 'test split')}): accuracy "
                       f"{_fmt(metrics.get('accuracy'), 2)}, mean AUROC {_fmt(metrics.get('auroc_mean'), 2)}.")


def default_risk_stage(report: Any | None) -> str:
    """Stage to start the risk model from: the combined stage, else the rule's, else the CNN's, else CN."""
    if report is not None:
        for stage in (report.stage, report.stage_rule, report.stage_cnn):
            if stage.status == "ok" and stage.label in STAGES:
                return stage.label
    return STAGES[0]


def risk_rows(risk: ProgressionRisk) -> list[dict[str, Any]]:
    return [{"factor": f.name, "value": f.value, "hazard ratio": round(f.hazard_ratio, 3), "source": f.source,
             "note": f.note} for f in risk.factors]


def render_risk(report: Any | None, inputs: PatientInputs, key: str) -> None:
    """Progression risk at 6 months, 1 and 3 years, the follow-up interval and every factor with its source."""
    default = default_risk_stage(report)
    stage = st.selectbox("Current stage", STAGES, index=STAGES.index(default), key=f"{key}_risk_stage",
                         help="Starts from the analysis' stage; change it to explore the model.")
    if report is not None and default_risk_stage(report) == STAGES[0] and not any(
            s.status == "ok" for s in (report.stage, report.stage_rule, report.stage_cnn)):
        st.caption("Neither staging method determined a stage for this scan: the risk starts from Non-Demented; "
                   "choose the current stage if it is known.")
    if inputs.age_years is None:
        st.info("Enter the age to estimate the progression risk.")
        return
    pct = None
    if report is not None:
        pct = report.biomarkers.hippocampal_volume_percentile
    setting = st.radio("MCI conversion setting", ("specialist", "community"), horizontal=True, key=f"{key}_mci",
                       help="Mitchell & Shiri-Feshki 2009: 9.6 %/y in specialist clinics, 4.9 %/y in the community.")
    risk = progression_risk(stage, inputs.age_years, inputs.sex, inputs.education_years, inputs.apoe4_alleles,
                            hippocampal_percentile=pct, mci_setting=setting)
    st.markdown(f"Risk of progressing from **{risk.current_stage}** to **{risk.next_stage}**:")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("6 months", f"{100 * risk['6_month']:.1f} %")
    c2.metric("1 year", f"{100 * risk['1_year']:.1f} %")
    c3.metric("3 years", f"{100 * risk['3_year']:.1f} %")
    c4.metric("Suggested follow-up", risk.recommended_followup)
    st.caption(f"Hazard {risk.annual_hazard:.3f}/y = baseline {risk.baseline_hazard:.3f}/y x factors; "
               f"risk = 1 - exp(-hazard x t). Baseline: {risk.baseline_source}. Follow-up: {risk.followup_rule}.")
    if not inputs.apoe4_known:
        st.caption("APOE e4 unknown: computed as 0 alleles (the lowest-risk assumption).")
    if pct is None:
        st.caption("Hippocampal percentile unavailable: the hippocampal factor is left at the population average.")
    with st.expander("Factors, sources and modelling choices"):
        st.dataframe(risk_rows(risk), hide_index=True, width="stretch")
        for note in risk.notes:
            st.caption(note)
        st.caption("Modelling choices: published odds ratios / relative risks are used as hazard ratios; the hazard "
                   "is constant over the 3 years; see core/progression.py for every figure and its FACTS.md source.")


def render_timings(report: Any) -> None:
    rows = [{"step": k, "seconds": round(float(v), 2)} for k, v in report.timings_s.items()]
    if report.cnn_result is not None:
        rows += [{"step": f"cnn {k}", "seconds": round(float(v), 3)} for k, v in report.cnn_result.timings_s.items()]
    st.dataframe(rows, hide_index=True, width="stretch")


def render_analysis(scan: Scan, inputs: PatientInputs, key: str) -> Any | None:
    """Gates -> cached analysis -> every section. Returns the report (None when refused)."""
    st.subheader("Input check")
    qc = check_input(scan)
    if not qc.accepted:
        return None
    analysis = _analyze(scan.source, inputs.age_years, inputs.sex, scan)
    if analysis.error:
        st.error(analysis.error, icon=":material/block:")
        return None
    report = analysis.report
    for check in report.qc.warnings:
        st.warning(check.message, icon=":material/warning:")
    st.subheader("Volumes and norms")
    render_volumes(report)
    render_norms_chart(report)
    st.subheader("Regions of interest")
    render_overlays(report, key)
    render_3d(report, key)
    st.subheader("Staging")
    render_staging(report)
    st.subheader("Progression risk")
    render_risk(report, inputs, key)
    with st.expander("Timings"):
        render_timings(report)
    return report


__all__ = ["PatientInputs", "patient_inputs", "prepare_analysis", "check_input", "render_analysis", "render_risk", "volume_rows",
           "centile_figure", "staging_figure", "default_risk_stage"]
