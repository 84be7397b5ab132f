"""3D scenes with pyvista: head/brain isosurfaces, volume rendering, image height fields, label meshes.

Scenes go to the browser through stpyvista's trame backend, which serialises every mesh
into a self-contained HTML page; a 256^3 head isosurface would be tens of MB. So volumes
are block-averaged to at most ``MAX_SIDE_3D`` voxels per side and meshes decimated to a
few tens of thousands of triangles before they reach a plotter.

Geometry is in millimetres of the (RAS+) voxel grid: a mesh point ``(x, y, z)`` is
``index * spacing_mm``. The world origin of the affine is ignored because only the
relative arrangement of structures matters for viewing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")  # no X server needed

import pyvista as pv  # noqa: E402  (after the render-window choice above)

MAX_SIDE_3D = 96  # voxels per side of volumes sent to the browser
MAX_FACES = 30_000  # triangles per mesh after decimation
WINDOW_SIZE = (640, 480)
BACKGROUND = "#0e1117"  # Streamlit's dark background, so the frame blends with the page


@dataclass(frozen=True)
class LabelMesh:
    """A surface of one labelled structure, ready to add to a plotter."""

    name: str
    color: tuple[int, int, int]
    mesh: pv.PolyData
    opacity: float = 1.0


def downsample_volume(
    volume: np.ndarray, spacing_mm: Sequence[float], max_side: int = MAX_SIDE_3D, *, labels: bool = False
) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Shrink a ``(X, Y, Z)`` volume so no side exceeds ``max_side`` voxels.

    Intensities are block-averaged (no aliasing); label volumes take every n-th voxel so
    values stay valid labels. Returns the new volume and its voxel size in mm.
    """
    volume = np.asarray(volume)
    factor = max(1, int(np.ceil(max(volume.shape) / max_side)))
    spacing = tuple(float(s) * factor for s in spacing_mm)
    if factor == 1:
        return volume, spacing  # type: ignore[return-value]
    if labels:
        return np.ascontiguousarray(volume[::factor, ::factor, ::factor]), spacing  # type: ignore[return-value]
    crop = tuple((n // factor) * factor for n in volume.shape)
    if min(crop) == 0:  # a side thinner than the factor: fall back to striding
        return np.ascontiguousarray(volume[::factor, ::factor, ::factor]).astype(np.float32), spacing  # type: ignore[return-value]
    v = volume[: crop[0], : crop[1], : crop[2]].astype(np.float32)
    v = v.reshape(crop[0] // factor, factor, crop[1] // factor, factor, crop[2] // factor, factor).mean(axis=(1, 3, 5))
    return v, spacing  # type: ignore[return-value]


def to_image_data(volume: np.ndarray, spacing_mm: Sequence[float], name: str = "values") -> pv.ImageData:
    """Wrap a ``(X, Y, Z)`` array as pyvista ImageData (point data, Fortran order as VTK expects)."""
    grid = pv.ImageData(dimensions=volume.shape, spacing=tuple(float(s) for s in spacing_mm))
    grid.point_data[name] = np.asarray(volume).ravel(order="F")
    return grid


def _decimate(mesh: pv.PolyData, max_faces: int) -> pv.PolyData:
    mesh = mesh.triangulate()
    if mesh.n_cells > max_faces:
        mesh = mesh.decimate_pro(1.0 - max_faces / mesh.n_cells, preserve_topology=False)
    return mesh


def foreground_level(volume: np.ndarray) -> float:
    """Otsu threshold separating head from air, ignoring non-finite values."""
    from skimage.filters import threshold_otsu

    finite = volume[np.isfinite(volume)]
    if finite.size == 0 or float(finite.max()) == float(finite.min()):
        raise ValueError("volume is constant; there is no surface to extract")
    return float(threshold_otsu(finite))


def isosurface(
    volume: np.ndarray,
    spacing_mm: Sequence[float],
    level: float | None = None,
    *,
    max_faces: int = MAX_FACES,
    smooth_iterations: int = 15,
) -> pv.PolyData:
    """Surface of ``volume >= level`` (marching cubes), decimated and lightly smoothed.

    Args:
        volume: ``(X, Y, Z)`` intensities (already downsampled for the browser).
        spacing_mm: voxel size.
        level: iso value; Otsu's threshold when None (the head/air boundary on MR and CT).
        max_faces: triangle budget after decimation.
        smooth_iterations: Laplacian smoothing passes that hide the voxel staircase.

    Raises:
        ValueError: when the volume is constant or the level yields no surface.
    """
    vol = np.nan_to_num(np.asarray(volume, dtype=np.float32))
    level = foreground_level(vol) if level is None else float(level)
    # Pad with the minimum so the surface closes at the volume border instead of leaving holes.
    padded = np.pad(vol, 1, mode="constant", constant_values=float(vol.min()))
    grid = to_image_data(padded, spacing_mm)
    surface = grid.contour([level], scalars="values", method="flying_edges")
    if surface.n_points == 0:
        raise ValueError(f"no surface at level {level:g}")
    surface = surface.translate([-float(s) for s in spacing_mm], inplace=False)  # undo the padding offset
    surface = _decimate(surface, max_faces)
    if smooth_iterations:
        surface = surface.smooth(n_iter=smooth_iterations, relaxation_factor=0.1)
    return surface.compute_normals(auto_orient_normals=False, split_vertices=False)


def label_meshes(
    label_volume: np.ndarray,
    spacing_mm: Sequence[float],
    names: Mapping[int, str],
    colors: Mapping[int, tuple[int, int, int]],
    *,
    max_faces: int = MAX_FACES // 2,
    opacity: float = 1.0,
) -> list[LabelMesh]:
    """One smoothed, decimated surface per label value present in ``label_volume``.

    Args:
        label_volume: integer ``(X, Y, Z)`` labels (0 background).
        spacing_mm: voxel size.
        names: label value -> structure name (labels without a name are skipped).
        colors: label value -> RGB.
        max_faces: triangle budget per structure.
        opacity: opacity of every structure.
    """
    labels = np.asarray(label_volume)
    out: list[LabelMesh] = []
    for value, name in names.items():
        mask = labels == value
        if not mask.any():
            continue
        # A blurred binary mask gives a smoother surface than the raw staircase at level 0.5.
        from scipy.ndimage import gaussian_filter

        soft = gaussian_filter(mask.astype(np.float32), sigma=0.7)
        mesh = isosurface(soft, spacing_mm, level=0.5, max_faces=max_faces, smooth_iterations=10)
        out.append(LabelMesh(name=name, color=tuple(colors.get(value, (200, 200, 200))), mesh=mesh, opacity=opacity))
    return out


def height_field(image: np.ndarray, max_side: int = 160, relief_fraction: float = 0.15) -> pv.StructuredGrid:
    """A 2D image as a surface whose height follows intensity (for 2D scans in the 3D view).

    Args:
        image: grey display image ``(rows, cols)`` (any dtype); row 0 is the top of the image.
        max_side: longest side after subsampling, pixels (keeps the browser payload small).
        relief_fraction: maximum height as a fraction of the image width.

    Returns:
        A grid in the x/y plane (x = column, y = up the image) with point data "intensity"
        in 0..1, warped along +z.
    """
    img = np.asarray(image, dtype=np.float32)
    step = max(1, int(np.ceil(max(img.shape) / max_side)))
    img = img[::step, ::step]
    lo, hi = np.nanpercentile(img, [1, 99]) if img.size else (0.0, 1.0)
    norm = np.clip((img - lo) / max(float(hi - lo), 1e-6), 0.0, 1.0)
    norm = np.nan_to_num(norm)
    rows, cols = norm.shape
    # Flip rows so the top of the image is at +y (upright when seen from +z).
    flipped = norm[::-1, :]
    grid = pv.ImageData(dimensions=(cols, rows, 1), spacing=(1.0, 1.0, 1.0))
    grid.point_data["intensity"] = flipped.ravel(order="C")  # x (columns) varies fastest
    return grid.warp_by_scalar("intensity", factor=relief_fraction * cols)


def new_plotter(window_size: tuple[int, int] = WINDOW_SIZE) -> pv.Plotter:
    """An off-screen plotter with the house background."""
    plotter = pv.Plotter(off_screen=True, window_size=list(window_size))
    plotter.set_background(BACKGROUND)
    return plotter


def head_scene(
    volume: np.ndarray,
    spacing_mm: Sequence[float],
    *,
    volume_rendering: bool = False,
    structures: Sequence[LabelMesh] = (),
    head_opacity: float | None = None,
    window_size: tuple[int, int] = WINDOW_SIZE,
) -> pv.Plotter:
    """A plotter with the head surface, optional volume rendering and coloured structures.

    Args:
        volume: ``(X, Y, Z)`` intensities in RAS+ at full resolution (downsampled here).
        spacing_mm: voxel size of ``volume``.
        volume_rendering: add a translucent volume rendering of the intensities.
        structures: label meshes (e.g. hippocampi, ventricles) drawn inside the head; their
            coordinates must share the grid of ``volume`` (see :func:`label_meshes`).
        head_opacity: opacity of the surface; translucent by default when structures or a
            volume rendering must show through.
        window_size: plotter size in pixels (height sets the frame height on the page).
    """
    small, small_spacing = downsample_volume(volume, spacing_mm)
    plotter = new_plotter(window_size)
    if head_opacity is None:
        head_opacity = 0.25 if (structures or volume_rendering) else 1.0
    surface = isosurface(small, small_spacing)
    plotter.add_mesh(surface, color="#e8c4a8", opacity=head_opacity, smooth_shading=True, name="head")
    if volume_rendering:
        grid = to_image_data(small.astype(np.float32), small_spacing)
        lo, hi = np.percentile(small, [50, 99.5])
        plotter.add_volume(grid, scalars="values", cmap="bone", opacity="sigmoid", clim=(float(lo), float(hi)),
                           show_scalar_bar=False, name="volume")
    for item in structures:
        plotter.add_mesh(item.mesh, color=item.color, opacity=item.opacity, smooth_shading=True, name=item.name)
    orient_head_camera(plotter)
    return plotter


def image_scene(image: np.ndarray, *, window_size: tuple[int, int] = WINDOW_SIZE) -> pv.Plotter:
    """A plotter with a 2D image shown as a height field coloured by intensity."""
    plotter = new_plotter(window_size)
    plotter.add_mesh(height_field(image), scalars="intensity", cmap="gray", show_scalar_bar=False,
                     smooth_shading=True, name="image")
    plotter.view_xy()
    plotter.camera.Elevation(-35)  # tilt so the relief is visible
    plotter.reset_camera()
    return plotter


def orient_head_camera(plotter: pv.Plotter) -> None:
    """Look at the face from the front-left, superior up (RAS+: +y anterior, +z superior)."""
    plotter.camera_position = "yz"
    plotter.camera.Azimuth(-35)  # from the patient's front-right, a classic oblique view
    plotter.camera.Elevation(15)
    plotter.reset_camera()


def screenshot(plotter: pv.Plotter) -> np.ndarray:
    """Render a plotter off screen to an RGB ``uint8`` array (reports, tests)."""
    return np.asarray(plotter.screenshot(return_img=True))


__all__ = [
    "MAX_SIDE_3D",
    "MAX_FACES",
    "LabelMesh",
    "downsample_volume",
    "to_image_data",
    "foreground_level",
    "isosurface",
    "label_meshes",
    "height_field",
    "new_plotter",
    "head_scene",
    "image_scene",
    "orient_head_camera",
    "screenshot",
]
