"""De-identification of DICOM headers and subject pseudonyms.

Policy: metadata leaving :mod:`core.io` is built from an explicit allow-list of
technical tags (:data:`SAFE_META_KEYWORDS`); on top of that,
:data:`IDENTIFYING_KEYWORDS` encodes the DICOM PS3.15 Annex E Basic Application
Level Confidentiality Profile identifiers (Table E.1-1) and any metadata key or
value matching them is refused. Private tags are never copied, nor are free-text
tags (descriptions, comments, protocol names).

Source of the identifier list: DICOM PS3.15 Annex E, Table E.1-1, as summarised in
/work/shared/FACTS.md section 9 (from innolitics/dicom-standard
``standard/confidentiality_profile_attributes.json``, commit 7f4749d, 2025-01-28).
Action codes: X remove, Z empty/dummy, D dummy, U new UID.
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable, Mapping

#: PS3.15 Annex E Table E.1-1 (Basic Profile) identifiers: keyword -> (tag, action).
#: Citation: DICOM PS3.15 Annex E Table E.1-1 via /work/shared/FACTS.md section 9.
BASIC_PROFILE: Mapping[str, tuple[str, str]] = {
    "PatientName": ("0010,0010", "Z"),
    "PatientID": ("0010,0020", "Z/D"),
    "IssuerOfPatientID": ("0010,0021", "X"),
    "OtherPatientIDs": ("0010,1000", "X"),
    "OtherPatientIDsSequence": ("0010,1002", "X"),
    "OtherPatientNames": ("0010,1001", "X"),
    "PatientBirthDate": ("0010,0030", "Z"),
    "PatientBirthTime": ("0010,0032", "X"),
    "PatientSex": ("0010,0040", "Z"),
    "PatientAge": ("0010,1010", "X"),
    "PatientSize": ("0010,1020", "X"),
    "PatientWeight": ("0010,1030", "X"),
    "PatientAddress": ("0010,1040", "X"),
    "PatientTelephoneNumbers": ("0010,2154", "X"),
    "PatientMotherBirthName": ("0010,1060", "X"),
    "MedicalRecordLocator": ("0010,1090", "X"),
    "EthnicGroup": ("0010,2160", "X"),
    "Occupation": ("0010,2180", "X"),
    "AdditionalPatientHistory": ("0010,21B0", "X"),
    "PatientComments": ("0010,4000", "X"),
    "AccessionNumber": ("0008,0050", "Z"),
    "StudyID": ("0020,0010", "Z"),
    "AdmissionID": ("0038,0010", "X"),
    "RequestAttributesSequence": ("0040,0275", "X"),
    "StudyInstanceUID": ("0020,000D", "U"),
    "SeriesInstanceUID": ("0020,000E", "U"),
    "SOPInstanceUID": ("0008,0018", "U"),
    "FrameOfReferenceUID": ("0020,0052", "U"),
    "StudyDate": ("0008,0020", "Z"),
    "StudyTime": ("0008,0030", "Z"),
    "SeriesDate": ("0008,0021", "X/D"),
    "AcquisitionDate": ("0008,0022", "X/Z"),
    "AcquisitionDateTime": ("0008,002A", "X/Z/D"),
    "ContentDate": ("0008,0023", "Z/D"),
    "InstitutionName": ("0008,0080", "X/Z/D"),
    "InstitutionAddress": ("0008,0081", "X"),
    "InstitutionalDepartmentName": ("0008,1040", "X"),
    "ReferringPhysicianName": ("0008,0090", "Z"),
    "PerformingPhysicianName": ("0008,1050", "X"),
    "NameOfPhysiciansReadingStudy": ("0008,1060", "X"),
    "OperatorsName": ("0008,1070", "X/Z/D"),
    "RequestingPhysician": ("0032,1032", "X"),
    "StationName": ("0008,1010", "X/Z/D"),
    "DeviceSerialNumber": ("0018,1000", "X/Z/D"),
    "ProtocolName": ("0018,1030", "X/D"),
    "StudyDescription": ("0008,1030", "X"),
    "SeriesDescription": ("0008,103E", "X"),
    "ImageComments": ("0020,4000", "X"),
    "ReferencedImageSequence": ("0008,1140", "X/Z/U*"),
    "OverlayData": ("60xx,3000", "X"),
}

#: Keywords whose values identify (or may identify) the patient; never copied out of core.io.
IDENTIFYING_KEYWORDS: frozenset[str] = frozenset(BASIC_PROFILE)

#: Technical tags that may be copied into Scan.meta (allow-list; everything else stays behind).
SAFE_META_KEYWORDS: frozenset[str] = frozenset({
    "Modality", "BodyPartExamined", "ImageType", "PhotometricInterpretation", "BitsStored", "BitsAllocated",
    "Rows", "Columns", "PixelSpacing", "ImagerPixelSpacing", "SliceThickness", "SpacingBetweenSlices",
    "Manufacturer", "ManufacturerModelName", "MagneticFieldStrength", "RepetitionTime", "EchoTime",
    "InversionTime", "FlipAngle", "ViewPosition", "PatientOrientation", "NumberOfFrames", "SeriesNumber",
    "ImageOrientationPatient", "SamplesPerPixel", "PixelRepresentation", "KVP", "ConvolutionKernel",
    "MRAcquisitionType", "ScanningSequence", "SequenceVariant", "Laterality", "ImageLaterality",
    # RF coil model names (e.g. "TxRx_Head", "HeadNeck_20", "Knee 8ch"): equipment, not person data;
    # not in the PS3.15 basic profile list. The input gate reads them as body-part evidence.
    "TransmitCoilName", "ReceiveCoilName",
})

_PERSON_NAME_KEYWORDS = frozenset({
    "PatientName", "OtherPatientNames", "PatientMotherBirthName", "ReferringPhysicianName",
    "PerformingPhysicianName", "NameOfPhysiciansReadingStudy", "OperatorsName", "RequestingPhysician",
})

_PSEUDONYM_PREFIX = "sub-"
_PSEUDONYM_HEX = 12


def _clean(value: Any) -> str:
    return "" if value is None else str(value).strip()


def pseudonymize(identifier: str, salt: str | None = None) -> str:
    """Stable pseudonym: ``"sub-"`` + the first 12 hex digits of ``sha256(salt + identifier)``.

    Args:
        identifier: the patient identifier (never stored or logged).
        salt: secret salt; defaults to ``Settings.pseudonym_salt``. Nothing else enters the hash,
            so the same subject gets the same pseudonym on every study at one site.
    """
    if salt is None:
        from core.config import get_settings

        salt = get_settings().pseudonym_salt
    digest = hashlib.sha256((salt + identifier).encode("utf-8")).hexdigest()
    return _PSEUDONYM_PREFIX + digest[:_PSEUDONYM_HEX]


def subject_identifier(ds: Any) -> str | None:
    """PatientID, else PatientName + PatientBirthDate, else None (no identifier in the header)."""
    pid = _clean(ds.get("PatientID"))
    if pid:
        return pid
    name = _clean(ds.get("PatientName"))
    if name:
        return name + _clean(ds.get("PatientBirthDate"))
    return None


def subject_pseudonym(ds: Any, salt: str | None = None) -> str | None:
    """Pseudonym of the subject of a DICOM dataset, or None when it carries no identifier."""
    ident = subject_identifier(ds)
    return None if ident is None else pseudonymize(ident, salt)


def identifying_values(ds: Any) -> list[str]:
    """All non-empty string values of the identifying tags of ``ds`` (used to scrub names, in tests)."""
    out: list[str] = []
    for kw in IDENTIFYING_KEYWORDS:
        value = ds.get(kw) if hasattr(ds, "get") else None
        if value is None or kw.endswith("Sequence") or kw == "OverlayData":
            continue
        text = _clean(value)
        if text:
            out.append(text)
            if kw in _PERSON_NAME_KEYWORDS:  # person names: components separately too (Doe^John)
                out.extend(p for p in text.replace("^", " ").split() if p)
    return out


def _distinctive(value: str) -> bool:
    """Long enough to mean something inside a file name (not '001', not 'M')."""
    has_letter = any(ch.isalpha() for ch in value)
    return (has_letter and len(value) >= 3) or (value.isdigit() and len(value) >= 6) or len(value) >= 8


def safe_name(name: str, ds_list: Iterable[Any]) -> str:
    """A file name fit for display: replaced by a neutral one when it contains an identifier."""
    low = name.lower()
    for ds in ds_list:
        for value in identifying_values(ds):
            if _distinctive(value) and value.lower() in low:
                suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
                return "upload" + suffix
    return name


def deidentify_dataset(ds: Any) -> Any:
    """Copy of a pydicom Dataset with Basic Profile identifiers and private tags removed.

    Marks the copy with PatientIdentityRemoved = "YES" and DeidentificationMethod (PS3.3 C.7.1.1).
    Meant for exports; :mod:`core.io` itself only copies allow-listed tags into Scan.meta.
    """
    import copy

    out = copy.deepcopy(ds)
    out.remove_private_tags()
    for kw in IDENTIFYING_KEYWORDS - {"OverlayData"}:  # a repeating group (60xx), removed by tag below
        if kw in out:
            delattr(out, kw)
    for elem in list(out):
        if elem.tag.group & 0xFF00 == 0x6000 and elem.tag.element == 0x3000:  # OverlayData 60xx,3000
            del out[elem.tag]
    out.PatientIdentityRemoved = "YES"
    out.DeidentificationMethod = "RadLens: PS3.15 Basic Profile identifiers and private tags removed"
    return out


def assert_safe_meta(meta: Mapping[str, Any]) -> None:
    """Raise RuntimeError (a bug, not a user error) when a metadata key names an identifying attribute."""
    lowered = {k.lower() for k in IDENTIFYING_KEYWORDS}
    for key in meta:
        if key.replace("_", "").lower() in lowered:
            raise RuntimeError(f"identifying key {key!r} must not leave core.io")


__all__ = ["BASIC_PROFILE", "IDENTIFYING_KEYWORDS", "SAFE_META_KEYWORDS", "pseudonymize", "subject_identifier",
           "subject_pseudonym", "identifying_values", "safe_name", "deidentify_dataset", "assert_safe_meta"]
