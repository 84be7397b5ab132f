"""Scan I/O: any supported upload -> a de-identified :class:`core.types.Scan`.

Public API::

    from core.io import load_scan, list_series, ScanError
    scan = load_scan(path_or_bytes_or_filelike_or_list, filename=None, series=None)

Formats are identified by magic bytes first and the file-name suffix second:
DICOM (single file, multi-frame, several files or a .zip = a series), NIfTI (.nii,
.nii.gz), FreeSurfer MGH/MGZ, PNG and JPEG. Everything is decoded in memory; uploads
are never written to disk. User-caused failures raise :class:`ScanError` subclasses
whose ``str()`` is the message to show.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from core.config import Settings, get_settings
from core.io import detect as fmt
from core.io.decoded import Decoded
from core.io.deid import assert_safe_meta, safe_name
from core.io.errors import (ACCEPTED_FORMATS, CorruptFileError, EmptyArchiveError, FileTooLargeError,
                            FormatMismatchError, InconsistentSeriesError, MultipleSeriesError, NoPixelDataError,
                            ScanError, UnknownFormatError, UnknownSeriesError)
from core.io.source import Source, as_sources
from core.types import Scan

log = logging.getLogger(__name__)

_MEDICAL_SUFFIX_FORMATS = {fmt.DICOM: "DICOM", fmt.NIFTI: "NIfTI", fmt.MGZ: "MGZ"}
_FORMAT_LABEL = {fmt.DICOM: "DICOM", fmt.NIFTI: "NIfTI", fmt.MGZ: "MGZ", fmt.PNG: "PNG", fmt.JPEG: "JPEG",
                 fmt.ZIP: "zip archive"}


def _mb(n: float) -> str:
    return f"{n / 1024**2:.1f} MB"


def size_limit_error(size_bytes: int, limit_bytes: int, what: str, settings: Settings) -> FileTooLargeError:
    """The message for an input above a size limit (shared with core.validation)."""
    return FileTooLargeError(
        f"The {what} is {_mb(size_bytes)}, above the limit of {_mb(limit_bytes)}. Accepted: 2D images up to "
        f"{_mb(settings.max_image_bytes)} and volumes or series up to {_mb(settings.max_volume_bytes)} "
        "(settings RADLENS_MAX_IMAGE_BYTES / RADLENS_MAX_VOLUME_BYTES)."
    )


def check_total_size(src: Source, settings: Settings) -> None:
    """Refuse by size alone (before reading the content): above the largest limit of any kind."""
    limit = max(settings.max_volume_bytes, settings.max_image_bytes)
    if src.size_bytes > limit:
        raise size_limit_error(src.size_bytes, limit, "file", settings)


def dicom_frames(src: Source) -> int:
    """NumberOfFrames from the header only (for a path, the pixel data are not read)."""
    import pydicom

    from core.io.dicom import read_dataset

    if src.path is not None and src._data is None:
        try:
            ds = pydicom.dcmread(src.path, stop_before_pixels=True, force=src.head(132)[128:132] != b"DICM")
        except (pydicom.errors.InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError) as exc:
            raise CorruptFileError(
                "The DICOM file is truncated or damaged: its header could not be read. Accepted: complete DICOM files."
            ) from exc
    else:
        ds = read_dataset(src.read(), stop_before_pixels=True)
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def is_volume_kind(src: Source, detection: fmt.Detection) -> bool:
    """Whether the size limit for volumes (True) or 2D images (False) applies, decided before decoding."""
    if detection.format in fmt.VOLUME_FORMATS:
        return True
    if detection.format == fmt.DICOM:
        return dicom_frames(src) > 1
    return False


def check_kind_size(src: Source, detection: fmt.Detection, settings: Settings) -> None:
    """Refuse a 2D image above max_image_bytes or a volume above max_volume_bytes."""
    volume = is_volume_kind(src, detection)
    limit = settings.max_volume_bytes if volume else settings.max_image_bytes
    if src.size_bytes > limit:
        raise size_limit_error(src.size_bytes, limit, "volume" if volume else "2D image", settings)


def identify(src: Source) -> fmt.Detection:
    """Detect the format of one source and refuse unknown content or a misleading name.

    Raises:
        UnknownFormatError: the content is no supported format.
        FormatMismatchError: the name promises DICOM/NIfTI/MGZ but the content is a plain PNG/JPEG.
    """
    det = fmt.detect(src.head(), src.name)
    if det.format is None:
        if det.suffix_format == fmt.DICOM and det.description == "data of an unknown kind":
            # Suffix second: a DICOM stream written without the 128-byte preamble and "DICM" marker.
            from core.io.dicom import read_dataset

            try:
                ds = read_dataset(src.read(), stop_before_pixels=True, force=True)
            except CorruptFileError:
                ds = None
            if ds is not None and "Rows" in ds and "Columns" in ds:
                return fmt.Detection(fmt.DICOM, "suffix", det.suffix_format)
        named = f" named '{src.name}'" if src.name else ""
        promised = ""
        if det.suffix_format is not None:
            promised = f" Its name ends like a {_FORMAT_LABEL[det.suffix_format]} file, but the content is not one."
        raise UnknownFormatError(
            f"The file{named} is not a supported scan: it looks like {det.description}.{promised} "
            f"Accepted: {ACCEPTED_FORMATS}."
        )
    if det.suffix_format in _MEDICAL_SUFFIX_FORMATS and det.format in fmt.RASTER_FORMATS:
        raise FormatMismatchError(
            f"The file '{src.name}' is named like a {_MEDICAL_SUFFIX_FORMATS[det.suffix_format]} file but contains a "
            f"plain {_FORMAT_LABEL[det.format]} picture, so it has no scanner header (modality, spacing, "
            f"orientation). Accepted: genuine {_MEDICAL_SUFFIX_FORMATS[det.suffix_format]} files; to analyse the "
            f"picture as a 2D image, upload it with its real extension (.{'png' if det.format == fmt.PNG else 'jpg'})."
        )
    return det


def _load_one(src: Source, series: str | None, settings: Settings) -> Scan:
    check_total_size(src, settings)
    det = identify(src)
    check_kind_size(src, det, settings)
    data = src.read()
    display = src.name
    if det.format in fmt.RASTER_FORMATS:
        from core.io.raster import decode_raster

        decoded = decode_raster(data, det.format)
    elif det.format in (fmt.NIFTI, fmt.MGZ):
        from core.io.nifti import decode_volume

        decoded = decode_volume(data, det.format, det.compressed)
    elif det.format == fmt.DICOM:
        from core.io.dicom import PARSE_ERRORS, decode_dataset, read_dataset

        ds = read_dataset(data, force=det.by == "suffix")
        try:
            display = safe_name(display, [ds])
            decoded = decode_dataset(ds, settings.pseudonym_salt)
        except PARSE_ERRORS as exc:
            raise _damaged_header(exc) from exc
    else:  # zip
        from core.io.series import unzip_members

        members = unzip_members(data, settings.max_volume_bytes)
        return _load_members(members, display, hashlib.sha256(data).hexdigest(), series, settings, archive=True)
    decoded.meta["format_detected_by"] = det.by
    if det.suffix_format is not None and det.suffix_format != det.format:
        decoded.meta["suffix_mismatch"] = f"named .{det.suffix_format}, read as {det.format}"
    return _build(decoded, display or "upload", hashlib.sha256(data).hexdigest(), src.size_bytes)


def _load_members(members: list, display: str, digest: str, series: str | None, settings: Settings,
                  archive: bool) -> Scan:
    from core.io.dicom import PARSE_ERRORS
    from core.io.series import group_series

    try:
        groups = group_series(members, settings.pseudonym_salt)
        return _load_groups(groups, members, display, digest, series, settings, archive)
    except PARSE_ERRORS as exc:
        raise _damaged_header(exc) from exc


def _damaged_header(exc: BaseException) -> CorruptFileError:
    # The exception text is not shown or logged: pydicom quotes header values in it.
    log.debug("DICOM header element could not be interpreted (%s)", type(exc).__name__)
    return CorruptFileError(
        "The DICOM header is damaged: an element needed to build the image could not be interpreted. "
        "Accepted: complete, valid DICOM files; export or copy it again."
    )


def _load_groups(groups: list, members: list, display: str, digest: str, series: str | None, settings: Settings,
                 archive: bool) -> Scan:
    from core.io.dicom import stack_slices
    from core.io.series import any_single, choose

    if not groups:
        single = any_single(members) if archive else None
        if single is not None:
            return _load_one(Source(single.name, len(single.data), _data=single.data), series, settings)
        where = "zip archive" if archive else "upload"
        raise EmptyArchiveError(
            f"The {where} holds no DICOM images ({len(members)} file(s) of other kinds). "
            "Accepted: a .zip or several files holding the DICOM slices of a series, or one NIfTI/MGZ/PNG/JPEG file."
        )
    group = choose(groups, series)
    if len(group.headers) > 1 and any(int(h.get("NumberOfFrames", 1) or 1) > 1 for h in group.headers):
        raise InconsistentSeriesError(
            "The series consists of several multi-frame DICOM files, which RadLens cannot merge. "
            "Accepted: one multi-frame file, or a series of single-frame slices."
        )
    decoded = stack_slices(group.headers, settings.pseudonym_salt)
    decoded.meta["series_label"] = group.label
    decoded.meta["series_id"] = group.series_id
    decoded.meta["n_series_in_upload"] = len(groups)
    decoded.meta["format_detected_by"] = "magic"
    name = safe_name(display, group.headers) if display else f"{len(group.headers)} DICOM files"
    total = sum(len(m.data) for m in members)
    return _build(decoded, name, digest, total)


def _build(decoded: Decoded, display: str, digest: str, size_bytes: int) -> Scan:
    meta: dict[str, Any] = dict(decoded.meta)
    meta["file_size_bytes"] = int(size_bytes)
    meta["shape"] = list(decoded.array.shape)
    assert_safe_meta(meta)
    scan = Scan(
        array=decoded.array,
        affine=decoded.affine,
        modality=decoded.modality,
        meta=meta,
        source=f"{display} sha256:{digest}",
        history=("load_scan",) + tuple(decoded.history),
        subject_pseudonym=decoded.subject_pseudonym,
    )
    log.debug("loaded %s as %s, shape %s, spacing %s mm", display, meta.get("format"), meta["shape"],
              tuple(round(s, 3) for s in scan.spacing))
    return scan


def _members_from_sources(sources: list[Source], settings: Settings) -> list:
    from core.io.series import Member, unzip_members

    total = sum(s.size_bytes for s in sources)
    if total > settings.max_volume_bytes:
        raise size_limit_error(total, settings.max_volume_bytes, "set of files", settings)
    members = []
    for src in sources:
        kind, _ = fmt.sniff(src.head(1024))
        if kind == fmt.ZIP:
            members.extend(unzip_members(src.read(), settings.max_volume_bytes))
        elif kind == fmt.DICOM:
            members.append(Member(src.name, src.read()))
        else:
            what = _FORMAT_LABEL.get(kind or "", "") or fmt.describe_unknown(src.head())
            raise InconsistentSeriesError(
                f"Several files were given together, but '{src.name or 'one of them'}' is not DICOM ({what}). "
                "Accepted: several files only as the DICOM slices of one series; other formats one file at a time."
            )
    return members


def load_scan(source: Any, filename: str | None = None, *, series: str | None = None,
              settings: Settings | None = None) -> Scan:
    """Load a scan from a path, bytes, a file-like object, or a list of those.

    Args:
        source: ``str``/``Path``, ``bytes``, a file-like object (``.read()`` or ``.getvalue()``, e.g.
            Streamlit's UploadedFile), or a list of those (several DICOM files = one series); a
            directory path stands for the files in it.
        filename: the original file name when ``source`` is bytes (used for the suffix and display only).
        series: id (or label, or 1-based index) of the series to load when the upload holds several;
            see :func:`list_series` and :class:`MultipleSeriesError`.
        settings: limits and the pseudonym salt; defaults to :func:`core.config.get_settings`.

    Returns:
        A de-identified :class:`Scan`: float32 ``(C, X, Y, Z)``; volumes in RAS+, 2D images as stored.

    Raises:
        ScanError: a subclass whose ``str()`` tells the user what is wrong and what is accepted.
    """
    settings = settings or get_settings()
    sources = as_sources(source, filename)
    if not sources:
        raise EmptyArchiveError("No file was given (an empty list or folder). Accepted: " + ACCEPTED_FORMATS + ".")
    if len(sources) == 1:
        return _load_one(sources[0], series, settings)
    members = _members_from_sources(sources, settings)
    digest = hashlib.sha256(b"".join(hashlib.sha256(m.data).digest() for m in members)).hexdigest()
    return _load_members(members, "", digest, series, settings, archive=False)


def list_series(source: Any, filename: str | None = None, settings: Settings | None = None
                ) -> list[tuple[str, str, int]]:
    """The DICOM series in an upload as ``(series_id, label, n_slices)``; ``[]`` for non-DICOM inputs.

    Raises:
        ScanError: the upload cannot be read.
    """
    from core.io.series import Member, describe, group_series, unzip_members

    from core.io.dicom import PARSE_ERRORS

    settings = settings or get_settings()
    sources = as_sources(source, filename)
    if not sources:
        return []
    if len(sources) > 1:
        members = _members_from_sources(sources, settings)
    else:
        src = sources[0]
        check_total_size(src, settings)
        det = identify(src)
        if det.format == fmt.ZIP:
            members = unzip_members(src.read(), settings.max_volume_bytes)
        elif det.format == fmt.DICOM:
            members = [Member(src.name, src.read())]
        else:
            return []
    try:
        return describe(group_series(members, settings.pseudonym_salt))
    except PARSE_ERRORS as exc:
        raise _damaged_header(exc) from exc


__all__ = [
    "load_scan", "list_series", "identify", "check_total_size", "check_kind_size", "is_volume_kind",
    "size_limit_error", "ScanError", "UnknownFormatError", "FormatMismatchError", "CorruptFileError",
    "EmptyArchiveError", "NoPixelDataError", "FileTooLargeError", "InconsistentSeriesError",
    "MultipleSeriesError", "UnknownSeriesError", "ACCEPTED_FORMATS",
]
