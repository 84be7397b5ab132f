"""Spine phantom lesions are big enough to see at the spine models' inputs; per-lesion AUROC helper."""

from __future__ import annotations

import numpy as np
import pytest

from core.synth.spine import SPINE_LESIONS, make_spine_xray
from core.training import spine_detector, spine_xray

NATIVE = (384, 192)  # phantom size the spine trainers generate (their --rows/--cols defaults)
CLASSIFIER_INPUT = (256, 128)
DETECTOR_IMGSZ = 384


def test_trainer_defaults_match_the_sizes_checked_here() -> None:
    import argparse

    p = argparse.ArgumentParser()
    spine_xray.add_arguments(p)
    a = p.parse_args([])
    assert (a.rows, a.cols, a.input_rows, a.input_cols) == (*NATIVE, *CLASSIFIER_INPUT)
    p = argparse.ArgumentParser()
    spine_detector.add_arguments(p)
    a = p.parse_args([])
    assert (a.rows, a.cols, a.imgsz) == (*NATIVE, DETECTOR_IMGSZ)


@pytest.mark.parametrize("lesion", SPINE_LESIONS)
def test_every_lesion_spans_several_classifier_input_pixels(lesion: str) -> None:
    scale = CLASSIFIER_INPUT[0] / NATIVE[0]
    for seed in range(4):
        _, boxes, _ = make_spine_xray(seed, [lesion], size=NATIVE)
        assert boxes
        for _, x0, y0, x1, y1 in boxes:
            w, h = (x1 - x0) * scale, (y1 - y0) * scale
            # the smallest class (one osteophyte spur) is still >= 4 x 6 input pixels
            assert min(w, h) >= 4.0 and max(w, h) >= 6.0, (lesion, seed, w, h)
            # and >= 9 px on its long side at the detector input (imgsz 384 = native rows)
            assert max(x1 - x0, y1 - y0) * DETECTOR_IMGSZ / NATIVE[0] >= 9.0


def _ring(mask: np.ndarray, width: int = 3) -> np.ndarray:
    from scipy import ndimage

    return ndimage.binary_dilation(mask, iterations=width) & ~mask


@pytest.mark.parametrize("lesion", ["Osteophytes", "Other lesions", "Foraminal stenosis"])
def test_focal_lesions_have_contrast(lesion: str) -> None:
    """The focal lesions differ from their surroundings by far more than the noise."""
    diffs = []
    for seed in range(6):
        img, _, info = make_spine_xray(seed, [lesion], size=NATIVE)
        m = info["masks"][lesion]
        diffs.append(abs(float(img[m].mean()) - float(img[_ring(m)].mean())))
    assert np.median(diffs) > 0.05, diffs


