"""2D rendering: window/level, orthogonal slices, label and heat-map overlays, boxes, montages.

Display conventions (radiological, as on a reading workstation):

* axial:    patient's right on the viewer's left, anterior up;
* coronal:  patient's right on the viewer's left, superior up;
* sagittal: anterior on the viewer's left, superior up.

Volumes arrive in RAS+ (``+X`` right, ``+Y`` anterior, ``+Z`` superior), so every plane is
"transpose, then flip both axes": rows run from the largest to the smallest second axis,
columns from the largest to the smallest first axis. 2D images are never reoriented
(``core.preprocess.to_display_2d`` gives them as stored) and do not go through
:func:`orthogonal_slice`.

All functions are pure NumPy/PIL and return new arrays; images are ``uint8`` RGB
``(rows, cols, 3)`` unless said otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Literal, Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

Plane = Literal["axial", "coronal", "sagittal"]
PLANES: tuple[Plane, ...] = ("axial", "coronal", "sagittal")
# Index of the volume axis that a plane cuts through (X=0 sagittal, Y=1 coronal, Z=2 axial).
PLANE_AXIS: dict[str, int] = {"sagittal": 0, "coronal": 1, "axial": 2}

# Distinguishable colours (Okabe-Ito, colour-blind safe) for label overlays and legends.
OKABE_ITO: tuple[tuple[int, int, int], ...] = (
    (230, 159, 0),
    (86, 180, 233),
    (0, 158, 115),
    (240, 228, 66),
    (0, 114, 178),
    (213, 94, 0),
    (204, 121, 167),
    (153, 153, 153),
)


@dataclass(frozen=True)
class Window:
    """Display window: intensities ``center +- width/2`` map to black..white."""

    center: float
    width: float

    @property
    def low(self) -> float:
        return self.center - self.width / 2.0

    @property
    def high(self) -> float:
        return self.center + self.width / 2.0


def auto_window(values: np.ndarray, low_pct: float = 1.0, high_pct: float = 99.0) -> Window:
    """A robust default window from percentiles of the finite, non-background values.

    Background (the most common value, usually 0 in MR) is ignored when it dominates so
    that the window describes tissue, not air.

    Args:
        values: any array of intensities.
        low_pct: percentile mapped to black.
        high_pct: percentile mapped to white.
    """
    flat = np.asarray(values, dtype=np.float32).ravel()
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return Window(0.0, 1.0)
    if flat.size > 2_000_000:  # percentiles of a strided subset are indistinguishable and 10x cheaper
        flat = flat[:: flat.size // 1_000_000]
    vmin = float(flat.min())
    foreground = flat[flat > vmin]
    if foreground.size > 0.05 * flat.size:
        flat = foreground
    lo, hi = np.percentile(flat, [low_pct, high_pct])
    width = float(hi - lo)
    if width <= 0:
        width = max(abs(float(hi)), 1.0)
    return Window(center=float(lo + hi) / 2.0, width=width)


def apply_window(image: np.ndarray, window: Window) -> np.ndarray:
    """Map intensities through a window to ``uint8`` grey levels (same shape as ``image``)."""
    width = max(float(window.width), 1e-6)
    scaled = (np.asarray(image, dtype=np.float32) - window.low) / width
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=1.0, neginf=0.0)
    return (np.clip(scaled, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def slice_count(shape: Sequence[int], plane: Plane) -> int:
    """Number of slices of a ``(X, Y, Z)`` volume along ``plane``."""
    return int(shape[PLANE_AXIS[plane]])


def _plane_pixel_mm(spacing_mm: Sequence[float], plane: Plane) -> tuple[float, float]:
    """(row, column) pixel size in mm of a displayed plane."""
    sx, sy, sz = (float(v) for v in spacing_mm)
    return {"axial": (sy, sx), "coronal": (sz, sx), "sagittal": (sz, sy)}[plane]


def orthogonal_slice(
    volume: np.ndarray,
    plane: Plane,
    index: int,
    spacing_mm: Sequence[float] | None = None,
    *,
    labels: bool = False,
) -> np.ndarray:
    """One plane of a RAS+ ``(X, Y, Z)`` volume, oriented for radiological display.

    Args:
        volume: 3D array ``(X, Y, Z)`` in RAS+ (one channel of ``Scan.array``).
        plane: "axial", "coronal" or "sagittal".
        index: slice index along the plane's axis (clipped to the valid range).
        spacing_mm: voxel size; when given and anisotropic, the slice is resampled so that
            displayed pixels are square (a 5 mm-slice coronal view is not squashed).
        labels: the volume holds integer labels; resample with nearest neighbour.

    Returns:
        2D array ``(rows, cols)`` of the volume's dtype (float32 after resampling).
    """
    if volume.ndim != 3:
        raise ValueError(f"expected a 3D (X, Y, Z) volume, got shape {volume.shape}")
    axis = PLANE_AXIS[plane]
    index = int(np.clip(index, 0, volume.shape[axis] - 1))
    cut = np.take(volume, index, axis=axis)  # 2D: remaining axes in order
    image = cut.T[::-1, ::-1]
    if spacing_mm is not None:
        image = _square_pixels(image, _plane_pixel_mm(spacing_mm, plane), order=0 if labels else 1)
    return np.ascontiguousarray(image)


def _square_pixels(image: np.ndarray, pixel_mm: tuple[float, float], order: int) -> np.ndarray:
    """Resample ``image`` to square pixels, keeping the physical aspect ratio exact.

    The new pixel side is the smaller of the two, but never below a quarter of the larger,
    so a thick-slice plane is upsampled at most 4x (the fine axis is then shrunk instead).
    """
    row_mm, col_mm = pixel_mm
    if row_mm <= 0 or col_mm <= 0 or abs(row_mm - col_mm) / max(row_mm, col_mm) < 0.02:
        return image
    target = max(min(row_mm, col_mm), max(row_mm, col_mm) / 4.0)
    zoom = (row_mm / target, col_mm / target)
    from scipy.ndimage import zoom as nd_zoom

    return nd_zoom(image.astype(np.float32), zoom, order=order, mode="nearest", grid_mode=True)


def to_rgb(gray_u8: np.ndarray) -> np.ndarray:
    """Grey ``uint8`` (rows, cols) -> RGB ``uint8`` (rows, cols, 3); RGB input is returned as is."""
    gray_u8 = np.asarray(gray_u8)
    if gray_u8.ndim == 3 and gray_u8.shape[2] == 3:
        return gray_u8.astype(np.uint8, copy=False)
    return np.repeat(gray_u8[..., None], 3, axis=2).astype(np.uint8)


def label_colors(label_values: Iterable[int]) -> dict[int, tuple[int, int, int]]:
    """Stable colours for integer labels (0 is background and gets none)."""
    values = sorted(int(v) for v in label_values if int(v) != 0)
    return {v: OKABE_ITO[i % len(OKABE_ITO)] for i, v in enumerate(values)}


def overlay_labels(
    image: np.ndarray,
    label_map: np.ndarray,
    colors: Mapping[int, tuple[int, int, int]],
    alpha: float = 0.45,
    *,
    outline: bool = False,
) -> np.ndarray:
    """Blend coloured label regions onto an image.

    Args:
        image: grey ``uint8`` (rows, cols) or RGB (rows, cols, 3).
        label_map: integer labels of the same (rows, cols); 0 is background.
        colors: label value -> RGB; labels without a colour are not drawn.
        alpha: opacity of the fill (0..1).
        outline: also draw the region border at full opacity.
    """
    rgb = to_rgb(image).astype(np.float32)
    label_map = np.asarray(label_map)
    if label_map.shape != rgb.shape[:2]:
        raise ValueError(f"label map {label_map.shape} does not match image {rgb.shape[:2]}")
    alpha = float(np.clip(alpha, 0.0, 1.0))
    for value, color in colors.items():
        mask = label_map == value
        if not mask.any():
            continue
        rgb[mask] = (1 - alpha) * rgb[mask] + alpha * np.asarray(color, dtype=np.float32)
        if outline:
            rgb[_border(mask)] = color
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def _border(mask: np.ndarray) -> np.ndarray:
    from scipy.ndimage import binary_erosion

    return mask & ~binary_erosion(mask)


def legend_html(entries: Mapping[str, tuple[int, int, int]]) -> str:
    """Compact HTML legend (coloured squares + names) for use beside an overlay."""
    items = [
        f'<span style="display:inline-block;margin-right:1em;white-space:nowrap">'
        f'<span style="display:inline-block;width:0.9em;height:0.9em;background:{rgb_to_hex(c)};'
        f'border:1px solid #555;margin-right:0.35em;vertical-align:middle"></span>{_escape(name)}</span>'
        for name, c in entries.items()
    ]
    return "".join(items)


def rgb_to_hex(color: Sequence[int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in color[:3]))


def _escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def overlay_heatmap(
    image: np.ndarray,
    heat: np.ndarray,
    opacity: float = 0.4,
    cmap: str = "jet",
    *,
    min_value: float = 0.0,
) -> np.ndarray:
    """Blend a heat map (e.g. Grad-CAM, values 0..1) onto an image.

    Args:
        image: grey ``uint8`` (rows, cols) or RGB.
        heat: (h, w) map in 0..1; resized bilinearly to the image when shapes differ.
        opacity: maximum opacity of the heat colours (0..1).
        cmap: matplotlib colormap name.
        min_value: heat below this is not drawn, so cold regions keep the anatomy visible.
    """
    from matplotlib import colormaps

    rgb = to_rgb(image).astype(np.float32)
    heat = np.nan_to_num(np.asarray(heat, dtype=np.float32), nan=0.0)
    if heat.shape != rgb.shape[:2]:
        heat = np.asarray(
            Image.fromarray(heat).resize((rgb.shape[1], rgb.shape[0]), Image.Resampling.BILINEAR), dtype=np.float32
        )
    heat = np.clip(heat, 0.0, 1.0)
    colors = colormaps[cmap](heat)[..., :3] * 255.0
    weight = (float(np.clip(opacity, 0.0, 1.0)) * (heat >= min_value))[..., None]
    blended = (1 - weight) * rgb + weight * colors
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


@lru_cache(maxsize=8)
def _font(size_px: int) -> ImageFont.ImageFont:
    """DejaVuSans from matplotlib (installed, offline); PIL's bitmap font otherwise."""
    try:
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
        return ImageFont.truetype(str(path), size_px)
    except (ImportError, OSError):
        return ImageFont.load_default()


