"""Alzheimer's trainer: phantom samples, labels, augmentation, the real-data CSV mode end to end, demo weights."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from core.models.loading import list_models, load_model
from core.synth.head import as_nifti_bytes, make_head_phantom
from core.tasks.alzheimers import GRID_SHAPE, LABELS, MODEL_ID
from core.training import alzheimers as tr
from core.training.common import ArrayDataset

ROOT = Path(__file__).resolve().parent.parent


def test_phantom_volume_is_prepared_and_labelled_by_seed():
    vol, y, params = tr.phantom_volume(6)
    assert vol.shape == GRID_SHAPE and vol.dtype == np.float32 and 0 <= vol.min() and vol.max() <= 1
    assert y == 6 % 4 and 0.45 <= params["atrophy"] <= 0.80  # stage 2 range of stage_params
    again, _, _ = tr.phantom_volume(6)
    assert np.array_equal(vol, again)


@pytest.mark.parametrize("value,index", [("NonDemented", 0), ("Very Mild Dementia", 1), ("0.5", 1), ("1", 2),
                                         ("ModerateDemented", 3), ("2.0", 3)])
def test_label_index(value, index):
    assert tr.label_index(value) == index


def test_label_index_rejects_cdr3():
    with pytest.raises(ValueError):
        tr.label_index("3")


def test_augmentation_is_seeded_and_label_preserving():
    x = np.random.default_rng(0).random((3, 1, 16, 16, 16)).astype(np.float32)
    base = ArrayDataset(x, np.array([0, 1, 2]))
    a, b = tr.AugmentedVolumes(base, 5), tr.AugmentedVolumes(base, 5)
    for i in range(3):
        xa, ya, _ = a[i]
        xb, yb, _ = b[i]
        assert torch.equal(xa, xb) and int(ya) == i and xa.shape == (1, 16, 16, 16)
        assert 0 <= float(xa.min()) and float(xa.max()) <= 1


def _args(**kw) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    tr.add_arguments(parser)
    argv = []
    for k, v in kw.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    return parser.parse_args(argv)


def test_real_dataset_csv_mode_end_to_end(tmp_path):
    rows = ["path,label"]
    for i, (atrophy, label) in enumerate([(0.0, "NonDemented"), (0.9, "ModerateDemented")] * 3):
        ph = make_head_phantom(seed=100 + i, shape=(48, 56, 48), spacing_mm=4.0, atrophy=atrophy)
        (tmp_path / f"s{i}.nii.gz").write_bytes(as_nifti_bytes(ph.scan))
        rows.append(f"s{i}.nii.gz,{label}")
    csv_path = tmp_path / "data.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    args = _args(data=csv_path, epochs=1, batch_size=2, weights_dir=tmp_path / "w", run_dir=tmp_path / "r",
                 model_id="alz-test", threads=1)
    metrics = tr.run(args, log=lambda s: None)
    assert metrics["n"] >= 1 and "auroc" in metrics and "confusion_matrix" in metrics
    meta = json.loads((tmp_path / "w" / "alz-test" / "metadata.json").read_text())
    assert meta["demo"] is False and meta["framework"] == "monai" and meta["architecture"] == "AttentionCNN3D"
    assert meta["labels"] == list(LABELS) and "data.csv" in meta["training_data"]
    info = [i for i in list_models(tmp_path / "w") if i.id == "alz-test"][0]
    assert info.available, info.reason
    net = load_model(info, device="cpu").module
    assert net(torch.zeros(1, 1, *GRID_SHAPE)).shape == (1, 4)


def test_committed_demo_weights_are_small_honest_and_measured():
    folder = ROOT / "weights" / MODEL_ID
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["demo"] is True and "phantom" in meta["training_data"].lower()
    assert meta["command"].startswith("python -m core.train alzheimers")
    m = meta["metrics"]
    assert "phantom test split" in m["heldout_set"]
    assert set(m["auroc"]) == set(LABELS) and m["accuracy"] is not None
    assert (folder / meta["file"]).stat().st_size < 3_000_000
    assert [i for i in list_models() if i.id == MODEL_ID][0].available
