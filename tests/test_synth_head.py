"""Tests of the 3D head phantom: determinism, ground truth, atrophy grading, ranges."""

from __future__ import annotations

import numpy as np
import pytest

from core.synth.head import (
    LABELS, STAGE_NAMES, VOLUME_GROUPS, HeadPhantom, as_nifti_bytes, make_head_phantom, stage_params,
    volumes_from_labels,
)
from core.types import Modality

SMALL = dict(shape=(64, 64, 64), spacing_mm=3.5)
MID = dict(shape=(96, 112, 96), spacing_mm=2.0)


@pytest.fixture(scope="module")
def mid_series() -> dict[float, HeadPhantom]:
    """One subject (seed 5) at three atrophy levels on a 2 mm grid."""
    return {a: make_head_phantom(seed=5, atrophy=a, **MID) for a in (0.0, 0.5, 1.0)}


def test_same_seed_is_bit_identical_and_other_seed_differs():
    a = make_head_phantom(seed=3, **SMALL)
    b = make_head_phantom(seed=3, **SMALL)
    c = make_head_phantom(seed=4, **SMALL)
    assert np.array_equal(a.scan.array, b.scan.array)
    assert np.array_equal(a.labels, b.labels)
    assert a.scan.source == b.scan.source
    assert not np.array_equal(a.labels, c.labels)
    assert a.scan.source != c.scan.source


def test_scan_contract():
    ph = make_head_phantom(seed=1, **SMALL)
    scan = ph.scan
    assert scan.array.dtype == np.float32 and scan.array.shape == (1, 64, 64, 64)
    assert scan.modality is Modality.MR
    assert np.allclose(scan.spacing, (3.5, 3.5, 3.5))
    assert np.all(np.diag(scan.affine)[:3] > 0)  # RAS+
    assert scan.meta["phantom"] is True and scan.meta["format"] == "synthetic"
    assert scan.source.startswith("phantom-head seed=1 sha256:")
    assert ph.labels.shape == (64, 64, 64) and ph.labels.dtype == np.uint8
    assert set(np.unique(ph.labels)) <= set(LABELS)
    assert np.isfinite(scan.array).all() and scan.array.min() >= 0


def test_volumes_match_label_map(mid_series):
    ph = mid_series[0.0]
    voxel_ml = 2.0 ** 3 / 1000.0
    for key, codes in VOLUME_GROUPS.items():
        expected = float(np.isin(ph.labels, codes).sum()) * voxel_ml
        assert ph.volumes_ml[key] == pytest.approx(expected, rel=1e-9, abs=1e-9), key
    assert ph.volumes_ml["brain"] == pytest.approx(ph.volumes_ml["gm"] + ph.volumes_ml["wm"])
    assert ph.volumes_ml["icv"] == pytest.approx(ph.volumes_ml["brain"] + ph.volumes_ml["csf"])
    assert volumes_from_labels(ph.labels, 8.0) == ph.volumes_ml


def test_atrophy_is_graded_on_one_subject(mid_series):
    v = {a: p.volumes_ml for a, p in mid_series.items()}
    for lo, hi in ((0.0, 0.5), (0.5, 1.0)):
        assert v[hi]["lateral_ventricles"] > v[lo]["lateral_ventricles"]
        assert v[hi]["hippocampus_left"] < v[lo]["hippocampus_left"]
        assert v[hi]["hippocampus_right"] < v[lo]["hippocampus_right"]
        assert v[hi]["cortex"] < v[lo]["cortex"]
        assert v[hi]["csf"] > v[lo]["csf"]
    assert v[1.0]["icv"] == pytest.approx(v[0.0]["icv"])  # the skull does not shrink
    vent_ratio = v[1.0]["lateral_ventricles"] / v[0.0]["lateral_ventricles"]
    hc_loss = 1 - v[1.0]["hippocampus"] / v[0.0]["hippocampus"]
    assert 2.2 < vent_ratio < 4.0
    assert 0.25 < hc_loss < 0.5


def test_normal_ranges_across_subjects():
    for seed in range(4):
        v = make_head_phantom(seed=seed, **MID).volumes_ml
        assert 1100 < v["icv"] < 1900, v["icv"]
        assert 2.8 < v["hippocampus_left"] < 5.2 and 2.8 < v["hippocampus_right"] < 5.2, v
        assert 7.0 < v["lateral_ventricles"] < 40.0, v["lateral_ventricles"]
        assert 0.65 < v["brain"] / v["icv"] < 0.92


