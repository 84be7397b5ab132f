"""Chest phantom findings are drawn where a reader could see them, at published sizes.

The demo chest models learn only what the phantom shows, so a label must never be set for a
lesion hidden behind the heart, under fluid or too small to resolve at the model input.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from core.synth.chest import CHEST_FINDINGS, make_chest_xray, sample_findings

# Fleischner glossary (Hansell et al., Radiology 2008;246:697-722): nodule <= 3 cm, mass > 3 cm
NODULE_MAX_MM = 30.0
MASS_MIN_MM = 30.0
SIZE = 128


def _lesions(name: str, seeds: range) -> list[tuple[np.ndarray, dict, np.ndarray]]:
    """(image, info, one component mask) for every nodule/mass drawn over ``seeds``."""
    out = []
    for s in seeds:
        img, info = make_chest_xray(s, {name}, SIZE)
        comps, k = ndimage.label(info["masks"][name])
        out += [(img, info, comps == i) for i in range(1, k + 1)]
    return out


@pytest.mark.parametrize("name,lo_mm,hi_mm", [("Nodule", 12.0, NODULE_MAX_MM), ("Mass", MASS_MIN_MM, 80.0)])
def test_nodules_and_masses_have_published_sizes_and_are_visible(name: str, lo_mm: float, hi_mm: float) -> None:
    lesions = _lesions(name, range(12))
    assert len(lesions) >= 12
    for img, info, comp in lesions:
        # equivalent diameter of the drawn lesion (pixel-quantised: allow one pixel either side)
        d_mm = 2.0 * np.sqrt(comp.sum() / np.pi) * info["mm_per_px"]
        assert lo_mm - info["mm_per_px"] <= d_mm <= hi_mm + info["mm_per_px"], (name, d_mm)
        # wholly inside aerated lung, so it is not hidden by the heart or the diaphragm
        assert (comp & ~info["masks"]["lungs"]).sum() == 0
        # clearly brighter than the lung ring around it
        ring = ndimage.binary_dilation(comp, iterations=3) & ~ndimage.binary_dilation(comp, iterations=1)
        ring &= info["masks"]["lungs"]
        assert img[comp].mean() - img[ring].mean() > 0.08, (name, img[comp].mean(), img[ring].mean())


def test_nodules_are_at_least_five_pixels_across_at_the_model_input() -> None:
    for _, info, comp in _lesions("Nodule", range(12)):
        assert 2.0 * np.sqrt(comp.sum() / np.pi) >= 4.5


def test_consolidation_is_a_dense_segment_with_air_bronchograms() -> None:
    for s in range(6):
        img, info = make_chest_xray(s, {"Consolidation"}, SIZE)
        cons, lungs = info["masks"]["Consolidation"], info["masks"]["lungs"]
        assert cons.sum() >= 0.08 * lungs.sum()  # segmental or lobar, not a speck
        assert img[cons].mean() - img[lungs & ~cons].mean() > 0.2
        core = ndimage.binary_erosion(cons, iterations=2)
        # lucent branching tubes inside the opacity make it less uniform than a plain blob
        assert img[core].std() > 0.03


def test_every_labelled_finding_is_drawn_visibly() -> None:
    rng = np.random.default_rng(7)
    min_px = {"Nodule": 20, "Mass": 100, "Consolidation": 200, "Atelectasis": 20, "Pneumothorax": 100,
              "Pleural Effusion": 150, "Edema": 500}
    for s in range(40):
        findings = sample_findings(rng, normal_fraction=0.0)
        _, info = make_chest_xray(1000 + s, findings, SIZE)
        assert set(info["findings"]) == findings and set(findings) <= set(CHEST_FINDINGS)
        for name in findings:
            if name in min_px:
                assert info["masks"][name].sum() >= min_px[name], (s, name, info["masks"][name].sum())
        if {"Nodule", "Pleural Effusion"} <= findings:  # a nodule is never drawn under fluid
            assert not (info["masks"]["Nodule"] & info["masks"]["Pleural Effusion"]).any()