def draw_boxes(
    image: np.ndarray,
    boxes: Sequence[object],
    colors: Mapping[str, tuple[int, int, int]] | None = None,
    *,
    line_px: int | None = None,
) -> np.ndarray:
    """Draw detection boxes with "label score" captions.

    Args:
        image: grey ``uint8`` or RGB, in display orientation (boxes use its columns/rows).
        boxes: objects with ``label, score, x0, y0, x1, y1`` (``core.types.Box``).
        colors: label -> RGB; labels without one get palette colours in order of appearance.
        line_px: line width; defaults to ~0.4% of the image size (at least 2 px).
    """
    canvas = Image.fromarray(to_rgb(image))
    draw = ImageDraw.Draw(canvas)
    size = max(canvas.size)
    width = line_px or max(2, round(size * 0.004))
    font = _font(max(12, round(size * 0.022)))
    palette = dict(colors or {})
    for box in boxes:
        label = str(getattr(box, "label"))
        if label not in palette:
            palette[label] = OKABE_ITO[len(palette) % len(OKABE_ITO)]
        color = tuple(palette[label])
        x0, y0, x1, y1 = (float(getattr(box, k)) for k in ("x0", "y0", "x1", "y1"))
        draw.rectangle([x0, y0, x1, y1], outline=color, width=width)
        caption = f"{label} {float(getattr(box, 'score')):.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), caption, font=font)
        text_w, text_h = right - left, bottom - top
        ty = y0 - text_h - 2 * width if y0 - text_h - 2 * width >= 0 else y1 + width
        draw.rectangle([x0, ty, x0 + text_w + 2 * width, ty + text_h + 2 * width], fill=color)
        draw.text((x0 + width - left, ty + width - top), caption, fill=(0, 0, 0), font=font)
    return np.asarray(canvas)


