"""User-facing loading errors.

Every failure a user can cause while loading a scan is a :class:`ScanError`
subclass whose ``str()`` says what is wrong and what is accepted. Each class
carries a stable ``code`` that :mod:`core.validation` reuses as its check code.
"""

from __future__ import annotations

ACCEPTED_FORMATS = (
    "DICOM (.dcm, single file, multi-frame, or a series as a .zip or several files), "
    "NIfTI (.nii, .nii.gz), FreeSurfer .mgz, PNG (8/16-bit) and JPEG (8-bit), grey or RGB"
)


class ScanError(Exception):
    """Base of all user-caused loading failures; ``str()`` is the user-facing message."""

    code: str = "scan_error"


class UnknownFormatError(ScanError):
    """The bytes are not any supported image format."""

    code = "unknown_format"


class FormatMismatchError(ScanError):
    """The file name promises a medical format (DICOM/NIfTI/MGZ) but the content is a plain picture."""

    code = "format_mismatch"


class CorruptFileError(ScanError):
    """The format was recognised but the content is truncated or malformed."""

    code = "corrupt_file"


class EmptyArchiveError(ScanError):
    """A zip archive holds no usable image."""

    code = "empty_archive"


class NoPixelDataError(ScanError):
    """A DICOM object without an image (structured report, RT structure set, DICOMDIR...)."""

    code = "no_pixel_data"


class FileTooLargeError(ScanError):
    """The input exceeds the configured size limit."""

    code = "file_too_large"


class InconsistentSeriesError(ScanError):
    """Several DICOM files that cannot be stacked into one volume."""

    code = "inconsistent_series"


class MultipleSeriesError(ScanError):
    """Several DICOM series were supplied and none was chosen.

    Attributes:
        series: list of ``(series_id, description, n_slices)``; pass ``series=series_id``
            to :func:`core.io.load_scan` to load one of them. The description is a
            sanitised label built from non-identifying tags (no free text).
    """

    code = "multiple_series"

    def __init__(self, message: str, series: list[tuple[str, str, int]]):
        super().__init__(message)
        self.series = list(series)


class UnknownSeriesError(ScanError):
    """``series=`` named a series that is not in the upload."""

    code = "unknown_series"


__all__ = [
    "ACCEPTED_FORMATS", "ScanError", "UnknownFormatError", "FormatMismatchError", "CorruptFileError",
    "EmptyArchiveError", "NoPixelDataError", "FileTooLargeError", "InconsistentSeriesError",
    "MultipleSeriesError", "UnknownSeriesError",
]
