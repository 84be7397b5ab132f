"""PNG (8/16-bit) and JPEG (8-bit) decoding, grey or RGB, with Pillow, from memory.

2D convention: ``array[c, x, y, 0]`` is the pixel at column x, row y as stored;
nothing is reoriented (EXIF orientation is ignored and recorded), spacing is
unknown so the affine is the identity (1 mm per pixel, marked in meta).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from core.io.decoded import Decoded
from core.io.errors import CorruptFileError, FileTooLargeError, UnknownFormatError
from core.types import Modality

_EXIF_ORIENTATION = 0x0112


def _pixels(img: Image.Image) -> tuple[np.ndarray, str]:
    """(array (rows, cols, C), colour label) from a Pillow image in any common mode."""
    mode = img.mode
    if mode in ("1", "L", "P", "LA", "PA", "I", "I;16", "I;16B", "I;16L", "F"):
        if mode in ("P", "PA"):
            rgb = img.convert("RGB")
            arr = np.asarray(rgb)
            if np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2]):
                return arr[..., :1].astype(np.float32), "grey (palette)"
            return arr.astype(np.float32), "RGB (palette)"
        if mode in ("LA",):
            img = img.convert("L")
        if mode == "1":
            img = img.convert("L")
        arr = np.asarray(img)
        return arr.astype(np.float32)[..., None], "grey"
    if mode in ("RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"):
        arr = np.asarray(img.convert("RGB"))
        return arr.astype(np.float32), "RGB"
    raise UnknownFormatError(
        f"The image uses the pixel mode '{mode}', which RadLens does not read. "
        "Accepted: PNG or JPEG, 8 or 16 bit, greyscale or RGB."
    )


def decode_raster(data: bytes, fmt: str) -> Decoded:
    """Decode PNG/JPEG bytes.

    Raises:
        CorruptFileError: truncated or malformed image data.
        FileTooLargeError: more pixels than Pillow's decompression-bomb limit.
    """
    label = "PNG" if fmt == "png" else "JPEG"
    try:
        with warnings.catch_warnings():
            # A decompression-bomb warning becomes an error: huge pixel counts are refused, not decoded.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                exif_orientation = img.getexif().get(_EXIF_ORIENTATION)
                bits = 16 if img.mode.startswith("I;16") else 32 if img.mode in ("I", "F") else 8
                mode = img.mode
                pixels, colour = _pixels(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise FileTooLargeError(
            f"The {label} image has too many pixels to decode safely ({exc}). "
            "Accepted: 2D images up to about 89 megapixels."
        ) from exc
    except UnidentifiedImageError as exc:
        raise CorruptFileError(
            f"The file starts like a {label} image but Pillow cannot decode it. "
            f"Accepted: complete, valid {label} files."
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptFileError(
            f"The {label} image is truncated or damaged ({exc}). Accepted: complete, valid {label} files; "
            "try exporting it again."
        ) from exc
    rows, cols, channels = pixels.shape
    array = np.ascontiguousarray(pixels.transpose(2, 1, 0)[..., None], dtype=np.float32)  # (C, x=col, y=row, 1)
    meta = {
        "format": fmt,
        "modality": Modality.UNKNOWN.value,
        "original_shape": [int(rows), int(cols)] + ([int(channels)] if channels > 1 else []),
        "rows": int(rows),
        "columns": int(cols),
        "bits_stored": bits,
        "pil_mode": mode,
        "colour": colour,
        "pixel_spacing_mm": None,
        "spacing_known": False,
    }
    if exif_orientation not in (None, 1):
        meta["exif_orientation_ignored"] = int(exif_orientation)
    return Decoded(array, np.eye(4), Modality.UNKNOWN, meta)


__all__ = ["decode_raster"]
