"""Image-quality checks: mostly empty, low contrast, blur, heavy noise, low resolution, cropped view.

Every measure works on a *normalised* view (long side resampled to
:data:`NORMALISED_SIDE_PX`, intensities mapped from the 1st..99th percentile to 0..1), so
thresholds do not depend on the file's bit depth or the scanner's units. Thresholds live
in :class:`core.config.Settings` (``qc_*`` fields); file-level checks (size, format,
corrupt, constant image, minimum size, spacing, non-finite values) belong to
:mod:`core.validation` and are not repeated here.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu
from skimage.measure import blur_effect as skimage_blur_effect
from skimage.transform import resize

from core.config import Settings, get_settings
from core.types import Check, Severity

#: Long side (pixels) larger views are shrunk to before measuring, so that blur and noise
#: figures are comparable between a 512 px JPEG and a 3000 px radiograph.
NORMALISED_SIDE_PX = 256


def normalise_view(image: np.ndarray, side_px: int = NORMALISED_SIDE_PX) -> np.ndarray:
    """Shrink ``image`` (rows, cols) to at most ``side_px`` on its long side and map p1..p99 to 0..1.

    Returns:
        float32 array in [0, 1]. A constant image maps to zeros.
    """
    img = np.asarray(image, dtype=np.float32)
    img = np.nan_to_num(img, nan=0.0, posinf=0.0, neginf=0.0)
    # Only shrink: upsampling a small image would itself look blurred to the blur measures.
    scale = min(1.0, side_px / max(img.shape))
    shape = (max(1, round(img.shape[0] * scale)), max(1, round(img.shape[1] * scale)))
    if shape != img.shape:
        img = resize(img, shape, order=1, preserve_range=True, anti_aliasing=scale < 1).astype(np.float32)
    lo, hi = np.percentile(img, [1.0, 99.0])
    if hi - lo <= 1e-12:
        return np.zeros_like(img)
    return np.clip((img - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def michelson_contrast(image: np.ndarray) -> float:
    """Robust Michelson contrast (p99 - p1) / (|p99| + |p1|) of the raw intensities (0..1).

    Scale-free: a washed-out 8-bit image whose values sit in 120..140 scores 0.08, a
    normal MRI (0..9000) or radiograph scores near 1.
    """
    lo, hi = np.percentile(np.asarray(image, dtype=np.float64), [1.0, 99.0])
    denom = abs(hi) + abs(lo)
    return 0.0 if denom <= 1e-12 else float((hi - lo) / denom)


def laplacian_variance(norm: np.ndarray) -> float:
    """Variance of the Laplacian of a normalised view: low means little fine detail (blur)."""
    return float(ndimage.laplace(norm.astype(np.float64)).var())


#: Immerkaer's noise-estimation mask: the difference of two Laplacians, which cancels
#: smooth image structure and keeps pixel-level noise.
_IMMERKAER_MASK = np.array([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])


def blur_effect(norm: np.ndarray) -> float:
    """No-reference blur effect of a normalised view: 0 sharp .. 1 fully blurred.

    F. Crete et al., "The blur effect: perception and estimation with a new no-reference
    perceptual blur metric", Proc. SPIE 6492, 2007 (``skimage.measure.blur_effect``). It
    compares the image with a re-blurred copy of itself, so it depends less on content
    than the Laplacian variance does (smooth radiographs score low on the latter).
    """
    return float(skimage_blur_effect(norm.astype(np.float64)))


def noise_sigma(norm: np.ndarray) -> float:
    """Gaussian noise sigma of a normalised view (0..1 units), Immerkaer's estimator on flat areas.

    J. Immerkaer, "Fast Noise Variance Estimation", Computer Vision and Image Understanding
    64(2):300-302, 1996: sigma = sqrt(pi/2) * mean |I * N| / 6. Edges also respond to the
    mask, so, following Tai & Yang (2008), only pixels whose Sobel gradient is at or below
    the median are used (a small, sharp brain slice is otherwise scored as noisy). Used
    instead of ``skimage.restoration.estimate_sigma``, which needs PyWavelets.
    """
    img = norm.astype(np.float64)
    if min(img.shape) < 3:
        return 0.0
    conv = ndimage.convolve(img, _IMMERKAER_MASK, mode="reflect")[1:-1, 1:-1]
    grad = np.hypot(ndimage.sobel(img, axis=0), ndimage.sobel(img, axis=1))[1:-1, 1:-1]
    flat = grad <= np.median(grad)
    return float(np.sqrt(np.pi / 2.0) * np.abs(conv[flat]).mean() / 6.0)


def foreground_mask(norm: np.ndarray) -> np.ndarray:
    """Otsu foreground of a normalised view (True where there is anatomy or content)."""
    if float(norm.max()) - float(norm.min()) < 1e-6:
        return np.zeros(norm.shape, dtype=bool)
    return norm > threshold_otsu(norm)


def foreground_fraction(norm: np.ndarray) -> float:
    """Fraction of pixels above the Otsu threshold."""
    return float(foreground_mask(norm).mean())


def border_foreground_fraction(norm: np.ndarray, width_px: int = 3) -> float:
    """Fraction of the image border (``width_px`` wide) covered by foreground.

    A head MRI normally sits in air; a high value means the anatomy runs off the edge.
    """
    # Tissue versus air, not bright versus dark tissue: half the Otsu level (MRI air is near 0).
    level = 0.5 * threshold_otsu(norm) if float(norm.max()) > float(norm.min()) else 1.0
    mask = ndimage.binary_opening(norm > level, iterations=1)
    w = width_px
    border = np.concatenate([mask[:w].ravel(), mask[-w:].ravel(), mask[:, :w].ravel(), mask[:, -w:].ravel()])
    return float(border.mean())


def constant_border_fraction(image: np.ndarray, tol: float = 1e-3) -> float:
    """Fraction of the image area taken by constant rows/columns at its edges (padding bars).

    Counts whole rows/columns, from each edge inwards, whose spread is below ``tol`` of
    the image's intensity range.
    """
    img = np.asarray(image, dtype=np.float64)
    rng = float(img.max() - img.min())
    if rng <= 0:
        return 1.0
    flat_rows = np.ptp(img, axis=1) <= tol * rng
    flat_cols = np.ptp(img, axis=0) <= tol * rng

    def run(flags: np.ndarray) -> int:
        return int(np.argmin(flags)) if not flags.all() else len(flags)

    top, bottom = run(flat_rows), run(flat_rows[::-1])
    left, right = run(flat_cols), run(flat_cols[::-1])
    rows_kept = max(0, img.shape[0] - top - bottom)
    cols_kept = max(0, img.shape[1] - left - right)
    return float(1.0 - (rows_kept * cols_kept) / img.size)


def range_contrast(image: np.ndarray, value_range: float) -> float:
    """(p99 - p1) / ``value_range``: the share of the file's full intensity range that is used."""
    lo, hi = np.percentile(np.asarray(image, dtype=np.float64), [1.0, 99.0])
    return float((hi - lo) / value_range) if value_range > 0 else 0.0


