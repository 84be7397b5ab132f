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


def _load_triton_before_opengl() -> None:
    """Import triton (torch's compiler backend) before VTK opens an OpenGL/EGL context.

    Once a VTK render window exists, Mesa's LLVM is loaded into the process, and a later
    ``import triton`` (which ``import torchvision`` triggers through torch._dynamo) crashes the
    whole process with a segmentation fault. Loading triton first avoids the clash; measured
    on this stack (vtk 9.7, torch 2.13): plotter then torchvision -> SIGSEGV, triton first -> fine.
    """
    import importlib.util

    if importlib.util.find_spec("triton") is not None:
        import triton  # noqa: F401


_load_triton_before_opengl()

import pyvista as pv  # noqa: E402  (after the render-window choice above)

MAX_SIDE_3D = 96  # voxels per side of volumes sent to the browser
MAX_FACES = 20_000  # triangles per mesh after decimation (~1.4 MB of HTML for a head)
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


def block_origin_mm(spacing_mm: Sequence[float], block_spacing_mm: Sequence[float]) -> tuple[float, float, float]:
    """Where the first block of a block-averaged grid sits on the original grid (its centre), mm.

    A block of ``f`` voxels starting at voxel 0 is centred at ``(f - 1) / 2`` voxels; placing the
    downsampled grid there keeps it aligned with meshes built on the full-resolution grid.
    """
    return tuple((float(b) / float(s) - 1.0) / 2.0 * float(s) for s, b in zip(spacing_mm, block_spacing_mm))  # type: ignore[return-value]


def to_image_data(volume: np.ndarray, spacing_mm: Sequence[float], name: str = "values",
                  origin_mm: Sequence[float] = (0.0, 0.0, 0.0)) -> pv.ImageData:
    """Wrap a ``(X, Y, Z)`` array as pyvista ImageData (point data, Fortran order as VTK expects)."""
    grid = pv.ImageData(dimensions=volume.shape, spacing=tuple(float(s) for s in spacing_mm),
                        origin=tuple(float(o) for o in origin_mm))
    grid.point_data[name] = np.asarray(volume).ravel(order="F")
    return grid


def _decimate(mesh: pv.PolyData, max_faces: int) -> pv.PolyData:
    mesh = mesh.triangulate()
    if mesh.n_cells > max_faces:
        # Quadric decimation keeps the shape far better than decimate_pro (no faceted tears).
        mesh = mesh.decimate(1.0 - max_faces / mesh.n_cells)
    return mesh


def outer_mask(volume: np.ndarray, level: float) -> np.ndarray:
    """The solid object above ``level``: largest connected component with its inner cavities filled.

    A plain iso-contour of a head also traces every sulcus, ventricle and CSF space inside it:
    hundreds of thousands of hidden triangles that cost seconds to decimate and megabytes in the
    browser. Filling the cavities leaves one closed outer surface.
    """
    from scipy import ndimage

    mask = volume >= level
    labels, n = ndimage.label(mask)
    if n > 1:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        mask = labels == int(np.argmax(sizes))
    return ndimage.binary_fill_holes(mask)


def foreground_level(volume: np.ndarray, fraction: float = 0.15) -> float:
    """Iso value of the object/air boundary: ``fraction`` of the way from the 1st to the 99th percentile.

    15% sits above MR background noise and below every tissue, so the surface is the skin of a
    head (or the outside of a skull-stripped brain); with CT's -1000 HU air it lands near the
    skin as well. Otsu's threshold was tried first and often fell between grey and white matter,
    tracing the brain's inside instead of the head.

    Raises:
        ValueError: when the volume is constant (there is no surface).
    """
    finite = volume[np.isfinite(volume)]
    if finite.size == 0 or float(finite.max()) == float(finite.min()):
        raise ValueError("volume is constant; there is no surface to extract")
    lo, hi = np.percentile(finite, [1, 99])
    if hi <= lo:  # mostly one value (e.g. a small object in empty space): use the full range
        lo, hi = float(finite.min()), float(finite.max())
    return float(lo + fraction * (hi - lo))


def isosurface(
    volume: np.ndarray,
    spacing_mm: Sequence[float],
    level: float | None = None,
    *,
    max_faces: int = MAX_FACES,
    smooth_iterations: int = 15,
    outer_only: bool = False,
    origin_mm: Sequence[float] = (0.0, 0.0, 0.0),
) -> pv.PolyData:
    """Surface of ``volume >= level`` (marching cubes), decimated and lightly smoothed.

    Args:
        volume: ``(X, Y, Z)`` intensities (already downsampled for the browser).
        spacing_mm: voxel size.
        level: iso value; :func:`foreground_level` when None (the head/air boundary).
        max_faces: triangle budget after decimation.
        smooth_iterations: Laplacian smoothing passes that hide the voxel staircase.
        outer_only: keep only the outer skin of the largest object (inner cavities filled);
            what a head or brain view needs, and far fewer triangles.
        origin_mm: position of voxel (0, 0, 0) in mm (see :func:`block_origin_mm`).

    Raises:
        ValueError: when the volume is constant or the level yields no surface.
    """
    vol = np.nan_to_num(np.asarray(volume, dtype=np.float32))
    level = foreground_level(vol) if level is None else float(level)
    if outer_only:
        from scipy.ndimage import gaussian_filter

        # Smoothed solid mask contoured at 0.5: one closed, staircase-free outer surface.
        vol = gaussian_filter(outer_mask(vol, level).astype(np.float32), sigma=0.8)
        level = 0.5
    # Pad with the minimum so the surface closes at the volume border instead of leaving holes.
    padded = np.pad(vol, 1, mode="constant", constant_values=float(vol.min()))
    grid = to_image_data(padded, spacing_mm)
    surface = grid.contour([level], scalars="values", method="flying_edges")
    if surface.n_points == 0:
        raise ValueError(f"no surface at level {level:g}")
    # Undo the padding offset and place voxel (0, 0, 0) at origin_mm.
    surface = surface.translate([float(o) - float(s) for o, s in zip(origin_mm, spacing_mm)], inplace=False)
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


