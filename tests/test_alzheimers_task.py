"""Alzheimer's staging task: preprocessing, network, Grad-CAM on the scan grid, decisions, refusals."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from core.config import get_settings
from core.models.attention3d import AttentionCNN3D, count_parameters
from core.synth.head import make_head_phantom
from core.tasks.alzheimers import (GRID_SHAPE, LABELS, MODEL_ID, AlzheimersTask, map_to_scan_grid,
                                   prepare_volume)
from core.types import Modality, Scan


@pytest.fixture(scope="module")
def phantom_scan() -> Scan:
    # 2 mm, small grid: fast, and not the 3.5 mm grid the network reads (exercises resampling)
    return make_head_phantom(seed=4, shape=(80, 96, 80), spacing_mm=2.0, atrophy=0.6).scan


@pytest.fixture(scope="module")
def task() -> AlzheimersTask:
    t = AlzheimersTask()
    if t.model is None:
        pytest.fail(f"demo weights weights/{MODEL_ID} must load: {t.load_error}")
    return t


def test_prepare_volume_shape_range_and_determinism(phantom_scan):
    a = prepare_volume(phantom_scan)
    b = prepare_volume(phantom_scan)
    assert a.array.shape == GRID_SHAPE and a.array.dtype == np.float32
    assert 0.0 <= a.array.min() and a.array.max() <= 1.0 and a.array.max() > 0.9
    assert np.array_equal(a.array, b.array)
    assert np.allclose(np.linalg.norm(a.affine[:3, :3], axis=0), 3.5)
    assert any("resample_to_spacing" in s for s in a.history)
    # the head is inside the grid: the vertex sits just below the upper edge, not cut off
    head = a.array > 0.1
    assert head[:, :, -1].sum() == 0 and head[:, :, -8:].any()


def test_prepare_volume_refuses_2d():
    scan = Scan(np.zeros((1, 64, 64, 1), np.float32), np.eye(4), Modality.MR, {}, "x sha256:0")
    with pytest.raises(ValueError):
        prepare_volume(scan)


def test_map_to_scan_grid_places_a_cell_where_it_belongs(phantom_scan):
    prep = prepare_volume(phantom_scan)
    low = np.zeros((8, 8, 8), np.float32)
    low[2, 5, 4] = 1.0
    out = map_to_scan_grid(low, prep.affine, GRID_SHAPE, phantom_scan)
    assert out.shape == phantom_scan.shape
    peak = np.unravel_index(np.argmax(out), out.shape)
    # world position of the peak equals the world position of the cell centre
    cell_centre_grid = (np.array([2, 5, 4]) + 0.5) * 8 - 0.5
    want = prep.affine @ np.append(cell_centre_grid, 1.0)
    got = phantom_scan.affine @ np.append(np.array(peak, float), 1.0)
    assert np.linalg.norm(want[:3] - got[:3]) < 4.0  # within two 2 mm voxels


def test_network_is_small_and_explain_is_consistent():
    torch.manual_seed(0)
    net = AttentionCNN3D(channels=(8, 16, 32, 64)).eval()
    assert count_parameters(net) < 1_000_000
    x = torch.rand(2, 1, 64, 64, 64)
    out = net.explain(x)
    assert out["logits"].shape == (2, 4)
    assert torch.allclose(out["logits"], net(x), atol=1e-5)
    assert out["attention"].shape == (2, 8, 8, 8)
    assert torch.allclose(out["attention"].sum(dim=(1, 2, 3)), torch.ones(2), atol=1e-5)
    cam = out["gradcam"]
    assert cam.shape == (2, 8, 8, 8) and float(cam.min()) >= 0 and float(cam.max()) <= 1.0 + 1e-6
    assert not any(m._forward_hooks or m._backward_hooks for m in net.modules())


def test_task_on_phantom(task, phantom_scan):
    r = task(phantom_scan)
    assert r.task == "alzheimers" and r.labels == LABELS
    assert len(r.probabilities) == 4 and abs(sum(r.probabilities) - 1) < 1e-5
    assert r.status in ("ok", "rejected")
    assert r.confidence == pytest.approx(max(r.probabilities))
    if r.status == "ok":
        assert r.prediction in LABELS and r.confidence >= task.threshold
    else:
        assert r.prediction is None and r.reasons[0].startswith("Unable to determine")
    assert r.cam is not None and r.cam.shape == phantom_scan.shape and 0 <= r.cam.min() and r.cam.max() <= 1
    assert r.extras["demo"] is True and r.extras["notices"]
    assert r.model_versions == {MODEL_ID: task.model.meta.version}
    assert {"gate_s", "preprocess_s", "forward_s", "total_s"} <= set(r.timings_s)
    assert r.extras["attention_lowres"].shape == (8, 8, 8)
    # deterministic
    assert task(phantom_scan).probabilities == r.probabilities


def test_threshold_setting_forces_unable_to_determine(phantom_scan):
    strict = dataclasses.replace(get_settings(), confidence_threshold_alzheimers=0.999)
    r = AlzheimersTask(settings=strict)(phantom_scan)
    assert r.status == "rejected" and r.prediction is None
    assert "Unable to determine" in r.reasons[0]
    assert len(r.probabilities) == 4  # still shown


def test_2d_image_is_refused_with_a_reason(task):
    img = np.random.default_rng(0).random((1, 128, 128, 1)).astype(np.float32)
    r = task(Scan(img, np.eye(4), Modality.MR, {}, "slice.png sha256:0"))
    assert r.status == "rejected" and r.prediction is None and r.reasons
    assert any("3D" in s or "volume" in s for s in r.reasons)


def test_missing_model_is_reported_not_raised(tmp_path, phantom_scan):
    t = AlzheimersTask(weights_dir=tmp_path)
    assert t.model is None
    r = t(phantom_scan)
    assert r.status == "rejected" and "unavailable" in r.reasons[0]


def test_registry_builds_the_task():
    from core.tasks import get_task

    t = get_task("alzheimers")
    assert t.name == "alzheimers" and t.labels == LABELS


@pytest.mark.slow
def test_full_resolution_1mm_head(task):
    """A 1 mm phantom head (160x192x160): resampling, staging and the CAM on the full grid."""
    import time

    scan = make_head_phantom(seed=12, atrophy=0.9).scan
    t0 = time.perf_counter()
    r = task(scan)
    seconds = time.perf_counter() - t0
    assert r.cam.shape == scan.shape and len(r.probabilities) == 4
    assert seconds < 60, f"staging took {seconds:.1f} s"
