"""Build small DICOM files in memory for the core.io tests (fake identifiers, several transfer syntaxes)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (JPEG2000Lossless, JPEGBaseline8Bit, ExplicitVRLittleEndian, RLELossless, generate_uid)

#: Fake identifying values put into generated files; none may ever reach a Scan or a log line.
FAKE_IDENTITY = {
    "PatientName": "Fakename^Zelda^Q",
    "PatientID": "FAKEPID-90210",
    "PatientBirthDate": "19310417",
    "InstitutionName": "Saint Nowhere Fictional Hospital",
    "InstitutionAddress": "42 Imaginary Lane, Nowhereville",
    "ReferringPhysicianName": "Quackenbush^Hugo",
    "AccessionNumber": "ACC7781234",
    "StudyID": "STUDY55512",
    "StudyDate": "20190923",
    "StationName": "SCANNER-ROOM-7B",
    "OperatorsName": "Operatorperson^Olga",
    "SeriesDescription": "Zelda knee left secret protocol",
    "StudyDescription": "Follow-up for Zelda Fakename",
    "ProtocolName": "ProtoZeldaFakename",
    "ImageComments": "patient Zelda Fakename was anxious",
    "DeviceSerialNumber": "SN-00998877",
}

SERIES_UID_A = "1.2.826.0.1.3680043.8.498.11111111111111111111"
SERIES_UID_B = "1.2.826.0.1.3680043.8.498.22222222222222222222"
STUDY_UID = "1.2.826.0.1.3680043.8.498.33333333333333333333"


def phantom(rows: int = 64, cols: int = 80, seed: int = 0, bits: int = 12) -> np.ndarray:
    """A structured uint16 test image: a bright disc and a gradient (not constant, not noise only)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:rows, :cols]
    img = 200 + 5 * xx + 2 * yy
    img = img + 1500 * (((yy - rows / 2) ** 2 + (xx - cols / 3) ** 2) < (min(rows, cols) / 4) ** 2)
    img = img + rng.integers(0, 20, size=img.shape)
    return np.clip(img, 0, 2**bits - 1).astype(np.uint16)


def make_dataset(pixels: np.ndarray, *, modality: str = "MR", photometric: str = "MONOCHROME2", bits: int = 12,
                 slope: float | None = None, intercept: float | None = None, window: tuple[float, float] | None = None,
                 position: tuple[float, float, float] | None = (0.0, 0.0, 0.0),
                 orientation: tuple[float, ...] | None = (1, 0, 0, 0, 1, 0), spacing: tuple[float, float] = (0.5, 0.8),
                 thickness: float = 2.0, series_uid: str = SERIES_UID_A, series_number: int = 1, instance: int = 1,
                 identity: dict[str, str] | None = None, body_part: str | None = "KNEE",
                 private: bool = True) -> Dataset:
    """A DICOM dataset (uncompressed) around ``pixels`` (rows, cols) or (frames, rows, cols) uint16/uint8."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = pydicom.uid.MRImageStorage if modality == "MR" else \
        pydicom.uid.DigitalXRayImageStorageForPresentation
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[series_uid, str(instance)])
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = STUDY_UID
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = STUDY_UID + ".1"
    ds.Modality = modality
    ds.SeriesNumber = series_number
    ds.InstanceNumber = instance
    ds.Manufacturer = "RadLens Test Factory"
    if body_part:
        ds.BodyPartExamined = body_part
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    for kw, value in (FAKE_IDENTITY if identity is None else identity).items():
        setattr(ds, kw, value)
    ds.PixelSpacing = [spacing[0], spacing[1]]
    ds.SliceThickness = thickness
    if position is not None:
        ds.ImagePositionPatient = list(position)
    if orientation is not None:
        ds.ImageOrientationPatient = list(orientation)
    if slope is not None:
        ds.RescaleSlope = slope
        ds.RescaleIntercept = intercept or 0.0
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    if private:
        block = ds.private_block(0x0011, "RADLENS FAKE PRIVATE", create=True)
        block.add_new(0x01, "LO", "private-Zelda-Fakename-secret")
    arr = np.asarray(pixels)
    ds.set_pixel_data(arr, photometric, bits)
    return ds


def to_bytes(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def make_dicom(pixels: np.ndarray, transfer_syntax: str = "explicit", **kwargs) -> bytes:
    """DICOM bytes; ``transfer_syntax`` in explicit | rle | j2k | jpeg (8-bit baseline, via Pillow)."""
    if transfer_syntax == "jpeg":
        from PIL import Image

        arr8 = np.asarray(pixels).astype(np.uint8)
        ds = make_dataset(arr8, bits=8, **kwargs)
        buf = io.BytesIO()
        Image.fromarray(arr8).save(buf, format="JPEG", quality=95)
        ds.PixelData = encapsulate([buf.getvalue()])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
        ds.LossyImageCompression = "01"
        return to_bytes(ds)
    ds = make_dataset(pixels, **kwargs)
    if transfer_syntax == "rle":
        ds.compress(RLELossless)
    elif transfer_syntax == "j2k":
        ds.compress(JPEG2000Lossless)
    elif transfer_syntax != "explicit":
        raise ValueError(transfer_syntax)
    return to_bytes(ds)


def make_series(n: int = 4, series_uid: str = SERIES_UID_A, series_number: int = 1, rows: int = 64,
                cols: int = 80, step_mm: float = 2.5, seed: int = 0, **kwargs) -> list[bytes]:
    """``n`` axial slices (z = 10 + i * step_mm), each slice filled with a different offset (slice i has +100*i)."""
    out = []
    for i in range(n):
        px = phantom(rows, cols, seed=seed) + np.uint16(100 * i)
        out.append(make_dicom(px, position=(-20.0, -30.0, 10.0 + i * step_mm), series_uid=series_uid,
                              series_number=series_number, instance=i + 1, **kwargs))
    return out


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()
