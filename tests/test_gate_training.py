"""core.training.input_gate augmentation: JPEG round trip and the batch augmentation contract."""

from __future__ import annotations

import numpy as np
import torch

from core.training.input_gate import DEFAULT_COUNTS, SOURCE_WEIGHTS, _jpeg_round_trip, augment


def test_jpeg_round_trip_keeps_shape_range_and_grayscale():
    g = torch.Generator().manual_seed(0)
    img = torch.rand(1, 48, 48, generator=g).expand(3, -1, -1).contiguous()
    out = _jpeg_round_trip(img, 20, gray=True)
    assert out.shape == (3, 48, 48) and float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert torch.equal(out[0], out[1]) and torch.equal(out[1], out[2])
    # quality 20 changes a noise image visibly; it is an approximation of the input, not a copy
    err = float((out - img).abs().mean())
    assert 0.01 < err < 0.3


def test_augment_is_seeded_and_normalised():
    x = torch.from_numpy((np.random.default_rng(1).random((6, 3, 64, 64)) * 255).astype(np.uint8))
    medical = torch.tensor([True, True, True, False, False, True])
    stamps = torch.zeros(2, 16, 48)
    a = augment(x, medical, 48, stamps, torch.Generator().manual_seed(5))
    b = augment(x, medical, 48, stamps, torch.Generator().manual_seed(5))
    assert a.shape == (6, 3, 48, 48)
    assert torch.equal(a, b)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0


def test_source_weights_name_training_sources():
    assert set(SOURCE_WEIGHTS) <= set(DEFAULT_COUNTS)
    assert all(w > 0 for w in SOURCE_WEIGHTS.values())