def test_t1_contrast_order(mid_series):
    ph = mid_series[0.0]
    img = ph.scan.array[0]
    inner = np.ones_like(ph.labels, dtype=bool)

    def med(code):
        return float(np.median(img[(ph.labels == code) & inner]))

    assert med(4) > med(3) > med(2)  # WM > GM > CSF
    assert med(4) > med(5)  # WM > ventricle CSF


def test_stage_params_ordered_and_overlapping():
    rng = np.random.default_rng(0)
    draws = {s: [stage_params(s, rng)["atrophy"] for _ in range(200)] for s in range(4)}
    means = [np.mean(draws[s]) for s in range(4)]
    assert means == sorted(means)
    for s in range(3):
        assert max(draws[s]) > min(draws[s + 1])  # neighbours overlap
    assert len(STAGE_NAMES) == 4
    with pytest.raises(ValueError):
        stage_params(4, rng)


def test_nifti_bytes_round_trip():
    import gzip

    import nibabel as nib

    ph = make_head_phantom(seed=2, **SMALL)
    data = as_nifti_bytes(ph.scan)
    assert data[:2] == b"\x1f\x8b"
    img = nib.Nifti1Image.from_bytes(gzip.decompress(data))
    assert np.allclose(img.affine, ph.scan.affine)
    assert np.array_equal(np.asarray(img.dataobj), ph.scan.array[0])
    assert as_nifti_bytes(ph.scan) == data  # deterministic bytes
    small = as_nifti_bytes(ph.scan, int16=True)
    assert len(small) < len(data)


def test_atrophy_out_of_range_rejected():
    with pytest.raises(ValueError):
        make_head_phantom(seed=0, atrophy=1.5, **SMALL)


def test_small_phantom_is_fast():
    import time

    make_head_phantom(seed=0, **SMALL)  # warm caches
    t0 = time.perf_counter()
    make_head_phantom(seed=1, **SMALL)
    assert time.perf_counter() - t0 < 1.5  # budget 0.3 s idle; generous for a shared CI machine


@pytest.mark.slow
def test_full_size_phantom_timing():
    import time

    t0 = time.perf_counter()
    make_head_phantom(seed=0)
    assert time.perf_counter() - t0 < 3.0


def test_hippocampi_are_the_scaled_freesurfer_atlas_structures():
    """Phantom hippocampus = aseg hippocampus x (MNI -> template map) x subject scale x MTL scale^3."""
    from core.mni import ASEG_HIPPOCAMPUS_LEFT, ASEG_HIPPOCAMPUS_RIGHT, aseg_labels
    from core.synth.head import HeadAnatomy
    from core.synth.mtl import MNI_TO_TEMPLATE

    seed, atrophy = 7, 0.4
    ph = make_head_phantom(seed=seed, shape=(128, 150, 128), spacing_mm=1.25, atrophy=atrophy)
    anatomy = HeadAnatomy(np.random.default_rng(seed).spawn(2)[0], atrophy=atrophy)
    labels, affine = aseg_labels()
    atlas_voxel_ml = abs(np.linalg.det(affine[:3, :3])) / 1000.0
    for side, code in (("left", ASEG_HIPPOCAMPUS_LEFT), ("right", ASEG_HIPPOCAMPUS_RIGHT)):
        expected = (float((labels == code).sum()) * atlas_voxel_ml * abs(np.linalg.det(MNI_TO_TEMPLATE[:, :3]))
                    * float(np.prod(anatomy.scale)) * ph.params["medial_temporal_scale"][side] ** 3)
        assert ph.volumes_ml[f"hippocampus_{side}"] == pytest.approx(expected, rel=0.06), side
    # left hippocampus (label 7) lies left of the midline, right (8) right of it (RAS+, centred grid)
    x = lambda code: (np.argwhere(ph.labels == code) @ ph.scan.affine[:3, :3].T + ph.scan.affine[:3, 3])[:, 0].mean()
    assert x(7) < -15 and x(8) > 15


def test_reference_ventricles_leave_out_the_temporal_horns(mid_series):
    for ph in mid_series.values():
        ref = ph.reference_ml
        assert 0 < ref["temporal_horns"] < 0.2 * ph.volumes_ml["lateral_ventricles"]
        assert ref["lateral_ventricles_fs"] == pytest.approx(ph.volumes_ml["lateral_ventricles"] - ref["temporal_horns"])
    assert mid_series[1.0].reference_ml["temporal_horns"] > mid_series[0.0].reference_ml["temporal_horns"]