@dataclass(frozen=True)
class HeadModel:
    """What a head scene needs, computed once per scan (cache it): outer surface + small volume."""

    surface: pv.PolyData
    volume: np.ndarray  # downsampled intensities (X, Y, Z)
    spacing_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)  # centre of the first block, full-grid mm


def prepare_head(volume: np.ndarray, spacing_mm: Sequence[float], max_side: int = MAX_SIDE_3D) -> HeadModel:
    """Downsample a ``(X, Y, Z)`` RAS+ volume for the browser and extract its outer surface.

    Raises:
        ValueError: when the volume is constant (no surface).
    """
    small, small_spacing = downsample_volume(volume, spacing_mm, max_side)
    origin = block_origin_mm(spacing_mm, small_spacing)
    surface = isosurface(small, small_spacing, outer_only=True, origin_mm=origin)
    return HeadModel(surface, small.astype(np.float32), small_spacing, origin)


# Volume-rendering opacity ramp over the 5th..99.5th percentile: air and dark tissue invisible,
# only the brightest tissue (white matter, fat) builds up, so the brain shows through the scalp.
VOLUME_OPACITY = [0.0, 0.0, 0.0, 0.05, 0.3]


def head_plotter(
    head: HeadModel,
    *,
    volume_rendering: bool = False,
    structures: Sequence[LabelMesh] = (),
    head_opacity: float | None = None,
    window_size: tuple[int, int] = WINDOW_SIZE,
) -> pv.Plotter:
    """A plotter with the head surface, optional volume rendering and coloured structures.

    Args:
        head: from :func:`prepare_head`.
        volume_rendering: add a translucent volume rendering of the intensities.
        structures: label meshes (e.g. hippocampi, ventricles) drawn inside the head; build them
            with :func:`label_meshes` on the same grid as the volume given to :func:`prepare_head`
            (full-resolution labels and spacing are fine: coordinates are in mm).
        head_opacity: opacity of the surface; translucent by default when structures or a
            volume rendering must show through.
        window_size: plotter size in pixels (height sets the frame height on the page).
    """
    plotter = new_plotter(window_size)
    if head_opacity is None:
        head_opacity = 0.12 if volume_rendering else (0.25 if structures else 1.0)
    plotter.add_mesh(head.surface, color="#e8c4a8", opacity=head_opacity, smooth_shading=True, name="head")
    if volume_rendering:
        lo, hi = np.percentile(head.volume, [5, 99.5])
        plotter.add_volume(to_image_data(head.volume, head.spacing_mm, origin_mm=head.origin_mm), scalars="values", cmap="bone",
                           opacity=VOLUME_OPACITY, clim=(float(lo), float(hi)), show_scalar_bar=False, name="volume")
    for item in structures:
        plotter.add_mesh(item.mesh, color=item.color, opacity=item.opacity, smooth_shading=True, name=item.name)
    orient_head_camera(plotter)
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
    """:func:`prepare_head` + :func:`head_plotter` in one call (no caching)."""
    return head_plotter(prepare_head(volume, spacing_mm), volume_rendering=volume_rendering, structures=structures,
                        head_opacity=head_opacity, window_size=window_size)


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
    """Look at the face from the front-right, superior up (RAS+: +x right, +y anterior, +z superior)."""
    plotter.camera_position = "yz"  # from the patient's right (+x), superior up
    plotter.camera.Azimuth(50)  # swing toward the face (+y): a front-right oblique view
    plotter.camera.Elevation(15)
    plotter.reset_camera()
    plotter.camera.Zoom(1.3)  # reset_camera leaves a wide margin


def screenshot(plotter: pv.Plotter) -> np.ndarray:
    """Render a plotter off screen to an RGB ``uint8`` array (reports, tests)."""
    return np.asarray(plotter.screenshot(return_img=True))


__all__ = [
    "MAX_SIDE_3D",
    "MAX_FACES",
    "LabelMesh",
    "downsample_volume",
    "block_origin_mm",
    "to_image_data",
    "foreground_level",
    "outer_mask",
    "isosurface",
    "label_meshes",
    "height_field",
    "new_plotter",
    "HeadModel",
    "prepare_head",
    "head_plotter",
    "head_scene",
    "image_scene",
    "orient_head_camera",
    "screenshot",
]
