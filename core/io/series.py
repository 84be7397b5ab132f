"""DICOM series from several files or a zip archive: grouping, choosing and stacking.

Files are grouped by SeriesInstanceUID (and, within it, by image size and orientation
so that localisers do not break a stack). Each group gets a stable id derived by hashing
(the UID itself is an identifier under PS3.15 and is never shown) and a sanitised label
built from technical tags only ("series 3: MR, 176 slices, 256x256, sagittal").
"""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from core.io import detect as fmt
from core.io.dicom import has_pixels, orientation_label, read_dataset, image_orientation
from core.io.errors import (CorruptFileError, EmptyArchiveError, FileTooLargeError, MultipleSeriesError,
                            NoPixelDataError, UnknownSeriesError)

_SNIFF_BYTES = 1024  # enough for the DICOM preamble + "DICM" and a NIfTI/MGH header


@dataclass
class Member:
    """One file inside an upload (zip member or one of several files)."""

    name: str
    data: bytes


@dataclass
class SeriesGroup:
    """Slices of one series: id, sanitised label and the parsed headers (pixels read later)."""

    series_id: str
    label: str
    members: list[Member] = field(default_factory=list)
    headers: list[Dataset] = field(default_factory=list)

    @property
    def n_slices(self) -> int:
        return sum(int(h.get("NumberOfFrames", 1) or 1) for h in self.headers)


def unzip_members(data: bytes, max_total_bytes: int) -> list[Member]:
    """Files in a zip archive, read in memory (folders, macOS resource forks and dot-files skipped).

    Raises:
        CorruptFileError: damaged or password-protected archive.
        FileTooLargeError: the uncompressed content exceeds ``max_total_bytes``.
        EmptyArchiveError: the archive holds no files.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise CorruptFileError(
            "The zip archive is damaged or truncated and cannot be opened. Accepted: a complete .zip of DICOM files."
        ) from exc
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()
                 and not i.filename.startswith("__MACOSX/") and not i.filename.rsplit("/", 1)[-1].startswith(".")]
        if not infos:
            raise EmptyArchiveError(
                "The zip archive is empty: it contains no files. Accepted: a .zip holding the DICOM files of a series."
            )
        total = sum(i.file_size for i in infos)
        if total > max_total_bytes:
            raise FileTooLargeError(
                f"The zip archive expands to {total / 1024**2:.0f} MB, above the limit of "
                f"{max_total_bytes / 1024**2:.0f} MB for volumes and series. Accepted: smaller series "
                "(raise RADLENS_MAX_VOLUME_BYTES to change the limit)."
            )
        members = []
        for info in infos:
            if info.flag_bits & 0x1:
                raise CorruptFileError(
                    "The zip archive is password-protected. Accepted: an unencrypted .zip of DICOM files."
                )
            try:
                members.append(Member(info.filename.rsplit("/", 1)[-1], archive.read(info)))
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError) as exc:
                raise CorruptFileError(
                    f"A file inside the zip archive is damaged or uses an unsupported compression ({exc}). "
                    "Accepted: a complete .zip (deflate or stored) of DICOM files."
                ) from exc
    return members


def _group_key(ds: Dataset) -> tuple[str, str]:
    uid = str(ds.get("SeriesInstanceUID", "") or "")
    iop = image_orientation(ds)
    geometry = f"{ds.get('Rows')}x{ds.get('Columns')}|" + (
        ",".join(f"{v:.2f}" for v in iop) if iop else "")
    return uid, geometry


def group_series(members: list[Member], salt: str = "") -> list[SeriesGroup]:
    """Parse headers of DICOM members and group them into series (others are ignored).

    Series ids are salted hashes of SeriesInstanceUID + geometry: stable for the same upload and
    site, but the UID cannot be checked against them without the salt.

    Raises:
        NoPixelDataError: DICOM files were present but none holds an image.
    """
    groups: dict[tuple[str, str], SeriesGroup] = {}
    saw_dicom = False
    for m in members:
        kind, _ = fmt.sniff(m.data[:_SNIFF_BYTES])
        if kind != fmt.DICOM:
            continue
        saw_dicom = True
        ds = read_dataset(m.data)
        if not has_pixels(ds):
            continue  # DICOMDIR, structured reports, presentation states
        key = _group_key(ds)
        if key not in groups:
            series_id = "series-" + hashlib.sha256("|".join((salt,) + key).encode()).hexdigest()[:10]
            groups[key] = SeriesGroup(series_id, "")
        groups[key].members.append(m)
        groups[key].headers.append(ds)
    if saw_dicom and not groups:
        raise NoPixelDataError(
            "The DICOM files hold no images (only directories, reports or similar objects). "
            "Accepted: DICOM image files (MR, CT, CR, DX...)."
        )
    ordered = sorted(groups.values(), key=lambda g: (_series_number(g.headers[0]), -g.n_slices, g.series_id))
    for i, g in enumerate(ordered, 1):
        g.label = _label(i, g)
    return ordered


def _series_number(ds: Dataset) -> int:
    try:
        return int(ds.get("SeriesNumber", 10**6) or 10**6)
    except (TypeError, ValueError):
        return 10**6


def _label(index: int, g: SeriesGroup) -> str:
    """Sanitised picker label from technical tags only (descriptions are free text and may identify)."""
    h = g.headers[0]
    parts = [str(h.get("Modality", "") or "").strip() or "unknown modality",
             f"{g.n_slices} slice{'s' if g.n_slices != 1 else ''}",
             f"{h.get('Rows')}x{h.get('Columns')}"]
    plane = orientation_label(h)
    if plane:
        parts.append(plane)
    number = h.get("SeriesNumber")
    head = f"series {index}" + (f" (no. {number})" if number not in (None, "") else "")
    return f"{head}: {', '.join(parts)}"


def describe(groups: list[SeriesGroup]) -> list[tuple[str, str, int]]:
    """``(series_id, label, n_slices)`` for each group."""
    return [(g.series_id, g.label, g.n_slices) for g in groups]


def choose(groups: list[SeriesGroup], series: str | None) -> SeriesGroup:
    """The group named by ``series`` (id, label or 1-based index); the only one when there is one.

    Raises:
        MultipleSeriesError: several series and none chosen.
        UnknownSeriesError: ``series`` names none of them.
    """
    if series is None:
        if len(groups) == 1:
            return groups[0]
        listing = "; ".join(label for _, label, _ in describe(groups))
        raise MultipleSeriesError(
            f"The upload holds {len(groups)} DICOM series ({listing}). RadLens analyses one series at a time: "
            "choose one of them.", describe(groups))
    for i, g in enumerate(groups, 1):
        if series in (g.series_id, g.label, str(i)):
            return g
    raise UnknownSeriesError(
        f"The chosen series '{series}' is not in this upload. Available: "
        + "; ".join(f"{g.series_id} = {g.label}" for g in groups) + "."
    )


def any_single(members: list[Member]) -> Member | None:
    """When an archive holds no DICOM but exactly one other supported file, that file."""
    others = [m for m in members if fmt.sniff(m.data[:_SNIFF_BYTES])[0] in (fmt.NIFTI, fmt.MGZ, fmt.PNG, fmt.JPEG)]
    return others[0] if len(others) == 1 else None

