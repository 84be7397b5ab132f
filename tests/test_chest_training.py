"""chest-xray trainer: members trained alone, then scored together with ``--ensemble-only``."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from core.models.metadata import load_metadata
from core.training import chest_xray

TINY = ["--n-train", "12", "--n-val", "8", "--n-test", "8", "--epochs", "1", "--image-size", "48",
        "--phantom-size", "64", "--batch-size", "4"]


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    chest_xray.add_arguments(parser)
    return parser.parse_args(argv)


def test_defaults_give_small_lesions_enough_pixels() -> None:
    args = _parse([])
    assert args.image_size == 128 and args.phantom_size >= args.image_size
    assert chest_xray.MEMBERS["mobilenetv2"].architecture_kwargs == {"output_stride": 16}


def test_ensemble_only_scores_the_saved_members_together(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("core.training.common.RUNS_DIR", tmp_path / "runs")
    common = TINY + ["--weights-dir", str(tmp_path / "w"), "--run-dir", str(tmp_path / "runs")]
    for member in ("densenet121", "mobilenetv2"):  # each alone, as the demo weights were made
        chest_xray.run(_parse(["--members", member] + common))
    folders = {m: tmp_path / "w" / chest_xray.MEMBERS[m].model_id for m in ("densenet121", "mobilenetv2")}
    assert all("ensemble" not in load_metadata(f).metrics for f in folders.values())
    weights_before = {m: (f / "model.safetensors").read_bytes() for m, f in folders.items()}

    res = chest_xray.run(_parse(["--members", "densenet121", "mobilenetv2", "--ensemble-only"] + common))

    ens = res["ensemble"]
    assert ens["n"] == 8 and ens["members"] == {"chest-xray-densenet121": 0.5, "chest-xray-mobilenetv2": 0.5}
    assert "--ensemble-only" in ens["note"]
    for m, folder in folders.items():
        meta = load_metadata(folder)  # sha256 still verified: only metadata changed
        assert meta.metrics["ensemble"] == ens
        assert (folder / "model.safetensors").read_bytes() == weights_before[m]
        assert meta.metrics["n"] == 8 and "--ensemble-only" not in meta.command
    # the ensemble probabilities are the mean of the members' (equal weights): AUROC bounded by [0, 1]
    assert all(v is None or 0.0 <= v <= 1.0 for v in ens["auroc"].values())


def test_ensemble_only_refuses_members_with_other_labels(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("core.training.common.RUNS_DIR", tmp_path / "runs")
    common = TINY + ["--weights-dir", str(tmp_path / "w"), "--run-dir", str(tmp_path / "runs")]
    chest_xray.run(_parse(["--members", "mobilenetv2", "--labels", "Nodule", "Mass"] + common))
    with pytest.raises(ValueError, match="trained on labels"):
        chest_xray.run(_parse(["--members", "mobilenetv2", "--ensemble-only"] + common))
    assert np.isfinite(load_metadata(tmp_path / "w" / "chest-xray-mobilenetv2").metrics["accuracy"])
