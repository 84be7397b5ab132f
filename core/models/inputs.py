"""Turn a displayed 2D image into the tensor a network's :class:`InputSpec` asks for.

Trainers and tasks must use the same function so that a model sees at inference what it saw in
training: ``image_to_input(image, spec)``. The steps are fixed and recorded here:

1. robust rescale to [0, 1]: clip at the 0.5th and 99.5th percentiles (so one hot pixel or a burned-in
   label does not flatten the image), then min-max;
2. resize to ``spec.spatial_shape`` (bilinear, antialiased; aspect ratio not kept, as in the
   Kaggle/CheXpert pipelines these models imitate);
3. map [0, 1] linearly onto ``spec.value_range`` (e.g. [-1024, 1024] for torchxrayvision);
4. repeat to ``spec.channels``; subtract ``spec.mean`` and divide by ``spec.std`` when given.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from core.models.metadata import InputSpec

LOW_PERCENTILE = 0.5
HIGH_PERCENTILE = 99.5


def rescale_01(image: np.ndarray) -> np.ndarray:
    """Robustly rescale a 2D image to float32 [0, 1] (percentile clip, then min-max).

    A constant image maps to zeros.
    """
    img = np.asarray(image, dtype=np.float32)
    finite = np.isfinite(img)
    if not finite.all():
        img = np.where(finite, img, 0.0).astype(np.float32)
    lo, hi = np.percentile(img, [LOW_PERCENTILE, HIGH_PERCENTILE])
    if hi - lo < 1e-8:
        lo, hi = float(img.min()), float(img.max())
    if hi - lo < 1e-8:
        return np.zeros_like(img, dtype=np.float32)
    return np.clip((img - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def resize_2d(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear, antialiased resize of a (rows, cols) float image to ``shape`` (rows, cols)."""
    t = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None]
    if tuple(t.shape[-2:]) == tuple(shape):
        return t[0, 0].numpy().copy()
    out = F.interpolate(t, size=tuple(int(s) for s in shape), mode="bilinear", align_corners=False, antialias=True)
    return out[0, 0].numpy()


def image_to_input(image: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Prepare one grayscale 2D image (rows, cols) for a 2D network.

    Args:
        image: displayed image, any float range, shape (rows, cols).
        spec: the model's input contract.

    Returns:
        float32 array (C, H, W) with C = ``spec.channels`` and (H, W) = ``spec.spatial_shape``.
    """
    if image.ndim != 2:
        raise ValueError(f"expected a 2D (rows, cols) image, got shape {image.shape}")
    if len(spec.spatial_shape) != 2:
        raise ValueError(f"model expects a {len(spec.spatial_shape)}D input; this helper prepares 2D images only")
    x = resize_2d(rescale_01(image), spec.spatial_shape)
    x = np.clip(x, 0.0, 1.0)
    lo, hi = spec.value_range
    x = lo + x * (hi - lo)
    x = np.repeat(x[None], spec.channels, axis=0).astype(np.float32)
    if spec.mean is not None:
        x -= np.asarray(spec.mean, dtype=np.float32)[:, None, None]
    if spec.std is not None:
        x /= np.asarray(spec.std, dtype=np.float32)[:, None, None]
    return x


def image_to_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """The (rows, cols, 3) uint8 RGB image a YOLO detector sees: :func:`rescale_01` x 255, grey repeated.

    Detector trainers must write their training images through this function too.
    """
    u8 = (rescale_01(image) * 255.0 + 0.5).astype(np.uint8)
    return np.repeat(u8[..., None], 3, axis=2)
