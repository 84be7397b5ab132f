"""Non-medical images for training and evaluating the input gate.

Sources that need no download: scikit-image's bundled photographs (split into a training
and a held-out evaluation list), text "screenshots" rendered with PIL ImageDraw and a font
that ships with matplotlib, random noise of several kinds, near-blank gradients, charts and
geometric drawings. Every generator is deterministic per seed.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import ndimage

from core.synth._fields import smooth_field

#: scikit-image photographs used for training ...
TRAIN_PHOTOS: tuple[str, ...] = ("astronaut", "camera", "chelsea", "cat", "brick", "grass", "gravel", "clock",
                                 "colorwheel", "hubble_deep_field", "immunohistochemistry", "retina", "cell",
                                 "logo", "page", "text", "stereo_motorcycle:0")
#: ... and held out for evaluating false accepts on photographs the gate never saw.
EVAL_PHOTOS: tuple[str, ...] = ("coffee", "rocket", "coins", "moon", "horse", "stereo_motorcycle:1")

_WORDS = ("patient report scan image result normal abnormal study series left right anterior posterior "
          "the of and to in is for on with as by at from this that be are was were import def return class "
          "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore "
          "total score value mean median figure table data model error warning click here submit cancel").split()


@lru_cache(maxsize=32)
def load_photo(name: str) -> np.ndarray:
    """A scikit-image photograph as float32 RGB ``(rows, cols, 3)`` in 0..1 (``"name:k"`` picks item k)."""
    import skimage.data

    base, _, item = name.partition(":")
    img = getattr(skimage.data, base)()
    if isinstance(img, tuple):
        img = img[int(item or 0)]
    img = np.asarray(img)
    if img.dtype == bool:
        img = img.astype(np.float32)
    img = img.astype(np.float32)
    if img.max() > 1.0:
        img = img / 255.0
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    out = np.ascontiguousarray(img[:, :, :3], dtype=np.float32)
    out.setflags(write=False)  # cached: callers must copy before changing it
    return out


def _font_path() -> Path | None:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return path if path.exists() else None


def text_screenshot(seed: int, size: int = 192) -> np.ndarray:
    """A rendered text page / UI screenshot, float32 RGB ``(size, size, 3)`` in 0..1."""
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(seed)
    dark = rng.random() < 0.3
    bg = tuple(int(v) for v in (rng.integers(0, 50, 3) if dark else rng.integers(200, 256, 3)))
    fg = tuple(int(v) for v in (rng.integers(180, 256, 3) if dark else rng.integers(0, 90, 3)))
    im = Image.new("RGB", (size * 2, size * 2), bg)
    draw = ImageDraw.Draw(im)
    font_file = _font_path()
    y = int(rng.integers(2, 20))
    while y < size * 2 - 10:
        font_px = int(rng.integers(10, 30))
        font = ImageFont.truetype(str(font_file), font_px) if font_file else ImageFont.load_default()
        words = " ".join(rng.choice(_WORDS, size=int(rng.integers(3, 12))))
        if rng.random() < 0.15:  # a title bar or button
            draw.rectangle([0, y, size * 2, y + font_px + 6], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        draw.text((int(rng.integers(2, 40)), y), words, fill=fg, font=font)
        y += font_px + int(rng.integers(4, 16))
    arr = np.asarray(im.resize((size, size)), dtype=np.float32) / 255.0
    return arr


def noise_image(seed: int, size: int = 160) -> np.ndarray:
    """Uniform, Gaussian, salt-and-pepper, smooth (cloud) or coloured noise; float32 RGB 0..1."""
    rng = np.random.default_rng(seed)
    kind = int(rng.integers(5))
    if kind == 0:
        g = rng.uniform(0, 1, (size, size))
    elif kind == 1:
        g = rng.normal(0.5, rng.uniform(0.1, 0.3), (size, size))
    elif kind == 2:
        g = (rng.random((size, size)) < rng.uniform(0.05, 0.5)).astype(np.float32)
    elif kind == 3:
        g = 0.5 + 0.2 * smooth_field(rng, (size, size), float(rng.uniform(2, 20)))
    else:
        rgb = rng.uniform(0, 1, (size, size, 3)).astype(np.float32)
        return ndimage.gaussian_filter(rgb, (rng.uniform(0, 3), rng.uniform(0, 3), 0)).clip(0, 1)
    g = np.clip(g, 0, 1).astype(np.float32)
    return np.repeat(g[:, :, None], 3, axis=2)


def near_blank(seed: int, size: int = 160) -> np.ndarray:
    """A nearly uniform image: flat grey with a faint gradient, speck or vignette; float32 RGB 0..1."""
    rng = np.random.default_rng(seed)
    vv, uu = np.mgrid[0:1:size * 1j, 0:1:size * 1j]
    level = rng.uniform(0, 1)
    g = level + rng.uniform(-0.03, 0.03) * (uu * rng.uniform(-1, 1) + vv * rng.uniform(-1, 1))
    g += rng.normal(0, rng.uniform(0, 0.01), g.shape)
    if rng.random() < 0.3:
        r, c = rng.integers(10, size - 10, 2)
        g[r - 3:r + 3, c - 3:c + 3] = 1 - level
    return np.repeat(np.clip(g, 0, 1)[:, :, None], 3, axis=2).astype(np.float32)


def drawing(seed: int, size: int = 160) -> np.ndarray:
    """Charts, geometric shapes, checkerboards or blobs; float32 RGB 0..1."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(im)
    kind = int(rng.integers(4))
    if kind == 0:  # bar / line chart
        n = int(rng.integers(4, 12))
        vals = rng.uniform(0.1, 0.9, n)
        w = size / (n + 1)
        for i, v in enumerate(vals):
            draw.rectangle([int((i + 0.5) * w), int(size * (1 - v)), int((i + 1.2) * w), size - 5],
                           fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
        pts = [(int(x), int(y)) for x, y in zip(np.linspace(0, size, 20), rng.uniform(0, size, 20))]
        draw.line(pts, fill=tuple(int(c) for c in rng.integers(0, 256, 3)), width=2)
    elif kind == 1:  # shapes
        for _ in range(int(rng.integers(3, 15))):
            x0, y0 = rng.integers(0, size, 2)
            x1, y1 = x0 + rng.integers(5, size // 2), y0 + rng.integers(5, size // 2)
            col = tuple(int(c) for c in rng.integers(0, 256, 3))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([int(x0), int(y0), int(x1), int(y1)], fill=col)
    elif kind == 2:  # checkerboard / stripes
        k = int(rng.integers(4, 24))
        vv, uu = np.mgrid[:size, :size]
        g = (((uu // k) + (vv // k)) % 2) if rng.random() < 0.5 else ((uu // k) % 2)
        return np.repeat(g[:, :, None].astype(np.float32), 3, axis=2)
    else:  # binary blobs
        from skimage.data import binary_blobs

        g = binary_blobs(length=size, blob_size_fraction=float(rng.uniform(0.05, 0.2)),
                         volume_fraction=float(rng.uniform(0.2, 0.6)), rng=int(rng.integers(1 << 30)))
        return np.repeat(g[:, :, None].astype(np.float32), 3, axis=2)
    return np.asarray(im, dtype=np.float32) / 255.0


def augment_photo(img: np.ndarray, rng: np.random.Generator, size: int = 160) -> np.ndarray:
    """Random crop, flip, grayscale and colour jitter of a photograph; float32 RGB ``(size, size, 3)``."""
    from skimage.transform import resize

    h, w = img.shape[:2]
    scale = rng.uniform(0.3, 1.0)
    ch, cw = max(16, int(h * scale)), max(16, int(w * scale * rng.uniform(0.75, 1.33)))
    ch, cw = min(ch, h), min(cw, w)
    r0, c0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = img[r0:r0 + ch, c0:c0 + cw]
    crop = resize(crop, (size, size, 3), order=1, anti_aliasing=True)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if rng.random() < 0.4:
        crop = np.repeat(crop.mean(axis=2, keepdims=True), 3, axis=2)
    crop = crop * rng.uniform(0.7, 1.3, 3)[None, None, :] + rng.uniform(-0.1, 0.1)
    return np.clip(crop, 0, 1).astype(np.float32)


__all__ = ["TRAIN_PHOTOS", "EVAL_PHOTOS", "load_photo", "text_screenshot", "noise_image", "near_blank", "drawing",
           "augment_photo"]
