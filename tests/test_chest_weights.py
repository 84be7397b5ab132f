"""The committed chest-xray demo ensemble: its recorded scores and a fresh check of them.

Issue 4 asks each demo classifier for held-out phantom AUROC >= 0.95 per class. The metadata
records the score on the 500-phantom test split; the live test re-scores the committed fp16
weights on phantoms drawn now from a seed range no split uses, so a change to
``core.synth.chest`` that the models were not retrained for shows up here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.models.inputs import image_to_input
from core.models.loading import load_model
from core.models.metadata import load_metadata
from core.synth.chest import CHEST_FINDINGS, chest_dataset
from core.training.metrics import auroc

ROOT = Path(__file__).resolve().parents[1]
MEMBERS = ("chest-xray-densenet121", "chest-xray-mobilenetv2")
TARGET_AUROC = 0.95  # issue 4 "Done when", per class, held-out phantom split
FRESH_SEED = 3_000_000  # not a train (0..), val (1,000,000) or test (2,000,000) dataset seed


def _meta(model_id: str):
    return load_metadata(ROOT / "weights" / model_id)


@pytest.mark.parametrize("model_id", MEMBERS)
def test_members_take_128px_and_record_the_ensemble(model_id: str) -> None:
    meta = _meta(model_id)
    assert tuple(meta.input.spatial_shape) == (128, 128)
    assert list(meta.labels) == list(CHEST_FINDINGS)
    assert meta.metrics["n"] == 500 and meta.metrics["ensemble"]["n"] == 500
    assert set(meta.metrics["ensemble"]["members"]) == set(MEMBERS)
    assert (ROOT / "weights" / model_id / "model.safetensors").stat().st_size < 3_000_000  # fp16, small


def test_recorded_ensemble_auroc_meets_the_issue_target_for_every_class() -> None:
    ens = [_meta(m).metrics["ensemble"]["auroc"] for m in MEMBERS]
    assert ens[0] == ens[1]  # both members carry the same ensemble record
    low = {k: v for k, v in ens[0].items() if v < TARGET_AUROC}
    assert set(ens[0]) == set(CHEST_FINDINGS) and not low, low


def test_committed_ensemble_finds_every_class_on_fresh_phantoms() -> None:
    size = int(_meta(MEMBERS[0]).input.spatial_shape[0])
    images, targets = chest_dataset(120, FRESH_SEED, size=160, normal_fraction=0.25)
    probs, weights = 0.0, 0.0
    for model_id in MEMBERS:
        model = load_model(_meta(model_id))
        batch = np.stack([image_to_input(img, model.meta.input) for img in images])
        w = float(model.meta.ensemble_weight or 1.0)
        probs = probs + w / (1.0 + np.exp(-model.logits(batch)))
        weights += w
    probs = probs / weights
    scores = {f: auroc(probs[:, i], targets[:, i]) for i, f in enumerate(CHEST_FINDINGS)}
    assert all(targets[:, i].sum() >= 5 for i in range(len(CHEST_FINDINGS)))
    # 120 phantoms (~15 positives per class) are noisier than the 500-phantom test split: at commit time
    # this set gave nodule 0.89 (the weakest class), pneumothorax 0.999, the rest 1.00. The bound is
    # looser than the issue's 0.95 but far above the old 96 px ensemble (nodule 0.63, mass 0.68).
    low = {f: round(s, 3) for f, s in scores.items() if s < 0.85}
    assert not low, low
    assert size == 128
