"""Identify a file's format: magic bytes first, file-name suffix second.

The content decides which decoder runs. The suffix is only used when the content
has no recognisable signature (e.g. a DICOM file written without its 128-byte
preamble) and to notice when a name promises something the content is not.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

# Format names shared with Scan.meta["format"] (zip is a container of DICOM slices).
DICOM, NIFTI, MGZ, PNG, JPEG, ZIP = "dicom", "nifti", "mgz", "png", "jpeg", "zip"
VOLUME_FORMATS = frozenset({NIFTI, MGZ, ZIP})
RASTER_FORMATS = frozenset({PNG, JPEG})

_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".nii.gz", NIFTI), (".nii", NIFTI), (".mgz", MGZ), (".mgh", MGZ), (".dcm", DICOM),
    (".dicom", DICOM), (".ima", DICOM), (".png", PNG), (".jpg", JPEG), (".jpeg", JPEG), (".zip", ZIP),
)

# Signatures of formats RadLens does not read, so the refusal can name what the file is.
_OTHER_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"), (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"),
    (b"BM", "a BMP image"), (b"GIF8", "a GIF image"), (b"\x89HDF", "an HDF5 file"),
    (b"Rar!", "a RAR archive"), (b"7z\xbc\xaf", "a 7-Zip archive"), (b"PAR1", "a Parquet file"),
    (b"\x93NUMPY", "a NumPy array file"), (b"\xff\xfe", "a UTF-16 text file"),
)

_DICOM_GROUPS_WITHOUT_PREAMBLE = {0x0002, 0x0008}


@dataclass(frozen=True)
class Detection:
    """Result of format detection.

    Attributes:
        format: one of ``dicom nifti mgz png jpeg zip`` or None when unknown.
        by: ``"magic"`` or ``"suffix"`` (how the format was decided), or ``""`` when unknown.
        suffix_format: the format the file name suggests, or None.
        compressed: the content is gzip-compressed (NIfTI .nii.gz, .mgz).
        description: for unknown content, what it looks like (``"a PDF document"``), else ``""``.
    """

    format: str | None
    by: str
    suffix_format: str | None
    compressed: bool = False
    description: str = ""


def suffix_format(name: str) -> str | None:
    """Format implied by a file name's suffix, or None."""
    low = name.lower()
    for suffix, fmt in _SUFFIXES:
        if low.endswith(suffix):
            return fmt
    return None


def _gunzip_head(head: bytes, n: int = 1024) -> bytes:
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, n)
    except zlib.error:
        return b""


def _is_nifti_header(raw: bytes) -> bool:
    if len(raw) >= 348:
        for endian in "<>":
            size = struct.unpack(endian + "i", raw[:4])[0]
            if size == 348 and raw[344:348] in (b"n+1\x00", b"ni1\x00"):
                return True
            if size == 540 and raw[4:8] in (b"n+2\x00", b"ni2\x00"):
                return True
    return False


def _is_mgh_header(raw: bytes) -> bool:
    # FreeSurfer MGH: big-endian int32 version == 1, then width, height, depth, frames, type.
    if len(raw) < 28:
        return False
    version, w, h, d, frames, dtype = struct.unpack(">6i", raw[:24])
    return version == 1 and all(0 < v < 100_000 for v in (w, h, d, frames)) and dtype in (0, 1, 3, 4)


def _is_dicom_without_preamble(head: bytes) -> bool:
    # Some old files start directly with a little-endian (group, element) pair.
    if len(head) < 8:
        return False
    group = struct.unpack("<H", head[:2])[0]
    if group not in _DICOM_GROUPS_WITHOUT_PREAMBLE:
        return False
    vr = head[4:6]
    return vr.isalpha() and vr.isupper() or struct.unpack("<I", head[4:8])[0] < 4096


def sniff(head: bytes) -> tuple[str | None, bool]:
    """Format from magic bytes alone: ``(format or None, gzip-compressed)``."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return DICOM, False
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG, False
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG, False
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ZIP, False
    if head.startswith(b"\x1f\x8b"):
        raw = _gunzip_head(head)
        if _is_nifti_header(raw):
            return NIFTI, True
        if _is_mgh_header(raw):
            return MGZ, True
        return None, True
    if _is_nifti_header(head):
        return NIFTI, False
    if _is_mgh_header(head):
        return MGZ, False
    if _is_dicom_without_preamble(head):
        return DICOM, False
    return None, False


def describe_unknown(head: bytes, compressed: bool = False) -> str:
    """A short guess at what unsupported content is, for the refusal message."""
    if not head:
        return "an empty file"
    if compressed:
        return "a gzip-compressed file that is not NIfTI or MGZ"
    for sig, what in _OTHER_SIGNATURES:
        if head.startswith(sig):
            return what
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    sample = head[:4096]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text and sum(ch.isprintable() or ch in "\r\n\t" for ch in text) >= 0.95 * len(text):
        return "a text file"
    if not any(sample):
        return "a file of zero bytes only"
    return "data of an unknown kind"


def detect(head: bytes, name: str = "") -> Detection:
    """Decide the format from the first bytes and (second) the file name."""
    by_suffix = suffix_format(name) if name else None
    fmt, compressed = sniff(head)
    if fmt is not None:
        return Detection(fmt, "magic", by_suffix, compressed)
    return Detection(None, "", by_suffix, compressed, describe_unknown(head, compressed))


__all__ = ["Detection", "detect", "sniff", "suffix_format", "describe_unknown", "DICOM", "NIFTI", "MGZ",
           "PNG", "JPEG", "ZIP", "VOLUME_FORMATS", "RASTER_FORMATS"]
