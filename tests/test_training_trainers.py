"""Chest/spine trainers on tiny phantom sets, the YOLO dataset writer, and the slow YOLO run."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from core.training import chest_xray, spine_detector, spine_xray


def _parse(module, argv):
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(argv)


def test_chest_member_tiny_run(tmp_path, monkeypatch):
    from core.models import load_model
    from core.models.metadata import load_metadata

    monkeypatch.setattr("core.training.common.RUNS_DIR", tmp_path / "runs")
    args = _parse(chest_xray, ["--members", "mobilenetv2", "--n-train", "12", "--n-val", "8", "--n-test", "8",
                               "--epochs", "1", "--image-size", "48", "--phantom-size", "64", "--batch-size", "4",
                               "--weights-dir", str(tmp_path / "w"), "--run-dir", str(tmp_path / "runs")])
    res = chest_xray.run(args)
    meta = load_metadata(tmp_path / "w" / "chest-xray-mobilenetv2")
    assert meta.activation == "sigmoid" and meta.ensemble_weight == 0.5
    assert list(meta.labels) == chest_xray._default_labels()
    assert "--members mobilenetv2" in meta.command
    assert res["members"]["chest-xray-mobilenetv2"]["n"] == 8
    assert load_model(meta).logits(np.zeros((1, 1, 48, 48), np.float32)).shape == (1, len(meta.labels))


def test_spine_phantom_cache_and_yolo_examples(tmp_path, monkeypatch):
    monkeypatch.setattr("core.training.common.RUNS_DIR", tmp_path / "runs")
    x, y, boxes = spine_xray.spine_phantoms("val", 6, 0, 64, 32, 1.0)
    assert x.shape == (6, 1, 64, 32) and x.dtype == np.uint8 and y.tolist() == [1] * 6
    assert boxes.shape[1] == 6 and set(boxes[:, 0].astype(int)) <= set(range(6))
    examples = spine_detector.phantom_examples("val", 6, 0, 64, 32, 1.0)  # cache hit, same images
    assert len(examples) == 6 and examples[0][0].shape == (64, 32, 3)
    assert np.array_equal(examples[0][0][..., 0], x[0, 0])
    n_lines = sum(len(lines) for _, lines in examples)
    assert n_lines == len(boxes)  # every lesion class is a detection class
    data_yaml = spine_detector.write_yolo_dataset(tmp_path / "yolo", {"train": examples[:4], "val": examples[4:]},
                                                  spine_detector.DETECTION_CLASSES)
    text = data_yaml.read_text()
    assert "train: images/train" in text and '6: "Other lesions"' in text
    labels = sorted((tmp_path / "yolo" / "labels" / "train").glob("*.txt"))
    assert len(labels) == 4 and len(list((tmp_path / "yolo" / "images" / "val").glob("*.png"))) == 2
    for f in labels:
        for line in f.read_text().splitlines():
            cls, *coords = line.split()
            assert 0 <= int(cls) < 7 and all(0 <= float(v) <= 1 for v in coords)


def test_spine_members_are_named_honestly():
    assert {m.ensemble_weight for m in spine_xray.MEMBERS.values()} == {0.42, 0.26, 0.32}
    assert spine_xray.DEFAULT_DECISION_THRESHOLD == 0.449
    assert all(m.family for m in spine_xray.MEMBERS.values())


@pytest.mark.slow
def test_spine_detector_tiny_yolo_run(tmp_path, monkeypatch):
    monkeypatch.setattr("core.training.common.RUNS_DIR", tmp_path / "runs")
    args = _parse(spine_detector, ["--n-train", "8", "--n-val", "4", "--n-test", "4", "--epochs", "1", "--imgsz", "64",
                                   "--rows", "128", "--cols", "64", "--batch-size", "4",
                                   "--weights-dir", str(tmp_path / "w"), "--run-dir", str(tmp_path / "runs")])
    spine_detector.run(args)
    meta = json.loads((tmp_path / "w" / "spine-yolo11n" / "metadata.json").read_text())
    assert meta["framework"] == "ultralytics" and meta["role"] == "detector" and len(meta["labels"]) == 7
    assert "map50" in meta["metrics"]
    from core.models import load_model
    from core.models.metadata import load_metadata
    boxes = load_model(load_metadata(tmp_path / "w" / "spine-yolo11n")).detect(np.zeros((128, 64, 3), np.uint8))
    assert isinstance(boxes, list)
