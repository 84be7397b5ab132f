"""2D rendering: orientation conventions, window/level, overlays, boxes, montage."""

from __future__ import annotations

import numpy as np
import pytest

from core.types import Box
from core.viz import slices as sl


def _marked_volume() -> np.ndarray:
    """RAS+ volume (X=10, Y=12, Z=14) with one bright voxel at the right-anterior-superior corner."""
    vol = np.zeros((10, 12, 14), dtype=np.float32)
    vol[9, 11, 13] = 1.0  # max x = patient right, max y = anterior, max z = superior
    return vol


def test_axial_shows_patient_right_on_viewer_left_and_anterior_up():
    img = sl.orthogonal_slice(_marked_volume(), "axial", 13)
    assert img.shape == (12, 10)  # rows = Y, cols = X
    assert img[0, 0] == 1.0  # top-left: anterior (up) and patient right (viewer left)


def test_coronal_and_sagittal_put_superior_up():
    vol = _marked_volume()
    cor = sl.orthogonal_slice(vol, "coronal", 11)
    sag = sl.orthogonal_slice(vol, "sagittal", 9)
    assert cor.shape == (14, 10) and cor[0, 0] == 1.0  # superior up, right on the left
    assert sag.shape == (14, 12) and sag[0, 0] == 1.0  # superior up, anterior on the left


def test_slice_index_is_clipped_and_planes_count():
    vol = _marked_volume()
    assert sl.slice_count(vol.shape, "axial") == 14
    assert sl.orthogonal_slice(vol, "axial", 999).shape == (12, 10)
    with pytest.raises(ValueError):
        sl.orthogonal_slice(vol[..., 0], "axial", 0)


def test_anisotropic_spacing_gives_square_pixels():
    vol = np.zeros((20, 20, 4), dtype=np.float32)
    cor = sl.orthogonal_slice(vol, "coronal", 10, spacing_mm=(1.0, 1.0, 5.0))
    assert cor.shape == (16, 16)  # 20 mm x 20 mm at 1.25 mm pixels (4x upsampling cap)
    labels = np.zeros((20, 20, 4), dtype=np.int16)
    labels[:, :, 1] = 3
    lab = sl.orthogonal_slice(labels, "coronal", 10, spacing_mm=(1.0, 1.0, 5.0), labels=True)
    assert set(np.unique(lab)) <= {0, 3}  # nearest neighbour keeps labels valid


def test_window_maps_range_to_black_and_white():
    w = sl.Window(center=100.0, width=200.0)
    out = sl.apply_window(np.array([-50.0, 0.0, 100.0, 200.0, 400.0, np.nan]), w)
    assert out.dtype == np.uint8
    assert out.tolist() == [0, 0, 128, 255, 255, 0]


def test_auto_window_ignores_dominant_background():
    rng = np.random.default_rng(0)
    vol = np.zeros((40, 40, 40), dtype=np.float32)
    vol[10:30, 10:30, 10:30] = rng.normal(500, 20, (20, 20, 20))
    w = sl.auto_window(vol)
    assert 400 < w.low < 480 and 520 < w.high < 600


def test_label_overlay_colours_only_labelled_pixels():
    gray = np.full((8, 8), 100, dtype=np.uint8)
    labels = np.zeros((8, 8), dtype=np.int32)
    labels[2:4, 2:4] = 1
    colors = sl.label_colors([0, 1])
    out = sl.overlay_labels(gray, labels, colors, alpha=1.0)
    assert out.shape == (8, 8, 3)
    assert tuple(out[2, 2]) == colors[1]
    assert tuple(out[0, 0]) == (100, 100, 100)
    html = sl.legend_html({"hippocampus <L>": colors[1]})
    assert sl.rgb_to_hex(colors[1]) in html and "&lt;L&gt;" in html
    with pytest.raises(ValueError):
        sl.overlay_labels(gray, labels[:4], colors)


def test_heatmap_overlay_resizes_and_respects_opacity():
    gray = np.zeros((20, 30), dtype=np.uint8)
    heat = np.zeros((5, 5), dtype=np.float32)
    heat[2, 2] = 1.0
    none = sl.overlay_heatmap(gray, heat, opacity=0.0)
    assert none.shape == (20, 30, 3) and none.max() == 0
    full = sl.overlay_heatmap(gray, heat, opacity=1.0, min_value=0.5)
    assert full[10, 15].max() > 100  # hot centre coloured
    assert full[0, 0].max() == 0  # cold corner untouched


def test_boxes_are_drawn_with_captions():
    img = np.zeros((200, 300), dtype=np.uint8)
    out = sl.draw_boxes(img, [Box("osteophytes", 0.87, 50, 60, 150, 160)], colors={"osteophytes": (255, 0, 0)})
    assert out.shape == (200, 300, 3)
    assert tuple(out[100, 50]) == (255, 0, 0)  # left edge of the box
    assert tuple(out[100, 100]) == (0, 0, 0)  # inside untouched
    assert (out[35:60, 50:150] == (255, 0, 0)).all(axis=2).any()  # caption band above the box


def test_montage_and_fit_within():
    tiles = [np.full((10, 20), i * 50, dtype=np.uint8) for i in range(5)]
    m = sl.montage(tiles, ncols=3, pad_px=1)
    assert m.shape == (2 * 10 + 3, 3 * 20 + 4, 3)
    assert sl.fit_within(np.zeros((1000, 500, 3), np.uint8), 100).shape == (100, 50, 3)
    with pytest.raises(ValueError):
        sl.montage([])
