"""core.preprocess: pure functions, correct geometry, history recorded, inputs untouched."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from core.preprocess import (apply_window, crop_or_pad, normalize_percentile, reorient_ras, resample_to_spacing,
                             resize_2d, to_display_2d)
from core.types import Modality, Scan


def _scan(array, affine=None, history=("load_scan",)) -> Scan:
    return Scan(np.asarray(array, np.float32), np.eye(4) if affine is None else affine, Modality.MR, {}, "t sha256:0",
                history)


def test_to_display_2d_layout_and_rgb_average():
    img = np.arange(6 * 4, dtype=np.float32).reshape(6, 4)  # rows, cols
    scan = _scan(img.T[None, :, :, None])
    np.testing.assert_array_equal(to_display_2d(scan), img)
    rgb = np.stack([img.T, img.T * 2, img.T * 3])[..., None]
    np.testing.assert_allclose(to_display_2d(_scan(rgb)), img * 2)
    vol = np.zeros((1, 5, 7, 9), np.float32)
    vol[0, 4, 6, 4] = 1.0  # most right, most anterior voxel of the middle axial slice
    d = to_display_2d(_scan(vol))
    assert d.shape == (7, 5) and d[0, 0] == 1.0  # anterior at top, patient's right on the viewer's left
    assert d.dtype == np.float32


def test_normalize_and_window():
    a = np.linspace(-100, 300, 1001, dtype=np.float32)
    n = normalize_percentile(a, 1, 99)
    assert n.min() == 0.0 and n.max() == 1.0 and n.dtype == np.float32
    assert (n == 0).sum() >= 10 and (n == 1).sum() >= 10  # clipped tails
    assert normalize_percentile(np.full((4, 4), 3.0)).max() == 0.0
    with_nan = a.copy()
    with_nan[0] = np.nan
    assert np.isfinite(normalize_percentile(with_nan)).all()
    w = apply_window(np.array([0.0, 40.0, 80.0, 1000.0]), center=40.0, width=80.0)
    np.testing.assert_allclose(w, [0.0, 0.5, 1.0, 1.0])
    with pytest.raises(ValueError):
        apply_window(a, 0, 0)


def test_resize_and_crop_or_pad():
    img = np.zeros((40, 60), np.float32)
    img[10:30, 20:40] = 1.0
    r = resize_2d(img, (20, 30))
    assert r.shape == (20, 30) and r.dtype == np.float32
    assert r[10, 15] == pytest.approx(1.0, abs=0.05) and r[0, 0] == pytest.approx(0.0, abs=1e-6)
    up = resize_2d(img, (80, 120), order=0)
    assert up.shape == (80, 120) and up.sum() == pytest.approx(4 * img.sum())
    assert resize_2d(np.stack([img, img * 2]), (10, 10)).shape == (2, 10, 10)
    c = crop_or_pad(np.ones((3, 5, 7)), (7, 3))
    assert c.shape == (3, 7, 3) and c[:, 0].sum() == 0 and c[:, 1:6].min() == 1
    x = np.arange(10)
    np.testing.assert_array_equal(crop_or_pad(x, (4,)), [3, 4, 5, 6])
    np.testing.assert_array_equal(crop_or_pad(x[:2], (5,), value=-1), [-1, 0, 1, -1, -1])


def test_resample_to_spacing_keeps_world_geometry_and_records_history():
    rng = np.random.default_rng(0)
    affine = np.diag([0.5, 0.5, 2.0, 1.0])
    affine[:3, 3] = [-10, 20, 5]
    data = rng.random((1, 40, 40, 10))
    scan = _scan(data, affine)
    out = resample_to_spacing(scan, 1.0)
    assert out.spacing == pytest.approx((1.0, 1.0, 1.0)) and out.shape == (20, 20, 20)
    np.testing.assert_allclose(out.affine[:3, 3], affine[:3, 3])
    assert out.history == scan.history + ("resample_to_spacing (0.5, 0.5, 2.0) -> (1.0, 1.0, 1.0) mm",)
    assert scan.shape == (40, 40, 10) and scan.history == ("load_scan",)  # input untouched
    lin = np.broadcast_to(np.arange(40, dtype=np.float32)[:, None, None], (40, 40, 10))[None]
    res = resample_to_spacing(_scan(lin, affine), (1.0, 0.5, 2.0))
    np.testing.assert_allclose(res.array[0, :, 0, 0], np.arange(0, 40, 2))  # linear data stays exact
    flat = resample_to_spacing(_scan(rng.random((3, 30, 20, 1))), 2.0)
    assert flat.array.shape == (3, 15, 10, 1)  # 2D: Z untouched, channels kept


def test_reorient_ras_matches_nibabel():
    rng = np.random.default_rng(1)
    data = rng.random((4, 5, 6)).astype(np.float32)
    affine = np.array([[0, 0, -2.0, 10], [1.0, 0, 0, -5], [0, -3.0, 0, 7], [0, 0, 0, 1]])
    out = reorient_ras(_scan(data[None], affine))
    ref = nib.as_closest_canonical(nib.Nifti1Image(data, affine))
    np.testing.assert_allclose(out.affine, ref.affine)
    np.testing.assert_array_equal(out.array[0], ref.get_fdata(dtype=np.float32))
    assert out.history[-1].startswith("reorient_ras") and "RAS" in out.history[-1]
    again = reorient_ras(out)
    assert again.history[-1] == "reorient_ras (already RAS)"
    np.testing.assert_array_equal(again.array, out.array)
