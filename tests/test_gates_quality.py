"""Each quality check fires on its bad input and stays quiet on good images."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from core.gates.quality import assess_quality, measure


def _head_like(seed: int = 0, side: int = 256) -> np.ndarray:
    """An MRI-like image: textured ellipse (skull ring, brain) in dark noisy air."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side] / side - 0.5
    r = np.sqrt((yy / 0.42) ** 2 + (xx / 0.35) ** 2)
    brain = (r < 0.9) * (80 + 30 * ndimage.gaussian_filter(rng.normal(size=(side, side)), 1.2) * 3)
    skull = ((r >= 0.9) & (r < 1.0)) * 160.0
    img = brain + skull + np.abs(rng.normal(0, 3, (side, side)))
    return img.clip(0).astype(np.float32)


def _failed(checks) -> set[str]:
    return {c.code for c in checks if not c.passed}


def test_good_image_passes_every_check():
    for seed in range(3):
        assert _failed(assess_quality(_head_like(seed), body_part="brain")) == set()


@pytest.mark.parametrize("name,make,code", [
    ("mostly empty", lambda img: np.pad(np.ones((3, 3)), 200), "qc_mostly_empty"),
    ("low contrast", lambda img: 1000 + img / img.max() * 40, "qc_low_contrast"),
    ("blurred", lambda img: ndimage.gaussian_filter(img, 8), "qc_blurred"),
    ("noise", lambda img: np.random.default_rng(3).uniform(0, 255, img.shape), "qc_noisy"),
    ("small", lambda img: img[::3, ::3], "qc_low_resolution"),
    ("padded", lambda img: np.pad(img, 200), "qc_padded"),
    ("cropped", lambda img: img[60:200, 40:220], "qc_cropped_field_of_view"),
])
def test_each_check_fires_on_its_bad_input(name, make, code):
    bad = make(_head_like()).astype(np.float32)
    failed = _failed(assess_quality(bad, body_part="brain"))
    assert code in failed, (name, measure(bad))


def test_cropped_check_only_for_brain():
    cropped = _head_like()[60:200, 40:220]
    assert "qc_cropped_field_of_view" not in {c.code for c in assess_quality(cropped, body_part="chest")}


def test_severities():
    from core.types import Severity

    sev = {c.code: c.severity for c in assess_quality(_head_like(), body_part="brain")}
    for code in ("qc_mostly_empty", "qc_low_contrast", "qc_blurred", "qc_noisy"):
        assert sev[code] is Severity.ERROR
    for code in ("qc_low_resolution", "qc_padded", "qc_cropped_field_of_view"):
        assert sev[code] is Severity.WARNING


def test_messages_match_the_outcome():
    """A passed check reports its measure; only a failed one says what is wrong (the QC table lists both)."""
    failure_words = ("too blurred", "dominated by noise", "almost empty", "very low contrast", "Upload", "cut off",
                     "Crop", "less reliable")
    good = assess_quality(_head_like(), body_part="brain")
    assert all(c.passed for c in good)
    for c in good:
        assert not any(w in c.message for w in failure_words), (c.code, c.message)
    noisy = {c.code: c for c in assess_quality(np.random.default_rng(3).uniform(0, 255, (256, 256)).astype(np.float32),
                                               body_part="brain")}
    assert not noisy["qc_noisy"].passed and "dominated by noise" in noisy["qc_noisy"].message
    assert "Noise level" in {c.code: c for c in good}["qc_noisy"].message
