"""Real DICOM files (pydicom, uncompressed) for radiograph phantoms, with no identifying data.

The dataset carries no patient, physician, institution, date or device identifiers: those
elements are absent (not blanked), ``PatientIdentityRemoved`` is ``YES`` and the UIDs are
derived deterministically from the pixel data, so the same image gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np

_SOP_CLASS = {
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image Storage - For Presentation
    "CR": "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography Image Storage
    "MR": "1.2.840.10008.5.1.4.1.1.4",  # MR Image Storage
    "OT": "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image Storage
}


def _uid(*parts: str) -> str:
    """Deterministic UID under the 2.25 (UUID-derived) root from ``parts``."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()[:16]
    return "2.25." + str(int.from_bytes(digest, "big"))


def as_dicom_bytes(image: np.ndarray, modality: str = "DX", body_part: str = "SPINE",
                   pixel_spacing_mm: float | tuple[float, float] = 0.5, *, bits_stored: int = 12,
                   photometric: str = "MONOCHROME2", view_position: str | None = None,
                   series_description: str = "RadLens synthetic phantom") -> bytes:
    """Encode a 2D image in [0, 1] as an uncompressed single-frame DICOM file.

    Args:
        image: float array (rows, cols), values in [0, 1] (bright = dense for radiographs).
        modality: DICOM modality code (``DX``, ``CR``, ``MR`` or ``OT``).
        body_part: ``BodyPartExamined`` (e.g. ``SPINE``, ``CHEST``, ``BRAIN``).
        pixel_spacing_mm: row and column spacing in mm (one value = square pixels).
        bits_stored: 12 (default) or 16; stored as unsigned 16-bit words.
        photometric: ``MONOCHROME2`` (bright = high) or ``MONOCHROME1`` (values inverted on
            write, as some CR/DX systems store them; readers must invert back).
        view_position: ``ViewPosition`` (e.g. ``PA``, ``LL``); defaults to PA for chest,
            LL (left lateral) for spine.
        series_description: ``SeriesDescription``.

    Returns:
        The bytes of a Part-10 file (preamble, file meta, Explicit VR Little Endian).
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise ValueError(f"image must be 2D (rows, cols), got shape {img.shape}")
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ValueError("photometric must be MONOCHROME1 or MONOCHROME2")
    if bits_stored not in (12, 16):
        raise ValueError("bits_stored must be 12 or 16")
    modality = modality.upper()
    if modality not in _SOP_CLASS:
        raise ValueError(f"modality must be one of {sorted(_SOP_CLASS)}")
    max_val = (1 << bits_stored) - 1
    pixels = np.round(np.clip(img, 0.0, 1.0) * max_val).astype(np.uint16)
    if photometric == "MONOCHROME1":
        pixels = (max_val - pixels).astype(np.uint16)
    spacing = (float(pixel_spacing_mm), float(pixel_spacing_mm)) if np.isscalar(pixel_spacing_mm) \
        else tuple(float(v) for v in pixel_spacing_mm)  # type: ignore[union-attr]
    key = hashlib.sha256(pixels.tobytes()).hexdigest()
    study_uid = _uid("study", key)
    series_uid = _uid("series", key, modality)
    sop_uid = _uid("sop", key, modality, body_part, photometric)

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = _SOP_CLASS[modality]
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = _uid("radlens-synth-implementation")
    meta.ImplementationVersionName = "RADLENS_SYNTH"

    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = _SOP_CLASS[modality]
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.Modality = modality
    ds.BodyPartExamined = body_part.upper()
    ds.SeriesDescription = series_description
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "synthetic phantom: no patient data"
    ds.BurnedInAnnotation = "NO"
    if modality in ("DX", "CR"):
        vp = view_position or ("PA" if body_part.upper() == "CHEST" else "LL")
        ds.ViewPosition = vp
        ds.ImagerPixelSpacing = [f"{spacing[0]:.4f}", f"{spacing[1]:.4f}"]
        ds.PresentationIntentType = "FOR PRESENTATION" if modality == "DX" else None
        if ds.PresentationIntentType is None:
            del ds.PresentationIntentType
    ds.PixelSpacing = [f"{spacing[0]:.4f}", f"{spacing[1]:.4f}"]
    ds.Rows, ds.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.WindowCenter = str(max_val // 2)
    ds.WindowWidth = str(max_val)
    ds.PixelData = pixels.tobytes()

    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()
