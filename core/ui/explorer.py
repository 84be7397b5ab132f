"""Scan Explorer renderers: orthogonal slices with window/level, the 3D view, 2D images.

The slice viewer and the 3D view are Streamlit fragments: moving a slice slider reruns only
the slice viewer, so the 3D scene (serialised to ~2 MB of HTML) is not rebuilt each time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from core.types import Scan
from core.ui.common import render_plotter
from core.viz import slices as sl

MAX_IMAGE_PX = 768  # longest side sent to the browser per orthogonal view (sharp on HiDPI, small payload)
MAX_2D_PX = 600  # longest side of a 2D image on the page, so a portrait radiograph fits on one screen


def display_image(scan: Scan) -> np.ndarray:
    """The 2D image of a 2D scan as displayed: float32 (rows, cols) grey, or uint8 RGB for colour rasters."""
    if scan.array.shape[0] == 3:
        rgb = np.transpose(scan.array[:, :, :, 0], (2, 1, 0))  # (C, X, Y) -> (rows=Y, cols=X, C)
        return np.clip(rgb, 0, 255).astype(np.uint8) if rgb.max() > 1.5 else (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    from core.preprocess import to_display_2d

    return to_display_2d(scan)


@st.cache_resource(max_entries=8, show_spinner=False)
def _auto_window(source: str, channel: int, _values: np.ndarray) -> sl.Window:
    return sl.auto_window(_values)


def _window_controls(values: np.ndarray, default: sl.Window, key: str) -> sl.Window:
    """Window centre and width sliders over the intensity range of ``values``."""
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    step = float(10 ** np.floor(np.log10((hi - lo) / 500))) if hi > lo else 1.0
    span = hi - lo
    col_level, col_width = st.columns(2)
    center = col_level.slider("Window level (centre)", lo, hi, float(np.clip(default.center, lo, hi)), step=step,
                              key=f"{key}_level", help="Intensity shown as mid grey.")
    width = col_width.slider("Window width", step, span, float(np.clip(default.width, step, span)), step=step,
                             key=f"{key}_width", help="Intensity range spread from black to white.")
    return sl.Window(center=center, width=width)


@st.fragment
def slice_viewer(scan: Scan, key: str = "explorer") -> None:
    """Window/level sliders and the three orthogonal views of a volume, or the image of a 2D scan."""
    channel = 0
    if scan.array.shape[0] > 1 and scan.is_volume:
        channel = st.selectbox("Channel", range(scan.array.shape[0]), key=f"{key}_channel")
    if scan.is_2d:
        image = display_image(scan)
        if image.ndim == 3:  # colour raster: shown as stored, no window
            st.image(sl.fit_within(image, MAX_2D_PX), caption=scan.display_name)
            return
        window = _window_controls(image, _auto_window(scan.source, 0, image), key)
        st.image(sl.fit_within(sl.apply_window(image, window), MAX_2D_PX), caption=f"{scan.display_name} (as stored)")
        return
    volume = scan.array[channel]
    window = _window_controls(volume, _auto_window(scan.source, channel, volume), key)
    columns = st.columns(3)
    for column, plane in zip(columns, ("axial", "coronal", "sagittal")):
        n = sl.slice_count(volume.shape, plane)
        with column:
            index = st.slider(f"{plane.capitalize()} slice", 0, n - 1, n // 2, key=f"{key}_{plane}")
            cut = sl.orthogonal_slice(volume, plane, index, scan.spacing_mm)
            st.image(sl.fit_within(sl.apply_window(cut, window), MAX_IMAGE_PX), width="stretch",
                     caption=_plane_caption(plane))


def _plane_caption(plane: str) -> str:
    return {
        "axial": "Axial: patient's right on the left, anterior up",
        "coronal": "Coronal: patient's right on the left, superior up",
        "sagittal": "Sagittal: anterior on the left, superior up",
    }[plane]


@st.cache_resource(max_entries=4, show_spinner="Building the 3D surface…")
def _head_model(source: str, channel: int, _volume: np.ndarray, spacing_mm: tuple[float, float, float]) -> Any:
    from core.viz import scene3d

    return scene3d.prepare_head(_volume, spacing_mm)


@st.fragment
def view_3d(scan: Scan, key: str = "explorer") -> None:
    """The 3D view: head/brain isosurface (optionally with volume rendering) or a 2D height field."""
    from core.viz import scene3d

    if scan.is_volume:
        volume_rendering = st.toggle("Volume rendering", value=False, key=f"{key}_volrender",
                                     help="Adds a translucent volume rendering of the intensities (heavier to draw).")
        try:
            head = _head_model(scan.source, 0, scan.array[0], scan.spacing_mm)
        except ValueError as exc:  # constant volume: no surface to draw
            st.info(f"No 3D surface for this scan: {exc}.")
            return
        plotter = scene3d.head_plotter(head, volume_rendering=volume_rendering)
        st.caption("Outer surface at the head/air boundary (15% of the intensity range); volume shrunk to at most "
                   f"{scene3d.MAX_SIDE_3D} voxels per side. Drag to rotate, scroll to zoom.")
    else:
        image = display_image(scan)
        grey = image.mean(axis=2) if image.ndim == 3 else image
        plotter = scene3d.image_scene(grey)
        st.caption("The 2D image as a height field (brighter = higher). Drag to rotate, scroll to zoom.")
    render_plotter(plotter, key=f"{key}_3d")


__all__ = ["display_image", "slice_viewer", "view_3d"]