def measure(image: np.ndarray, value_range: float | None = None) -> dict[str, float]:
    """Every quality measure of one view (rows, cols) as plain numbers.

    ``value_range`` (e.g. 255 for an 8-bit PNG/JPEG) makes the contrast the used share of
    that range, which also catches a dark, nearly uniform image; without it the contrast is
    the scale-free Michelson contrast.
    """
    norm = normalise_view(image)
    contrast = michelson_contrast(image)
    if value_range:
        contrast = min(contrast, range_contrast(image, value_range))
    return {
        "foreground_fraction": foreground_fraction(norm),
        "contrast": contrast,
        "laplacian_variance": laplacian_variance(norm),
        "blur_effect": blur_effect(norm),
        "noise_sigma": noise_sigma(norm),
        "min_side_px": float(min(np.asarray(image).shape[:2])),
        "border_foreground_fraction": border_foreground_fraction(norm),
        "constant_border_fraction": constant_border_fraction(image),
    }


def _check(code: str, passed: bool, severity: Severity, fail_message: str, pass_message: str,
           value: float | int) -> Check:
    # The QC table (page and PDF) lists passed checks too: each says what was measured, and
    # only a failed one says what is wrong and what to upload instead.
    return Check(code, passed, severity, pass_message if passed else fail_message, value)


