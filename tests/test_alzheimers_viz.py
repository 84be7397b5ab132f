"""Brain ROI rendering helpers (core.viz.brain3d) and the page's pure figure builders (core.ui.brain)."""

from __future__ import annotations

import numpy as np
import pytest

from core.viz import brain3d


@pytest.fixture(scope="module")
def masks():
    shape = (40, 48, 40)
    m = {k: np.zeros(shape, bool) for k in ("hippocampus_left", "hippocampus_right", "lateral_ventricles", "brain")}
    m["brain"][5:35, 5:43, 5:35] = True
    m["hippocampus_left"][12:16, 20:28, 12:16] = True
    m["hippocampus_right"][24:28, 20:28, 12:16] = True
    m["lateral_ventricles"][15:25, 18:32, 20:26] = True
    return m


def test_label_map_codes_and_centre(masks):
    lab = brain3d.roi_label_map(masks)
    assert set(np.unique(lab)) == {0, 1, 2, 3}
    assert (lab == 1).sum() == masks["hippocampus_left"].sum()
    c = brain3d.roi_centre(lab)
    assert c == (20, 24, 14)  # centroid of the two hippocampi
    assert set(brain3d.legend_entries()) == {"Left hippocampus", "Right hippocampus", "Lateral ventricles"}


def test_overlay_slice_colours_the_rois(masks):
    vol = np.random.default_rng(0).random(masks["brain"].shape).astype(np.float32)
    lab = brain3d.roi_label_map(masks)
    img = brain3d.overlay_slice(vol, lab, "axial", 14, (1.0, 1.0, 1.0))
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    # some pixels carry the left-hippocampus colour (outline drawn at full opacity)
    assert np.any(np.all(img == np.array(brain3d.ROI_COLORS[1], np.uint8), axis=2))
    heat = np.zeros_like(vol)
    heat[10:30, 10:30, 10:20] = 1.0
    hm = brain3d.heatmap_slice(vol, heat, "axial", 14, (1.0, 1.0, 1.0))
    assert hm.shape == img.shape and not np.array_equal(hm, brain3d.heatmap_slice(vol, heat * 0, "axial", 14, (1, 1, 1)))


def test_roi_scene_has_brain_and_three_structures(masks):
    plotter = brain3d.roi_scene(masks, (2.0, 2.0, 2.0))
    names = set(plotter.actors)
    assert {"brain", "Left hippocampus", "Right hippocampus", "Lateral ventricles"} <= names
    plotter.close()


def test_staging_and_risk_helpers():
    from core.brain import Stage
    from core.ui.brain import default_risk_stage, risk_rows, staging_figure
    from core.progression import progression_risk

    class R:  # the three stage fields the helpers read
        stage = Stage("Unable to determine", {}, "unable_to_determine", "combined")
        stage_rule = Stage("Mild Dementia", {"Mild Dementia": 0.7, "Non-Demented": 0.3}, "ok", "rule", confidence=0.7)
        stage_cnn = Stage("Non-Demented", {"Non-Demented": 0.9}, "ok", "cnn", confidence=0.9)

    assert default_risk_stage(R) == "Mild Dementia"
    assert default_risk_stage(None) == "Non-Demented"
    fig = staging_figure(R)
    assert len(fig.data) == 2  # the combined stage has no probabilities
    rows = risk_rows(progression_risk("Non-Demented", 75, "F", 12, 1, 30))
    assert {r["factor"] for r in rows} >= {"age", "APOE e4", "education", "hippocampal volume"}
