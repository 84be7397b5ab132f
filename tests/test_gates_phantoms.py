"""The input gate's own generators: deterministic, in range, and labelled as the gate expects."""

from __future__ import annotations

import numpy as np
import pytest

from core.gates.gate_data import SOURCE_MODULES, SOURCES, generate
from core.gates.expectations import BODY_PARTS, KINDS


def test_every_source_is_labelled_and_has_its_modules():
    for name, src in SOURCES.items():
        assert src.kind in KINDS and src.body_part in BODY_PARTS
        assert name in SOURCE_MODULES
        if src.kind in ("photo", "other"):
            assert src.body_part == "other"


@pytest.mark.parametrize("name", ["mri_knee", "xray_knee", "xray_cspine", "ct_chest", "text", "noise", "drawing",
                                  "blank", "reg_xray_chest"])
def test_generators_deterministic_and_in_range(name):
    a = generate(name, "test", 2, 64)
    b = generate(name, "test", 2, 64)
    assert len(a) == 2
    for x, y in zip(a, b):
        assert x.shape == (64, 64, 3) and x.dtype == np.float32
        assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
        np.testing.assert_array_equal(x, y)


def test_splits_use_disjoint_seeds():
    train = generate("mri_knee", "train", 1, 64)[0]
    test = generate("mri_knee", "test", 1, 64)[0]
    assert not np.array_equal(train, test)


def test_held_out_photos_are_not_training_photos():
    from core.gates.negatives import EVAL_PHOTOS, TRAIN_PHOTOS

    assert not set(EVAL_PHOTOS) & set(TRAIN_PHOTOS)


def test_knee_labels_have_bones_cartilage_and_fluid():
    from core.gates.knee_phantom import CARTILAGE, CORTEX, FLUID, MARROW, knee_labels

    lab, info = knee_labels(3, 128, "sagittal")
    present = set(np.unique(lab).tolist())
    assert {CORTEX, MARROW, CARTILAGE, FLUID} <= present
    assert info["view"] == "sagittal"