def assess_quality(image: np.ndarray, *, body_part: str | None = None, settings: Settings | None = None,
                   value_range: float | None = None) -> tuple[Check, ...]:
    """Run the quality checks on one displayed view.

    Args:
        image: float ``(rows, cols)`` view as displayed (see :mod:`core.gates.views`).
        body_part: expected body part, when known; the cropped-field-of-view check only
            applies to parts that are imaged surrounded by air (``"brain"``, ``"knee"`` is not).
        settings: thresholds; :func:`core.config.get_settings` by default.
        value_range: full intensity range of the file when it is fixed (255 for 8-bit rasters).

    Returns:
        One :class:`Check` per measure (passed or not). Empty, low-contrast, blurred and
        noisy views fail with ERROR; low resolution and a cropped or padded view are WARNINGs.
    """
    s = settings or get_settings()
    m = measure(image, value_range)
    # Both blur measures must agree: radiographs are smooth by nature (low Laplacian variance)
    # but not blurred relative to themselves (low blur effect).
    blurred = m["laplacian_variance"] < s.qc_min_laplacian_variance and m["blur_effect"] > s.qc_max_blur_effect
    fg, contrast, noise = m["foreground_fraction"], m["contrast"], m["noise_sigma"]
    side_px, padded, border = int(m["min_side_px"]), m["constant_border_fraction"], m["border_foreground_fraction"]
    checks = [
        _check("qc_mostly_empty", fg >= s.qc_min_foreground_fraction, Severity.ERROR,
               "The image is almost empty: less than {:.0%} of it shows any structure. Upload an image in which "
               "the anatomy fills a good part of the frame.".format(s.qc_min_foreground_fraction),
               f"Structure fills {fg:.0%} of the image (at least {s.qc_min_foreground_fraction:.0%} needed).",
               round(fg, 4)),
        _check("qc_low_contrast", contrast >= s.qc_min_contrast, Severity.ERROR,
               f"The image has very low contrast (contrast {contrast:.2f}, at least {s.qc_min_contrast:.2f} "
               "needed): it looks washed out or nearly uniform. Export it again with the full intensity range.",
               f"Contrast {contrast:.2f} (at least {s.qc_min_contrast:.2f} needed).", round(contrast, 4)),
        _check("qc_blurred", not blurred, Severity.ERROR,
               f"The image is too blurred to analyse (Laplacian variance {m['laplacian_variance']:.5f}, at least "
               f"{s.qc_min_laplacian_variance:.5f} needed; blur effect {m['blur_effect']:.2f}, at most "
               f"{s.qc_max_blur_effect:.2f}). Upload the original, not a smoothed or heavily downscaled copy.",
               f"Sharp enough (Laplacian variance {m['laplacian_variance']:.5f}, blur effect {m['blur_effect']:.2f}; "
               f"blurred means both a variance below {s.qc_min_laplacian_variance:.5f} and a blur effect above "
               f"{s.qc_max_blur_effect:.2f}).", round(m["laplacian_variance"], 6)),
        _check("qc_noisy", noise <= s.qc_max_noise_sigma, Severity.ERROR,
               f"The image is dominated by noise (noise level {noise:.3f}, at most "
               f"{s.qc_max_noise_sigma:.3f} accepted). Upload a scan with a usable signal.",
               f"Noise level {noise:.3f} (at most {s.qc_max_noise_sigma:.3f} accepted).", round(noise, 4)),
        _check("qc_low_resolution", side_px >= s.qc_recommended_min_side_px, Severity.WARNING,
               f"The image is small ({side_px} px on its short side; {s.qc_recommended_min_side_px} px "
               "or more recommended). Results are less reliable.",
               f"{side_px} px on the short side ({s.qc_recommended_min_side_px} px or more recommended).", side_px),
        _check("qc_padded", padded <= s.qc_max_constant_border_fraction, Severity.WARNING,
               f"{padded:.0%} of the image is flat padding at its edges; the anatomy "
               "occupies only part of the frame. Crop the padding for more reliable results.",
               f"{padded:.0%} of the image is flat padding (a warning above "
               f"{s.qc_max_constant_border_fraction:.0%}).", round(padded, 4)),
    ]
    if body_part == "brain":
        checks.append(
            _check("qc_cropped_field_of_view", border <= s.qc_max_border_foreground_fraction, Severity.WARNING,
                   f"The head appears cut off: anatomy touches {border:.0%} of the image "
                   "border. Parts of the brain may be missing from the field of view.",
                   f"Anatomy touches {border:.0%} of the image border (a warning above "
                   f"{s.qc_max_border_foreground_fraction:.0%}).", round(border, 4)))
    return tuple(checks)


__all__ = [
    "NORMALISED_SIDE_PX", "normalise_view", "michelson_contrast", "range_contrast", "laplacian_variance", "blur_effect", "noise_sigma",
    "foreground_fraction", "border_foreground_fraction", "constant_border_fraction", "measure", "assess_quality",
]
