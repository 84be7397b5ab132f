"""DICOM decoding from memory: single frames (2D), multi-frame objects and slice stacks (volumes).

Pixel values: rescale slope/intercept (modality LUT) applied, MONOCHROME1 inverted so
that high values are bright, window centre/width kept in meta for display. Compressed
transfer syntaxes decode through pydicom's pixel backends (pylibjpeg-libjpeg for JPEG
baseline/lossless and JPEG-LS, pylibjpeg-openjpeg for JPEG 2000, numpy for RLE).

Only allow-listed technical tags leave this module (see :mod:`core.io.deid`).
"""

from __future__ import annotations

import io
import logging
import struct
from typing import Any, Sequence

import numpy as np
import pydicom
from pydicom import config as dicom_config
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from core.io.decoded import Decoded
from core.io.deid import SAFE_META_KEYWORDS, subject_pseudonym
from core.io.errors import CorruptFileError, NoPixelDataError, UnknownFormatError
from core.io.geometry import axis_codes, dicom_affine, to_closest_canonical
from core.types import Modality

log = logging.getLogger(__name__)

# pydicom's value-validation warnings quote header values (which can be identifiers) into
# warnings and log lines; RadLens never logs header values, so validation stays silent.
dicom_config.settings.reading_validation_mode = dicom_config.IGNORE

_MODALITIES = {"MR": Modality.MR, "CT": Modality.CT, "CR": Modality.CR, "DX": Modality.DX}
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
PARSE_ERRORS = (EOFError, OSError, ValueError, struct.error, KeyError, IndexError, TypeError, AttributeError,
                 OverflowError, UnicodeDecodeError, NotImplementedError)

_NO_PIXEL_KINDS = {
    "1.2.840.10008.1.3.10": "a DICOMDIR (a media directory)",
    "1.2.840.10008.5.1.4.1.1.481.3": "an RT Structure Set",
    "1.2.840.10008.5.1.4.1.1.481.5": "an RT Plan",
    "1.2.840.10008.5.1.4.1.1.11.1": "a presentation state",
    "1.2.840.10008.5.1.4.1.1.104.1": "an encapsulated PDF",
}


def read_dataset(data: bytes, *, stop_before_pixels: bool = False, force: bool = False) -> Dataset:
    """Parse DICOM bytes (never touches disk).

    Raises:
        CorruptFileError: the bytes look like DICOM but cannot be parsed.
    """
    # A stream without the preamble and "DICM" marker was recognised by its first tag; pydicom needs force.
    force = force or data[128:132] != b"DICM"
    try:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=stop_before_pixels, force=force)
    except InvalidDicomError as exc:
        raise CorruptFileError(
            "The file is not a readable DICOM object (its header is invalid). Accepted: DICOM Part 10 files (.dcm)."
        ) from exc
    except PARSE_ERRORS as exc:
        raise _truncated_error() from exc
    if _is_truncated(ds, data, stop_before_pixels):
        raise _truncated_error()
    dropped = _drop_undecodable(ds)
    if dropped:
        # Only the count: the exception texts quote header values, which may identify the patient.
        log.debug("dropped %d undecodable DICOM header element(s)", dropped)
    return ds


def _drop_undecodable(ds: Dataset, depth: int = 0) -> int:
    """Convert every element now and delete those whose value cannot be decoded (damaged headers).

    pydicom decodes values lazily, so a damaged element would otherwise fail later, anywhere.
    """
    dropped = 0
    for tag in list(ds.keys()):
        if tag == 0x7FE00010:  # Pixel Data: decoded separately
            continue
        try:
            elem = ds[tag]
            if elem.VR == "SQ" and depth < 8:
                for item in elem.value:
                    dropped += _drop_undecodable(item, depth + 1)
        except PARSE_ERRORS:
            del ds[tag]
            dropped += 1
    return dropped


def _truncated_error() -> CorruptFileError:
    return CorruptFileError(
        "The DICOM file is truncated or damaged: it ends before its last element is complete. "
        "Accepted: complete DICOM files; export or copy it again."
    )


