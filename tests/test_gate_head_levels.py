"""core.gates.head_levels: head MRI slices at the vertex, orbits, skull base and jaw for the input gate."""

from __future__ import annotations

import numpy as np
import pytest

from core.gates.gate_data import SOURCES, generate
from core.gates.head_levels import LEVELS, make_head_level_slice


def test_slices_are_deterministic_and_in_range():
    a = make_head_level_slice(3, 64, level="orbit", contrast="t1c")
    b = make_head_level_slice(3, 64, level="orbit", contrast="t1c")
    assert a.shape == (64, 64) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert 0.0 <= a.min() and a.max() <= 1.0
    assert not np.array_equal(a, make_head_level_slice(4, 64, level="orbit", contrast="t1c"))


@pytest.mark.parametrize("level", list(LEVELS))
def test_every_level_shows_a_head_surrounded_by_air(level):
    img = make_head_level_slice(11, 96, level=level, contrast="t1")
    head = img > 0.15
    assert 0.1 < head.mean() < 0.9, (level, head.mean())
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    assert np.median(border) < 0.15  # air around the head (the field of view covers it)


def test_contrasts_change_fluid_signal():
    # the eyeball (vitreous) and CSF are dark on T1 and FLAIR, bright on T2: the mean image changes
    t1 = make_head_level_slice(5, 96, level="orbit", contrast="t1")
    t2 = make_head_level_slice(5, 96, level="orbit", contrast="t2")
    assert np.abs(t1 - t2).mean() > 0.03


def test_gate_source_is_labelled_mri_brain():
    src = SOURCES["mri_head_levels"]
    assert (src.kind, src.body_part, src.medical) == ("mri", "brain", True)
    imgs = generate("mri_head_levels", "test", 2, 48)
    assert len(imgs) == 2 and imgs[0].shape == (48, 48, 3)
