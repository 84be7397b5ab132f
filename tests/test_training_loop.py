"""The shared training loop: a 1-epoch run on tiny phantoms writes a loadable, verified model folder."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from core.training import brain_tumor
from core.training.common import (
    ArrayDataset, augment_batch, cached_arrays, format_command, ood_calibration, split_seeds,
)
from core.training.metrics import auroc, binary_metrics, classification_metrics


def _args(tmp_path, **over):
    parser = argparse.ArgumentParser()
    brain_tumor.add_arguments(parser)
    argv = ["--n-train", "12", "--n-val", "8", "--n-test", "8", "--epochs", "1", "--image-size", "48",
            "--n-subjects", "2", "--batch-size", "4", "--phantom-size", "64", "--weights-dir", str(tmp_path / "w"),
            "--run-dir", str(tmp_path / "runs")]
    for k, v in over.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    return parser.parse_args(argv)


def test_one_epoch_run_writes_loadable_folder(tmp_path, monkeypatch):
    from core.models import load_model, sha256_file
    from core.models.metadata import load_metadata

    monkeypatch.setattr("core.training.common.RUNS_DIR", tmp_path / "runs")  # phantom cache stays in tmp
    args = _args(tmp_path)
    metrics = brain_tumor.run(args)
    folder = tmp_path / "w" / brain_tumor.MEMBER.model_id
    meta = load_metadata(folder)
    assert meta.sha256 == sha256_file(folder / "model.safetensors")
    assert meta.task == "brain-tumor" and list(meta.labels) == list(brain_tumor.LABELS)
    assert meta.demo and meta.seed == 0 and meta.command.startswith("python -m core.train brain-tumor ")
    assert "--n-train 12" in meta.command
    assert meta.ood["method"] == "energy" and np.isfinite(meta.ood["threshold"])
    assert set(meta.metrics["auroc"]) == set(brain_tumor.LABELS)
    assert meta.metrics["heldout_set"].startswith("phantom test split")
    assert metrics["n"] == 8
    # fp16 on disk
    from safetensors.torch import load_file
    assert all(t.dtype == torch.float16 for t in load_file(folder / "model.safetensors").values() if t.is_floating_point())
    # loads through the inference path and gives (N, 4) logits
    loaded = load_model(meta)
    out = loaded.logits(np.zeros((2, 1, 48, 48), np.float32))
    assert out.shape == (2, 4)
    # metrics file and checkpoints in the run folder
    run = tmp_path / "runs" / brain_tumor.MEMBER.model_id
    history = json.loads((run / "metrics.json").read_text())
    assert len(history["history"]) == 1 and "test" in history
    assert (run / "best.safetensors").exists() and (run / "last_state.pt").exists()


def test_split_seeds_are_disjoint():
    tr, va, te = (set(split_seeds(s, 500, 7)) for s in ("train", "val", "test"))
    assert not (tr & va or tr & te or va & te)
    with pytest.raises(ValueError):
        split_seeds("train", 2_000_000, 0)


def test_format_command_spells_every_option(tmp_path):
    cmd = format_command("brain-tumor", _args(tmp_path))
    assert cmd.startswith("python -m core.train brain-tumor ")
    assert "--epochs 1" in cmd and "--seed 0" in cmd and "--lr 0.002" in cmd


def test_auroc_matches_definition():
    assert auroc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == pytest.approx(0.75)
    assert auroc(np.array([1, 1, 1, 1.0]), np.array([0, 1, 0, 1])) == pytest.approx(0.5)  # ties count half
    assert auroc(np.array([0.2, 0.3]), np.array([1, 1])) is None
    m = classification_metrics(np.eye(3)[[0, 1, 2, 0]], np.array([0, 1, 2, 0]), ["a", "b", "c"], "softmax")
    assert m["accuracy"] == 1.0 and m["auroc_min"] == 1.0
    s = classification_metrics(np.array([[0.9, 0.2], [0.1, 0.7]]), np.array([[1, 0], [0, 1]]), ["x", "y"],
                               "sigmoid", mask=np.array([[1, 1], [1, 0]]))
    assert s["auroc"]["x"] == 1.0 and s["auroc"]["y"] is None  # only one known target for y
    b = binary_metrics(np.array([0.1, 0.6, 0.4, 0.9]), np.array([0, 0, 1, 1]), 0.5)
    assert b["sensitivity"] == 0.5 and b["specificity"] == 0.5


def test_ood_threshold_is_a_high_quantile_of_validation_energy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(500, 4)) * 3
    ood = ood_calibration(logits)
    energy = -np.log(np.exp(logits).sum(1))
    assert (energy > ood["threshold"]).mean() == pytest.approx(0.01, abs=0.006)
    assert ood["calibrated_on"].startswith("phantom validation split")


def test_augment_is_seeded_and_bounded():
    x = torch.rand(4, 1, 16, 16)
    a = augment_batch(x, torch.Generator().manual_seed(3))
    b = augment_batch(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1 and a.shape == x.shape


def test_array_dataset_and_cache(tmp_path):
    ds = ArrayDataset(np.full((3, 1, 4, 4), 0.5, np.float32), np.array([0, 1, 2]))
    x, y, m = ds[1]
    assert x.dtype == torch.float32 and abs(float(x.mean()) - 0.5) < 0.01 and int(y) == 1
    calls = []

    def make():
        calls.append(1)
        return np.zeros((2, 2)), np.ones(2)

    cached_arrays("t", {"a": 1}, make, cache_dir=tmp_path)
    cached_arrays("t", {"a": 1}, make, cache_dir=tmp_path)
    cached_arrays("t", {"a": 2}, make, cache_dir=tmp_path)
    assert len(calls) == 2