def test_osteophyte_is_bone_outside_the_body() -> None:
    img, _, info = make_spine_xray(3, ["Osteophytes"], size=NATIVE)
    spur = info["masks"]["Osteophytes"]
    background = np.median(img[:, : img.shape[1] // 8])  # soft tissue / air at the film edge
    assert float(np.median(img[spur])) > background + 0.1


def test_lesion_auroc_per_class() -> None:
    # 6 images: 0-1 normal, 2 osteophytes, 3 implant, 4 osteophytes + collapse, 5 implant
    abnormal = np.array([0, 0, 1, 1, 1, 1])
    ost, imp, col = (SPINE_LESIONS.index(n) for n in ("Osteophytes", "Surgical implant", "Vertebral collapse"))
    boxes = np.array([[2, ost, 0, 0, 1, 1], [2, ost, 2, 2, 3, 3], [3, imp, 0, 0, 1, 1], [4, ost, 0, 0, 1, 1],
                      [4, col, 0, 0, 1, 1], [5, imp, 0, 0, 1, 1]], np.float32)
    scores = np.array([0.1, 0.5, 0.9, 0.3, 0.8, 0.4])
    out = spine_xray.lesion_auroc(scores, abnormal, boxes)
    assert set(out) == set(SPINE_LESIONS)
    assert out["Osteophytes"] == pytest.approx(1.0)  # 0.9, 0.8 vs normals 0.1, 0.5
    assert out["Surgical implant"] == pytest.approx(0.5)  # 0.3, 0.4 vs 0.1, 0.5: 2 of 4 pairs
    assert out["Vertebral collapse"] == pytest.approx(1.0)
    assert out["Other lesions"] is None


def test_lesion_maps_mark_the_cells_a_box_touches() -> None:
    boxes = np.array([[0, 0, 0, 0, 6, 6], [1, 3, 90, 300, 150, 383]], np.float32)  # native 384x192
    maps = spine_xray.lesion_maps(boxes, 3, (384, 192), (256, 128), stride_px=8)
    assert maps.shape == (3, 32, 16) and maps.dtype == np.float32
    assert maps[0].sum() == 1 and maps[0, 0, 0] == 1  # 6 native px = 4 input px: one cell
    rows, cols = np.nonzero(maps[1])
    assert rows.min() == 25 and rows.max() == 31 and cols.min() == 7 and cols.max() == 12
    assert maps[2].sum() == 0  # a normal image


@pytest.mark.parametrize("extra", [[], ["--no-lesion-maps"]])
def test_tiny_spine_ensemble_run(tmp_path, monkeypatch, extra) -> None:
    import argparse
    import json

    monkeypatch.setattr("core.training.common.RUNS_DIR", tmp_path / "runs")
    p = argparse.ArgumentParser()
    spine_xray.add_arguments(p)
    args = p.parse_args(["--members", "resnet", "efficientnetv2", "--n-train", "12", "--n-val", "8", "--n-test", "8",
                         "--epochs", "1", "--rows", "64", "--cols", "32", "--input-rows", "64", "--input-cols", "32",
                         "--batch-size", "4", "--abnormal-fraction", "0.5", "--weights-dir", str(tmp_path / "w"),
                         "--run-dir", str(tmp_path / "runs"), *extra])
    res = spine_xray.run(args)
    assert set(res["members"]) == {"spine-xray-resnet26", "spine-xray-efficientnetv2"}
    meta = json.loads((tmp_path / "w" / "spine-xray-resnet26" / "metadata.json").read_text())
    assert meta["input"]["spatial_shape"] == [64, 32] and meta["thresholds"]["decision"] == 0.449
    assert set(meta["metrics"]["auroc_abnormal_by_lesion_vs_normal"]) == set(SPINE_LESIONS)
    assert "auroc_abnormal_by_lesion_vs_normal" in meta["metrics"]["ensemble"]
    assert ("lesion-map loss" in meta["training_data"]) == (not extra)
    assert ("--no-lesion-maps" in meta["command"]) == bool(extra)


def test_retraining_one_member_keeps_the_others_in_the_ensemble_metrics(tmp_path, monkeypatch) -> None:
    import argparse
    import json

    monkeypatch.setattr("core.training.common.RUNS_DIR", tmp_path / "runs")
    base = ["--n-train", "12", "--n-val", "8", "--n-test", "8", "--epochs", "1", "--rows", "64", "--cols", "32",
            "--input-rows", "64", "--input-cols", "32", "--batch-size", "4", "--weights-dir", str(tmp_path / "w"),
            "--run-dir", str(tmp_path / "runs")]
    for members in (["resnet"], ["efficientnetv2"]):
        p = argparse.ArgumentParser()
        spine_xray.add_arguments(p)
        res = spine_xray.run(p.parse_args(["--members", *members, *base]))
    assert set(res["members"]) == {"spine-xray-efficientnetv2"}
    assert set(res["ensemble"]["members"]) == {"spine-xray-resnet26", "spine-xray-efficientnetv2"}
    old = json.loads((tmp_path / "w" / "spine-xray-resnet26" / "metadata.json").read_text())
    assert old["metrics"]["ensemble"] == res["ensemble"]