def montage(images: Sequence[np.ndarray], ncols: int = 4, pad_px: int = 2, background: int = 0) -> np.ndarray:
    """Tile images (grey or RGB, any sizes) into one RGB grid; cells take the largest size."""
    if not images:
        raise ValueError("montage needs at least one image")
    tiles = [to_rgb(np.asarray(img, dtype=np.uint8)) for img in images]
    cell_h = max(t.shape[0] for t in tiles)
    cell_w = max(t.shape[1] for t in tiles)
    ncols = max(1, min(ncols, len(tiles)))
    nrows = -(-len(tiles) // ncols)
    out = np.full(
        (nrows * cell_h + (nrows + 1) * pad_px, ncols * cell_w + (ncols + 1) * pad_px, 3), background, dtype=np.uint8
    )
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncols)
        top = pad_px + r * (cell_h + pad_px) + (cell_h - tile.shape[0]) // 2
        left = pad_px + c * (cell_w + pad_px) + (cell_w - tile.shape[1]) // 2
        out[top : top + tile.shape[0], left : left + tile.shape[1]] = tile
    return out


def fit_within(image: np.ndarray, max_side_px: int) -> np.ndarray:
    """Downscale (never upscale) an RGB/grey ``uint8`` image so its longer side is at most ``max_side_px``."""
    rows, cols = image.shape[:2]
    scale = max_side_px / max(rows, cols)
    if scale >= 1:
        return image
    size = (max(1, round(cols * scale)), max(1, round(rows * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


__all__ = [
    "PLANES",
    "PLANE_AXIS",
    "OKABE_ITO",
    "Window",
    "auto_window",
    "apply_window",
    "slice_count",
    "orthogonal_slice",
    "to_rgb",
    "label_colors",
    "overlay_labels",
    "legend_html",
    "rgb_to_hex",
    "overlay_heatmap",
    "draw_boxes",
    "montage",
    "fit_within",
]