_PIXEL_DATA_TAG_LE = b"\xe0\x7f\x10\x00"  # (7FE0,0010) little endian


def _is_truncated(ds: Dataset, data: bytes, stop_before_pixels: bool) -> bool:
    """pydicom drops an element cut off by the end of the stream instead of raising; detect that."""
    if not stop_before_pixels and "PixelData" not in ds and _PIXEL_DATA_TAG_LE in data[128:]:
        return True  # the Pixel Data element is there but could not be read to its end
    if len(ds) == 0:
        return False
    raw = ds.get_item(max(ds.keys()))
    tell, length = getattr(raw, "value_tell", None), getattr(raw, "length", None)
    if tell is None or length is None or length == 0xFFFFFFFF:
        return False
    return tell + length > len(data)


def transfer_syntax(ds: Dataset) -> str:
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    return str(ts.name) if ts is not None else "unknown"


def _first_item(ds: Dataset, *path: str) -> Any:
    """ds.Path[0].Path[0]...; None when any step is missing."""
    node: Any = ds
    for kw in path:
        seq = node.get(kw) if node is not None else None
        if not seq:
            return None
        node = seq[0] if isinstance(seq, pydicom.sequence.Sequence) else seq
    return node


def _functional(ds: Dataset, macro: str, keyword: str, frame: int | None = None) -> Any:
    """A value from the top level, else the shared, else the per-frame functional groups."""
    if keyword in ds:
        return ds.get(keyword)
    item = _first_item(ds, "SharedFunctionalGroupsSequence", macro)
    if item is not None and keyword in item:
        return item.get(keyword)
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame:
        idx = 0 if frame is None else frame
        if idx < len(per_frame):
            sub = per_frame[idx].get(macro)
            if sub and keyword in sub[0]:
                return sub[0].get(keyword)
    return None


def _floats(value: Any) -> list[float] | None:
    if value is None or value == "":
        return None
    try:
        seq = list(value) if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else [value]
        out = [float(v) for v in seq]
    except (TypeError, ValueError):
        return None
    return out if out and all(np.isfinite(out)) else None


def pixel_spacing(ds: Dataset) -> tuple[tuple[float, float] | None, str]:
    """((row spacing, column spacing) mm, tag used) from PixelSpacing or ImagerPixelSpacing."""
    for kw in ("PixelSpacing", "ImagerPixelSpacing"):
        macro = "PixelMeasuresSequence" if kw == "PixelSpacing" else ""
        vals = _floats(_functional(ds, macro, kw) if macro else ds.get(kw))
        if vals and len(vals) >= 2 and vals[0] > 0 and vals[1] > 0:
            return (vals[0], vals[1]), kw
    return None, ""


def _slice_thickness(ds: Dataset) -> float | None:
    for kw in ("SpacingBetweenSlices", "SliceThickness"):
        vals = _floats(_functional(ds, "PixelMeasuresSequence", kw))
        if vals and vals[0] > 0:
            return vals[0]
    return None


def image_orientation(ds: Dataset) -> list[float] | None:
    vals = _floats(_functional(ds, "PlaneOrientationSequence", "ImageOrientationPatient"))
    return vals if vals and len(vals) == 6 else None


def _position(ds: Dataset, frame: int | None = None) -> list[float] | None:
    if frame is not None:
        per_frame = ds.get("PerFrameFunctionalGroupsSequence")
        if per_frame and frame < len(per_frame):
            sub = per_frame[frame].get("PlanePositionSequence")
            if sub:
                vals = _floats(sub[0].get("ImagePositionPatient"))
                if vals and len(vals) == 3:
                    return vals
    vals = _floats(_functional(ds, "PlanePositionSequence", "ImagePositionPatient"))
    return vals if vals and len(vals) == 3 else None


