"""File and content gates: coded checks that decide whether an input can be analysed.

``check()`` never raises on bad input: every problem becomes a failed :class:`Check`
whose message names what is wrong and what is accepted. ``check_scan()`` runs the
content checks alone on an already loaded Scan (reused by the task gates);
``load_and_check()`` returns the Scan together with the report (one decode for pages).

Stable check codes: file_size, file_too_large, format_detected, unknown_format,
format_mismatch, corrupt_file, empty_archive, no_pixel_data, multiple_series,
inconsistent_series, unknown_series, loaded, blank_image, resolution_too_low,
absurd_spacing, spacing_unknown, non_finite_values, irregular_slice_spacing, internal_error.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from core.config import Settings, get_settings
from core.io import ScanError, check_kind_size, check_total_size, identify, load_scan
from core.io.errors import ACCEPTED_FORMATS
from core.io.source import as_sources
from core.types import Check, QCReport, Scan, Severity

log = logging.getLogger(__name__)

_FORMAT_NAMES = {"dicom": "DICOM", "nifti": "NIfTI", "mgz": "FreeSurfer MGZ", "png": "PNG", "jpeg": "JPEG",
                 "zip": "zip archive"}


def _ok(code: str, message: str, value: Any = None) -> Check:
    return Check(code, True, Severity.INFO, message, value)


def _fail(code: str, message: str, value: Any = None, severity: Severity = Severity.ERROR) -> Check:
    return Check(code, False, severity, message, value)


def _fail_from(exc: ScanError) -> Check:
    return _fail(exc.code, str(exc), getattr(exc, "series", None))


def _mb(n: float) -> str:
    return f"{n / 1024**2:.1f} MB"


def check_scan(scan: Scan, settings: Settings | None = None) -> QCReport:
    """Content checks on a loaded scan: non-finite values, blank image, resolution, spacing.

    Args:
        scan: a Scan from :func:`core.io.load_scan` (or any producer of Scans).
        settings: thresholds (``min_image_side_px``, ``min_spacing_mm``, ``max_spacing_mm``).
    """
    s = settings or get_settings()
    arr = scan.array
    checks: list[Check] = []

    # min/max first: both are finite exactly when every voxel is (NaN propagates, inf shows up).
    lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (float("nan"), float("nan"))
    all_finite = bool(np.isfinite(lo) and np.isfinite(hi))
    if not all_finite:
        finite = np.isfinite(arr)
        n_bad = int(arr.size - np.count_nonzero(finite))
        checks.append(_fail("non_finite_values",
                            f"The image contains {n_bad} non-finite values (NaN or infinity). Accepted: images whose "
                            "voxels are all finite numbers; fix or mask them in the source file.", n_bad))
        values = arr[finite]
        lo, hi = (float(values.min()), float(values.max())) if values.size else (float("nan"), float("nan"))
    else:
        checks.append(_ok("non_finite_values", "All voxel values are finite numbers."))

    if not np.isfinite(lo):
        checks.append(_fail("blank_image", "The image has no finite voxel values at all. Accepted: images with "
                                           "visible content (a non-constant signal).", None))
    elif not hi > lo:
        checks.append(_fail("blank_image",
                            f"The image is blank: every voxel has the same value ({lo:g}). Accepted: images with "
                            "visible content (a non-constant signal).", lo))
    else:
        checks.append(_ok("blank_image", "The image has non-constant content.", f"{lo:g} .. {hi:g}"))

    shape = scan.shape
    if scan.is_2d:
        side, where = min(shape[0], shape[1]), "in-plane side"
    else:
        side, where = sorted(shape)[1], "second-largest side"  # a thin slab of large slices is fine
    size_text = "x".join(str(v) for v in (shape[:2] if scan.is_2d else shape))
    if side < s.min_image_side_px:
        checks.append(_fail("resolution_too_low",
                            f"The image is {size_text} pixels; its {where} of {side} px is below the minimum of "
                            f"{s.min_image_side_px} px. Accepted: images at least {s.min_image_side_px} px on each "
                            "in-plane side (setting RADLENS_MIN_IMAGE_SIDE_PX).", side))
    else:
        checks.append(_ok("resolution_too_low", f"Resolution {size_text} is sufficient.", side))

    spacing = scan.spacing[:2] if scan.is_2d else scan.spacing
    if scan.meta.get("spacing_known") is False:
        checks.append(_ok("spacing_unknown", "The file carries no physical pixel size; spacing is taken as 1 mm "
                                             "and sizes in mm are not meaningful.", None))
    bad = [v for v in spacing if not (s.min_spacing_mm <= v <= s.max_spacing_mm)]
    spacing_text = " x ".join(f"{v:.3g}" for v in spacing)
    if bad and scan.meta.get("spacing_known") is not False:
        checks.append(_fail("absurd_spacing",
                            f"The voxel size {spacing_text} mm is implausible for a medical image. Accepted: voxel "
                            f"sides between {s.min_spacing_mm:g} and {s.max_spacing_mm:g} mm (check the header's "
                            "pixel spacing / affine).", spacing_text))
    else:
        checks.append(_ok("absurd_spacing", f"Voxel size {spacing_text} mm is plausible.", spacing_text))

    if scan.meta.get("slice_gap_irregular"):
        checks.append(_fail("irregular_slice_spacing",
                            "The slices of this series are not evenly spaced (missing or extra slices?); distances "
                            "along the slice axis are approximate. Accepted without warning: complete series with "
                            "uniform slice spacing.", None, Severity.WARNING))
    return QCReport(tuple(checks))


def _file_checks(source: Any, filename: str | None, s: Settings) -> tuple[list[Check], bool]:
    """Size and format checks before decoding; returns (checks, may_continue)."""
    checks: list[Check] = []
    sources = as_sources(source, filename)
    total = sum(src.size_bytes for src in sources)
    if len(sources) != 1:
        if total > s.max_volume_bytes:
            checks.append(_fail("file_too_large",
                                f"The files together are {_mb(total)}, above the limit of {_mb(s.max_volume_bytes)} "
                                "for volumes and series. Accepted: series up to that size "
                                "(setting RADLENS_MAX_VOLUME_BYTES).", total))
            return checks, False
        checks.append(_ok("file_size", f"{len(sources)} files, {_mb(total)} in total.", total))
        return checks, True
    src = sources[0]
    try:
        check_total_size(src, s)
    except ScanError as exc:
        checks.append(_fail_from(exc))
        return checks, False
    try:
        det = identify(src)
    except ScanError as exc:
        checks.append(_fail_from(exc))
        return checks, False
    checks.append(_ok("format_detected", f"Recognised as {_FORMAT_NAMES.get(det.format, det.format)} "
                                         f"(by its {'content' if det.by == 'magic' else 'file name'}).", det.format))
    try:
        check_kind_size(src, det, s)
    except ScanError as exc:
        checks.append(_fail_from(exc))
        return checks, False
    checks.append(_ok("file_size", f"File size {_mb(src.size_bytes)} is within the limit.", src.size_bytes))
    return checks, True


def check(scan_or_bytes: Any, filename: str | None = None, settings: Settings | None = None, *,
          series: str | None = None) -> QCReport:
    """Run the input gates on a Scan or on raw input (path, bytes, file-like, list of those).

    Never raises on bad input: size, format and decoding failures become failed checks.

    Args:
        scan_or_bytes: a loaded Scan (content checks only) or anything :func:`core.io.load_scan` accepts.
        filename: original file name when bytes are given.
        settings: limits and thresholds; defaults to :func:`core.config.get_settings`.
        series: series to load when the input holds several DICOM series.

    Returns:
        QCReport whose ``accepted`` is False when any ERROR check failed.
    """
    return load_and_check(scan_or_bytes, filename, settings, series=series)[1]


def load_and_check(scan_or_bytes: Any, filename: str | None = None, settings: Settings | None = None, *,
                   series: str | None = None) -> tuple[Scan | None, QCReport]:
    """Like :func:`check`, but also return the loaded Scan (None when it could not be loaded).

    Saves a second decode when a page needs both the report and the scan. The scan is returned
    even when a content check refused it, so the page can show what was refused.
    """
    s = settings or get_settings()
    if isinstance(scan_or_bytes, Scan):
        return scan_or_bytes, check_scan(scan_or_bytes, s)
    checks: list[Check] = []
    try:
        checks, ok = _file_checks(scan_or_bytes, filename, s)
        if not ok:
            return None, QCReport(tuple(checks))
        scan = load_scan(scan_or_bytes, filename, series=series, settings=s)
    except ScanError as exc:
        return None, QCReport(tuple(checks) + (_fail_from(exc),))
    except TypeError as exc:  # not a path, bytes or file-like object
        return None, QCReport((_fail("unknown_format", f"The input is not a file ({exc}). Accepted: {ACCEPTED_FORMATS}."),))
    except MemoryError:
        return None, QCReport((_fail("file_too_large", "The input is too large to decode in the memory available. "
                                                 "Accepted: smaller images or volumes."),))
    except Exception as exc:  # a bug, not the user's fault: logged with its traceback, reported as a failure
        log.exception("input check failed unexpectedly")
        return None, QCReport((_fail("internal_error",
                               "RadLens could not read this input because of an internal error "
                               f"({type(exc).__name__}). "
                               f"Accepted: {ACCEPTED_FORMATS}; please report this file type."),))
    loaded = _ok("loaded", f"Loaded a {'volume' if scan.is_volume else '2D image'} of shape "
                           f"{'x'.join(map(str, scan.shape))} ({scan.modality.value}).", list(scan.shape))
    return scan, QCReport(tuple(checks) + (loaded,)).merged(check_scan(scan, s))


__all__ = ["check", "check_scan", "load_and_check"]
