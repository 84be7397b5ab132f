"""Plotly charts of a subject's longitudinal record (volumes, ICV-normalised volumes, confidence per task).

Every function takes :meth:`core.store.Store.timeline` output and returns a figure, or None when
the data to draw are absent (the caller says so in words).
"""

from __future__ import annotations

import pandas as pd

from core.longitudinal import brain_timeline

HIPPOCAMPUS = {"volumes_ml.hippocampus_left": "left", "volumes_ml.hippocampus_right": "right",
               "volumes_ml.hippocampus_total": "total"}
VENTRICLES = {"volumes_ml.lateral_ventricles": "lateral ventricles"}
ICV_FRACTIONS = {"volumes_icv_fraction.hippocampus_total": "hippocampus, total",
                 "volumes_icv_fraction.hippocampus_left": "hippocampus, left",
                 "volumes_icv_fraction.hippocampus_right": "hippocampus, right",
                 "volumes_icv_fraction.lateral_ventricles": "lateral ventricles",
                 "volumes_icv_fraction.brain": "brain"}


def volumes_figure(timeline: pd.DataFrame):
    """Hippocampal (left/right/total) and lateral-ventricle volumes in mL over time, in two panels."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    brain = brain_timeline(timeline)
    if brain.empty:
        return None
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Hippocampus (mL)", "Lateral ventricles (mL)"))
    for col, measures in ((1, HIPPOCAMPUS), (2, VENTRICLES)):
        for column, name in measures.items():
            if column in brain:
                fig.add_trace(go.Scatter(x=brain["date"], y=brain[column], mode="lines+markers", name=name), row=1,
                              col=col)
    fig.update_yaxes(title_text="volume (mL)", row=1, col=1)
    fig.update_layout(height=340, margin={"t": 40, "b": 10, "l": 10, "r": 10})
    return fig


def icv_figure(timeline: pd.DataFrame):
    """Hippocampal and lateral-ventricle volumes as percent of the intracranial volume over time (corrects for
    head size), in two panels because their scales differ tenfold."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    brain = brain_timeline(timeline)
    panels = ({c: n for c, n in ICV_FRACTIONS.items() if c in brain and "hippocampus" in c},
              {c: n for c, n in ICV_FRACTIONS.items() if c in brain and "ventricles" in c})
    if brain.empty or not (panels[0] or panels[1]):
        return None
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Hippocampus (% of ICV)", "Lateral ventricles (% of ICV)"))
    for col, present in enumerate(panels, start=1):
        for column, name in present.items():
            fig.add_trace(go.Scatter(x=brain["date"], y=100.0 * brain[column], mode="lines+markers", name=name),
                          row=1, col=col)
    fig.update_yaxes(title_text="% of intracranial volume", row=1, col=1)
    fig.update_layout(height=320, margin={"t": 40, "b": 10, "l": 10, "r": 10})
    return fig


def confidence_figure(timeline: pd.DataFrame):
    """Confidence of each record's prediction (or stage) over time, one line per task; hover shows the label."""
    import plotly.graph_objects as go

    if timeline.empty or "confidence" not in timeline or timeline["confidence"].dropna().empty:
        return None
    data = timeline.copy()
    data["date"] = pd.to_datetime(data["date"])
    fig = go.Figure()
    for task, rows in data.sort_values(["date", "id"]).groupby("task", sort=True):
        labels = rows["prediction"].fillna("Unable to determine")
        fig.add_trace(go.Scatter(x=rows["date"], y=rows["confidence"], mode="lines+markers+text", name=str(task),
                                 text=labels, textposition="top center", cliponaxis=False, hovertemplate="%{x|%Y-%m-%d}: %{text} "
                                 "(%{y:.0%})<extra>" + str(task) + "</extra>"))
    fig.update_layout(height=320, yaxis={"range": [0, 1.1], "title": "confidence", "tickformat": ".0%"},
                      xaxis={"automargin": True}, margin={"t": 30, "b": 10, "l": 70, "r": 70})
    return fig


__all__ = ["volumes_figure", "icv_figure", "confidence_figure"]