def _rescale(ds: Dataset, frame: int = 0) -> tuple[float, float]:
    slope = _floats(_functional(ds, "PixelValueTransformationSequence", "RescaleSlope", frame))
    intercept = _floats(_functional(ds, "PixelValueTransformationSequence", "RescaleIntercept", frame))
    return (slope[0] if slope else 1.0), (intercept[0] if intercept else 0.0)


def _window(ds: Dataset) -> tuple[float | None, float | None]:
    centre = _floats(_functional(ds, "FrameVOILUTSequence", "WindowCenter"))
    width = _floats(_functional(ds, "FrameVOILUTSequence", "WindowWidth"))
    if centre and width and width[0] > 0:
        return centre[0], width[0]
    return None, None


def has_pixels(ds: Dataset) -> bool:
    return any(kw in ds for kw in _PIXEL_KEYWORDS)


def _no_pixels_error(ds: Dataset) -> NoPixelDataError:
    sop = str(ds.get("SOPClassUID", "") or getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", ""))
    kind = _NO_PIXEL_KINDS.get(sop)
    if kind is None:
        try:
            name = pydicom.uid.UID(sop).name if sop else ""
        except (ValueError, KeyError):
            name = ""
        kind = f"a DICOM '{name}' object" if name and name != sop else "a DICOM object without an image"
    return NoPixelDataError(
        f"The file is {kind}: it holds no pixel data to show. "
        "Accepted: DICOM image objects (MR, CT, CR, DX... with Pixel Data)."
    )


def decode_frames(ds: Dataset) -> np.ndarray:
    """Stored pixel values as float32 ``(frames, rows, cols, samples)`` (colour already RGB).

    Raises:
        NoPixelDataError, UnknownFormatError (no decoder for the transfer syntax), CorruptFileError.
    """
    if not has_pixels(ds):
        raise _no_pixels_error(ds)
    ts_uid = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if ts_uid is not None and ts_uid.is_compressed:
        decoder = pydicom.pixels.get_decoder(ts_uid)
        if decoder is None or not decoder.is_available:
            raise UnknownFormatError(
                f"The DICOM pixel data uses the transfer syntax '{ts_uid.name}', which this installation cannot "
                "decode. Accepted: uncompressed, RLE, JPEG baseline/lossless, JPEG-LS and JPEG 2000 DICOM."
            )
    try:
        arr = ds.pixel_array
    except MemoryError:
        raise
    except (*PARSE_ERRORS, RuntimeError) as exc:
        raise CorruptFileError(
            f"The DICOM pixel data could not be decoded ({transfer_syntax(ds)}): it is truncated or damaged. "
            "Accepted: complete DICOM files; export or copy it again."
        ) from exc
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    arr = np.asarray(arr)
    if frames == 1:
        arr = arr[None]
    if samples == 1 and arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4:
        raise CorruptFileError(
            f"The DICOM pixel data has an unexpected shape {tuple(arr.shape)} for {frames} frame(s) of "
            f"{samples} sample(s). Accepted: consistent DICOM image objects."
        )
    return arr.astype(np.float32, copy=False)


def _stored_range(ds: Dataset) -> tuple[float, float]:
    bits = int(ds.get("BitsStored", 8) or 8)
    if int(ds.get("PixelRepresentation", 0) or 0) == 1:
        return -(2.0 ** (bits - 1)), 2.0 ** (bits - 1) - 1
    return 0.0, 2.0**bits - 1


def to_values(ds: Dataset, frames: np.ndarray, frame_offset: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """Apply rescale (grey images) and MONOCHROME1 inversion; returns (values, meta about it)."""
    photometric = str(ds.get("PhotometricInterpretation", "") or "").upper()
    info: dict[str, Any] = {"rescale_applied": False, "monochrome1_inverted": False}
    if frames.shape[-1] != 1:
        return frames, info
    if "ModalityLUTSequence" in ds:
        lut_frames = [pydicom.pixels.apply_modality_lut(f[..., 0], ds) for f in frames]
        frames = np.stack(lut_frames)[..., None].astype(np.float32)
        info["rescale_applied"] = True
        info["modality_lut_applied"] = True
        slope, intercept = 1.0, 0.0
    else:
        slope, intercept = _rescale(ds, frame_offset)
        per_frame = [_rescale(ds, frame_offset + i) for i in range(frames.shape[0])] if \
            "PerFrameFunctionalGroupsSequence" in ds else [(slope, intercept)] * frames.shape[0]
        if any(s != 1.0 or b != 0.0 for s, b in per_frame):
            for i, (s, b) in enumerate(per_frame):
                frames[i] = frames[i] * np.float32(s) + np.float32(b)
            info["rescale_applied"] = True
        info["rescale_slope"], info["rescale_intercept"] = float(slope), float(intercept)
    centre, width = _window(ds)
    if photometric == "MONOCHROME1":
        lo, hi = _stored_range(ds)
        lo, hi = sorted((lo * slope + intercept, hi * slope + intercept))
        frames = np.float32(lo + hi) - frames
        info["monochrome1_inverted"] = True
        if centre is not None:
            centre = lo + hi - centre  # the stored window refers to the un-inverted values
    info["window_center"], info["window_width"] = centre, width
    return frames, info


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (pydicom.multival.MultiValue, list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (pydicom.valuerep.DSfloat, pydicom.valuerep.IS)):
        return float(value) if isinstance(value, pydicom.valuerep.DSfloat) else int(value)
    if isinstance(value, (int, float, bool)):
        return value
    return str(value).strip()


def modality_of(ds: Dataset) -> tuple[Modality, str]:
    raw = str(ds.get("Modality", "") or "").strip().upper()
    return _MODALITIES.get(raw, Modality.UNKNOWN), raw


def _safe(ds: Dataset, keyword: str) -> Any:
    """Read an allow-listed tag for Scan.meta; reading any other tag here is a bug."""
    if keyword not in SAFE_META_KEYWORDS:
        raise RuntimeError(f"{keyword} is not in core.io.deid.SAFE_META_KEYWORDS and must not reach Scan.meta")
    return ds.get(keyword)


def safe_meta(ds: Dataset) -> dict[str, Any]:
    """Allow-listed, non-identifying technical tags of a dataset as plain Python values."""
    modality, raw = modality_of(ds)
    spacing, spacing_tag = pixel_spacing(ds)
    meta: dict[str, Any] = {
        "format": "dicom",
        "modality": modality.value,
        "dicom_modality": raw or None,
        "body_part_examined": _plain(_safe(ds, "BodyPartExamined")) or None,
        "image_type": _plain(_safe(ds, "ImageType")) or None,
        "photometric_interpretation": _plain(_safe(ds, "PhotometricInterpretation")),
        "bits_stored": _plain(_safe(ds, "BitsStored")),
        "rows": _plain(_safe(ds, "Rows")),
        "columns": _plain(_safe(ds, "Columns")),
        "pixel_spacing_mm": list(spacing) if spacing else None,
        "pixel_spacing_source": spacing_tag or None,
        "slice_thickness_mm": _slice_thickness(ds),
        "manufacturer": _plain(_safe(ds, "Manufacturer")) or None,
        "manufacturer_model": _plain(_safe(ds, "ManufacturerModelName")) or None,
        "transfer_syntax": transfer_syntax(ds),
        "number_of_frames": int(_safe(ds, "NumberOfFrames") or 1),
        "series_number": _plain(_safe(ds, "SeriesNumber")),
        "view_position": _plain(_safe(ds, "ViewPosition")) or None,
        "laterality": _plain(_safe(ds, "ImageLaterality") or _safe(ds, "Laterality")) or None,
        "magnetic_field_strength_t": _plain(_safe(ds, "MagneticFieldStrength")),
        "repetition_time_ms": _plain(_safe(ds, "RepetitionTime")),
        "echo_time_ms": _plain(_safe(ds, "EchoTime")),
        "spacing_known": spacing is not None,
        "coil_names": [name for name in (_plain(_safe(ds, "TransmitCoilName")), _plain(_safe(ds, "ReceiveCoilName")))
                       if isinstance(name, str) and name] or None,
    }
    if isinstance(meta["image_type"], str):
        meta["image_type"] = [meta["image_type"]]
    return meta


def decode_dataset(ds: Dataset, salt: str | None = None) -> Decoded:
    """Decode one DICOM object: a single frame gives a 2D image, several frames a volume."""
    frames = decode_frames(ds)
    values, info = to_values(ds, frames)
    meta = safe_meta(ds)
    meta.update(info)
    modality, _ = modality_of(ds)
    n_frames, rows, cols, samples = values.shape
    meta["original_shape"] = [int(n_frames), int(rows), int(cols)] + ([int(samples)] if samples > 1 else [])
    spacing, _tag = pixel_spacing(ds)
    row_mm, col_mm = spacing if spacing else (1.0, 1.0)
    thickness = _slice_thickness(ds)
    iop = image_orientation(ds)
    pseudonym = subject_pseudonym(ds, salt)
    if n_frames == 1:
        ipp = _position(ds)
        if iop is not None and ipp is not None:
            affine = dicom_affine(ipp, iop, row_mm, col_mm, thickness or 1.0)
        else:
            affine = np.diag([col_mm, row_mm, thickness or 1.0, 1.0])
        array = np.ascontiguousarray(values[0].transpose(2, 1, 0)[..., None], dtype=np.float32)
        return Decoded(array, affine, modality, meta, pseudonym)
    return _frames_to_volume(ds, values, meta, modality, pseudonym, row_mm, col_mm, thickness, iop)


def _frames_to_volume(ds, values, meta, modality, pseudonym, row_mm, col_mm, thickness, iop) -> Decoded:
    n_frames = values.shape[0]
    positions = [_position(ds, i) for i in range(n_frames)] if "PerFrameFunctionalGroupsSequence" in ds else []
    order = np.arange(n_frames)
    if iop is not None and positions and all(p is not None for p in positions):
        normal = np.cross(iop[:3], iop[3:])
        along = np.array([float(np.dot(p, normal)) for p in positions])
        order = np.argsort(along, kind="stable")
        first, last = np.asarray(positions[order[0]]), np.asarray(positions[order[-1]])
        step = (last - first) / (n_frames - 1)
        if np.linalg.norm(step) < 1e-6:  # frames at one position (cine, diffusion): no slice geometry
            step = normal * (thickness or 1.0)
            meta["frames_share_position"] = True
        affine = dicom_affine(first, iop, row_mm, col_mm, step)
    elif iop is not None and _position(ds) is not None:
        affine = dicom_affine(_position(ds), iop, row_mm, col_mm, thickness or 1.0)
    else:
        affine = np.diag([col_mm, row_mm, thickness or 1.0, 1.0])
        meta["frames_without_geometry"] = True
    vol = values[order]  # (Z, rows, cols, C)
    array = np.asarray(vol.transpose(3, 2, 1, 0), dtype=np.float32)  # (C, x=col, y=row, z)
    codes = axis_codes(affine)
    array, affine, changed = to_closest_canonical(array, affine)
    meta["original_orientation"] = codes
    meta["reoriented_to_ras"] = bool(changed)
    history = (f"reorient {codes} -> RAS",) if changed else ()
    return Decoded(array, affine, modality, meta, pseudonym, history)


def stack_slices(datasets: Sequence[Dataset], salt: str | None = None) -> Decoded:
    """Stack single-frame slices of one series into a RAS+ volume, sorted by position along the normal.

    Raises:
        InconsistentSeriesError: slices of different sizes or orientations.
    """
    from core.io.errors import InconsistentSeriesError

    first = datasets[0]
    sizes = {(int(d.get("Rows", 0) or 0), int(d.get("Columns", 0) or 0)) for d in datasets}
    if len(sizes) > 1:
        raise InconsistentSeriesError(
            f"The slices of this series have different sizes ({', '.join(f'{r}x{c}' for r, c in sorted(sizes))}), "
            "so they cannot form one volume. Accepted: a series whose slices share one size and orientation."
        )
    iop = image_orientation(first)
    positions = [_position(d) for d in datasets]
    meta_extra: dict[str, Any] = {}
    if iop is not None and all(p is not None for p in positions):
        normal = np.cross(iop[:3], iop[3:])
        along = np.array([float(np.dot(p, normal)) for p in positions])
        order = list(np.argsort(along, kind="stable"))
        # Slices at the same position (repeats, echoes) are kept once, first by instance number.
        kept: list[int] = []
        for idx in order:
            if kept and abs(along[idx] - along[kept[-1]]) < 1e-3:
                continue
            kept.append(int(idx))
        if len(kept) < len(order):
            meta_extra["duplicate_positions_dropped"] = len(order) - len(kept)
        order = kept
        gaps = np.diff(along[order]) if len(order) > 1 else np.array([])
        if gaps.size and (gaps.max() - gaps.min()) > 0.1 * max(float(np.median(gaps)), 1e-6):
            meta_extra["slice_gap_irregular"] = True
        meta_extra["sorted_by"] = "ImagePositionPatient"
    else:
        order = sorted(range(len(datasets)), key=lambda i: int(datasets[i].get("InstanceNumber", i) or i))
        meta_extra["sorted_by"] = "InstanceNumber"
    ordered = [datasets[i] for i in order]
    if len(ordered) == 1:
        return decode_dataset(ordered[0], salt)
    slices, infos = [], []
    for d in ordered:
        vals, info = to_values(d, decode_frames(d))
        slices.append(vals[0])
        infos.append(info)
    samples = {s.shape[-1] for s in slices}
    if len(samples) > 1:
        raise InconsistentSeriesError(
            "The series mixes greyscale and colour slices, so they cannot form one volume. "
            "Accepted: a series whose slices share one size and photometric interpretation."
        )
    vol = np.stack(slices)  # (Z, rows, cols, C)
    spacing, _tag = pixel_spacing(first)
    row_mm, col_mm = spacing if spacing else (1.0, 1.0)
    if iop is not None and positions[0] is not None:
        p0, p1 = np.asarray(_position(ordered[0])), np.asarray(_position(ordered[-1]))
        affine = dicom_affine(p0, iop, row_mm, col_mm, (p1 - p0) / (len(ordered) - 1))
    else:
        affine = np.diag([col_mm, row_mm, _slice_thickness(first) or 1.0, 1.0])
        meta_extra["slices_without_geometry"] = True
    meta = safe_meta(first)
    meta.update(infos[0])
    meta.update(meta_extra)
    meta["rescale_applied"] = any(i["rescale_applied"] for i in infos)
    meta["number_of_slices"] = len(ordered)
    meta["original_shape"] = [len(ordered), int(vol.shape[1]), int(vol.shape[2])] + (
        [int(vol.shape[3])] if vol.shape[3] > 1 else [])
    modality, _ = modality_of(first)
    array = np.asarray(vol.transpose(3, 2, 1, 0), dtype=np.float32)  # copied once by the reorientation
    codes = axis_codes(affine)
    array, affine, changed = to_closest_canonical(array, affine)
    meta["original_orientation"] = codes
    meta["reoriented_to_ras"] = bool(changed)
    history = (f"stack {len(ordered)} slices", ) + ((f"reorient {codes} -> RAS",) if changed else ())
    return Decoded(array, affine, modality, meta, subject_pseudonym(first, salt), history)


def orientation_label(ds: Dataset) -> str:
    """'axial' / 'coronal' / 'sagittal' from ImageOrientationPatient, or '' when absent."""
    iop = image_orientation(ds)
    if iop is None:
        return ""
    normal = np.abs(np.cross(iop[:3], iop[3:]))
    return ("sagittal", "coronal", "axial")[int(np.argmax(normal))]


__all__ = ["read_dataset", "decode_dataset", "stack_slices", "decode_frames", "to_values", "safe_meta",
           "pixel_spacing", "has_pixels", "modality_of", "orientation_label", "transfer_syntax"]
