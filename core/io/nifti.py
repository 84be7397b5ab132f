"""NIfTI-1/2 (.nii, .nii.gz) and FreeSurfer MGH/MGZ decoding with nibabel, from memory.

Gzip is inflated in memory and the image is built with ``from_bytes``; nothing is
written to disk. Volumes are reoriented to the closest canonical RAS+ orientation.
"""

from __future__ import annotations

import gzip
import struct
import zlib

import nibabel as nib
import numpy as np

from core.io.decoded import Decoded
from core.io.errors import CorruptFileError, UnknownFormatError
from core.io.geometry import axis_codes, to_closest_canonical
from core.types import Modality

_MAX_CHANNELS = 4  # 4th-dimension volumes kept as channels; longer series (fMRI, DWI) keep the first volume


def _inflate(data: bytes, label: str) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptFileError(
            f"The compressed {label} file is truncated or damaged ({exc}). Accepted: complete .nii.gz / .mgz files."
        ) from exc


def _image(raw: bytes, fmt: str):
    if fmt == "mgz":
        return nib.MGHImage.from_bytes(raw), "FreeSurfer MGH/MGZ"
    size_le = struct.unpack("<i", raw[:4])[0] if len(raw) >= 4 else 0
    size_be = struct.unpack(">i", raw[:4])[0] if len(raw) >= 4 else 0
    if 540 in (size_le, size_be):
        return nib.Nifti2Image.from_bytes(raw), "NIfTI-2"
    if raw[344:348] == b"ni1\x00":
        raise UnknownFormatError(
            "This is the header half of a two-file NIfTI (.hdr/.img) pair, which RadLens cannot read from one upload. "
            "Accepted: single-file NIfTI (.nii or .nii.gz); convert the pair with e.g. `fslchfiletype NIFTI_GZ`."
        )
    return nib.Nifti1Image.from_bytes(raw), "NIfTI-1"


def decode_volume(data: bytes, fmt: str, compressed: bool) -> Decoded:
    """Decode NIfTI or MGH/MGZ bytes into a RAS+ float32 ``(C, X, Y, Z)`` volume.

    Args:
        data: the file bytes (gzip-compressed when ``compressed``).
        fmt: ``"nifti"`` or ``"mgz"``.
        compressed: whether ``data`` is gzip-compressed.

    Raises:
        CorruptFileError: truncated or inconsistent file.
        UnknownFormatError: a variant RadLens does not read (e.g. .hdr/.img pairs).
    """
    label = "MGZ" if fmt == "mgz" else "NIfTI"
    raw = _inflate(data, label) if compressed else data
    try:
        img, variant = _image(raw, fmt)
        shape = tuple(int(v) for v in img.shape)
        if len(shape) < 2 or len(shape) > 5:
            raise CorruptFileError(f"The {label} image has {len(shape)} dimensions; accepted: 2D, 3D or 4D images.")
        # Only 3 spatial axes; extra axes become channels (few) or are cut to the first volume.
        dataobj = img.dataobj
        n_extra = int(np.prod(shape[3:])) if len(shape) > 3 else 1
        if n_extra > _MAX_CHANNELS:
            vol = np.asarray(dataobj[(slice(None),) * 3 + (0,) * (len(shape) - 3)], dtype=np.float32)
            channels = vol[None]
            kept = f"first of {n_extra} volumes"
        else:
            vol = np.asarray(img.get_fdata(dtype=np.float32), dtype=np.float32)
            while vol.ndim < 3:
                vol = vol[..., None]
            vol = vol.reshape(vol.shape[:3] + (-1,))
            channels = np.moveaxis(vol, 3, 0)
            kept = f"{channels.shape[0]} volume(s)"
        affine = np.asarray(img.affine, dtype=float)
    except (ValueError, OSError, EOFError, struct.error, IndexError, zlib.error,
            nib.filebasedimages.ImageFileError) as exc:
        raise CorruptFileError(
            f"The {label} file is truncated or its header does not match its data ({exc}). "
            f"Accepted: complete {label} files whose data size matches the header."
        ) from exc
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise CorruptFileError(
            f"The {label} header has no usable orientation (its affine is singular or not finite). "
            "Accepted: files with a valid qform/sform."
        )
    original_codes = axis_codes(affine)
    # No C-order copy here: nibabel arrays are Fortran-ordered and a transposing copy of a 256^3 volume
    # costs ~1 s on 2 cores; consumers get a float32 array with whatever strides it has.
    channels, affine, changed = to_closest_canonical(np.asarray(channels, dtype=np.float32), affine)
    meta = {
        "format": "mgz" if fmt == "mgz" else "nifti",
        "variant": variant,
        "modality": Modality.UNKNOWN.value,
        "original_shape": list(shape),
        "original_orientation": original_codes,
        "reoriented_to_ras": bool(changed),
        "volumes_kept": kept,
        "on_disk_dtype": str(img.get_data_dtype()),
        "spacing_known": True,
    }
    history = (f"reorient {original_codes} -> RAS",) if changed else ()
    return Decoded(channels, affine, Modality.UNKNOWN, meta, history=history)


__all__ = ["decode_volume"]
