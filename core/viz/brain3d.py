"""Brain-specific rendering: ROI label maps, coloured slice overlays and the 3D ROI scene.

Builds on :mod:`core.viz.slices` (orthogonal slices, overlays, legends) and
:mod:`core.viz.scene3d` (meshes, plotters); nothing here imports Streamlit.

ROI codes used in the label map (:func:`roi_label_map`): 1 left hippocampus, 2 right hippocampus,
3 lateral ventricles. Colours are from the colour-blind-safe Okabe-Ito set.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from core.viz import slices as sl

ROI_CODES: dict[int, str] = {1: "hippocampus_left", 2: "hippocampus_right", 3: "lateral_ventricles"}
ROI_NAMES: dict[str, str] = {"hippocampus_left": "Left hippocampus", "hippocampus_right": "Right hippocampus",
                             "lateral_ventricles": "Lateral ventricles", "brain": "Brain"}
ROI_COLORS: dict[int, tuple[int, int, int]] = {1: (230, 159, 0), 2: (0, 158, 115), 3: (86, 180, 233)}
BRAIN_COLOR = (220, 200, 190)


def roi_label_map(masks: Mapping[str, np.ndarray]) -> np.ndarray:
    """uint8 ``(X, Y, Z)`` label map of the ROIs present in ``masks`` (codes in :data:`ROI_CODES`)."""
    shape = next(iter(masks.values())).shape
    labels = np.zeros(shape, np.uint8)
    for code, name in ROI_CODES.items():
        if name in masks:
            labels[np.asarray(masks[name], bool)] = code
    return labels


def legend_entries() -> dict[str, tuple[int, int, int]]:
    """Display name -> colour for the slice and 3D legends."""
    return {ROI_NAMES[ROI_CODES[c]]: col for c, col in ROI_COLORS.items()}


def roi_centre(labels: np.ndarray) -> tuple[int, int, int]:
    """Voxel index through the hippocampi (centroid), else the ventricles, else the grid centre."""
    for codes in ((1, 2), (3,)):
        idx = np.argwhere(np.isin(labels, codes))
        if len(idx):
            return tuple(int(v) for v in np.round(idx.mean(axis=0)))  # type: ignore[return-value]
    return tuple(int(s // 2) for s in labels.shape)  # type: ignore[return-value]


def overlay_slice(volume: np.ndarray, labels: np.ndarray, plane: sl.Plane, index: int, spacing_mm: Sequence[float],
                  window: sl.Window | None = None, alpha: float = 0.45) -> np.ndarray:
    """RGB slice of ``volume`` with the ROI label map blended in and outlined."""
    cut = sl.orthogonal_slice(volume, plane, index, spacing_mm)
    lab = sl.orthogonal_slice(labels, plane, index, spacing_mm, labels=True)
    window = window or sl.auto_window(volume)
    grey = sl.apply_window(cut, window)
    return sl.overlay_labels(grey, lab, ROI_COLORS, alpha=alpha, outline=True)


def heatmap_slice(volume: np.ndarray, heat: np.ndarray, plane: sl.Plane, index: int, spacing_mm: Sequence[float],
                  window: sl.Window | None = None, opacity: float = 0.45) -> np.ndarray:
    """RGB slice of ``volume`` with a 0..1 heat map (e.g. 3D Grad-CAM on the same grid) blended in."""
    cut = sl.orthogonal_slice(volume, plane, index, spacing_mm)
    hot = sl.orthogonal_slice(heat, plane, index, spacing_mm)
    window = window or sl.auto_window(volume)
    return sl.overlay_heatmap(sl.apply_window(cut, window), hot, opacity=opacity, min_value=0.3)


def roi_scene(masks: Mapping[str, np.ndarray], spacing_mm: Sequence[float], *, brain_opacity: float = 0.15,
              window_size: tuple[int, int] | None = None):
    """A pyvista plotter: coloured hippocampi and ventricles inside a translucent brain surface.

    Args:
        masks: name -> bool ``(X, Y, Z)`` (``brain`` plus the names in :data:`ROI_CODES`), one grid.
        spacing_mm: voxel size of that grid.
        brain_opacity: opacity of the brain surface.
        window_size: plotter size in pixels.

    Returns:
        An off-screen ``pyvista.Plotter`` (add to a page with stpyvista, or screenshot it).
    """
    from core.viz import scene3d

    labels = roi_label_map(masks)
    small, small_spacing = scene3d.downsample_volume(labels, spacing_mm, labels=True)
    plotter = scene3d.new_plotter(window_size or scene3d.WINDOW_SIZE)
    if "brain" in masks and np.any(masks["brain"]):
        from scipy import ndimage

        brain_small, _ = scene3d.downsample_volume(np.asarray(masks["brain"], np.uint8), spacing_mm, labels=True)
        # a closed, hole-free hull reads as "the brain" instead of a clutter of sulcal surfaces
        brain_small = ndimage.binary_fill_holes(ndimage.binary_closing(brain_small > 0, iterations=2)).astype(np.uint8)
        for item in scene3d.label_meshes(brain_small, small_spacing, {1: ROI_NAMES["brain"]}, {1: BRAIN_COLOR},
                                         opacity=brain_opacity):
            plotter.add_mesh(item.mesh, color=item.color, opacity=item.opacity, smooth_shading=True, name="brain")
    names = {c: ROI_NAMES[n] for c, n in ROI_CODES.items()}
    for item in scene3d.label_meshes(small, small_spacing, names, ROI_COLORS):
        plotter.add_mesh(item.mesh, color=item.color, opacity=item.opacity, smooth_shading=True, name=item.name)
    scene3d.orient_head_camera(plotter)
    return plotter


__all__ = ["ROI_CODES", "ROI_NAMES", "ROI_COLORS", "roi_label_map", "legend_entries", "roi_centre", "overlay_slice",
           "heatmap_slice", "roi_scene"]
