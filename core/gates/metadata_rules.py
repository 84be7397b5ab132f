"""Metadata rules: what DICOM tags and geometry say about image kind and body part.

Rules are data (:data:`RULES`, :data:`MODALITY_KIND`, :data:`BODY_PART_TERMS`) so that a site
can read and extend them. A rule *settles* an axis (kind or body part) only when the tags
say so plainly; whatever stays open is left to the learned gate (PNG/JPEG, DICOMs without
Modality or BodyPartExamined).

Tags are read from the de-identified ``Scan.meta`` written by :mod:`core.io`
(``dicom_modality``, ``body_part_examined``, ``image_type``, ``number_of_frames``,
``pixel_spacing_mm``, ``echo_time_ms``, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from core.types import Modality, Scan

#: DICOM Modality (0008,0060) -> image kind. Codes from DICOM PS3.3 C.7.3.1.1.1.
MODALITY_KIND: dict[str, str] = {
    "MR": "mri",
    "CT": "ct",
    "CR": "xray",  # computed radiography
    "DX": "xray",  # digital radiography
    "DR": "xray",  # retired code still written by some systems
    "RG": "xray",  # radiographic imaging (conventional film/screen)
    "MG": "xray",  # mammography
    "PX": "xray",  # panoramic dental
    "IO": "xray",  # intra-oral radiography
    "XC": "photo",  # external-camera photography
    "GM": "photo",  # general microscopy
    "SM": "photo",  # slide microscopy
    "OP": "photo",  # ophthalmic photography
    "ES": "photo",  # endoscopy
    "US": "other", "NM": "other", "PT": "other", "XA": "other", "RF": "other", "OCT": "other",
    "ECG": "other", "DOC": "other",
    # SC (secondary capture) and OT (other) deliberately absent: anything can be in them.
}

#: BodyPartExamined (0018,0015) defined terms (DICOM PS3.16 Annex L) -> gate body part.
BODY_PART_TERMS: dict[str, str] = {
    "HEAD": "brain", "BRAIN": "brain", "SKULL": "brain", "HEADNECK": "brain",
    "CHEST": "chest", "THORAX": "chest", "LUNG": "chest", "CHESTABDOMEN": "chest",
    "SPINE": "spine", "CSPINE": "spine", "TSPINE": "spine", "LSPINE": "spine", "SSPINE": "spine",
    "COCCYX": "spine", "WHOLESPINE": "spine", "CTSPINE": "spine", "TLSPINE": "spine", "LSSPINE": "spine",
    "KNEE": "knee",
    "ABDOMEN": "other", "PELVIS": "other", "HIP": "other", "SHOULDER": "other", "ELBOW": "other",
    "WRIST": "other", "HAND": "other", "FOOT": "other", "ANKLE": "other", "LEG": "other", "ARM": "other",
    "EXTREMITY": "other", "BREAST": "other", "NECK": "other", "HEART": "other", "FEMUR": "other",
    "TIBIA": "other", "HUMERUS": "other", "JAW": "other", "TMJ": "other", "KIDNEY": "other",
    "LIVER": "other", "WHOLEBODY": "other", "SHOULDERS": "other",
}


@dataclass(frozen=True)
class Rule:
    """One modality + body-part rule: when both match, kind and body part are settled."""

    modalities: tuple[str, ...]
    body_parts: tuple[str, ...]
    kind: str
    body_part: str


#: The combined rules as data (checked in order; the first match wins). Pairs not listed fall
#: back to MODALITY_KIND and BODY_PART_TERMS separately.
RULES: tuple[Rule, ...] = (
    Rule(("MR",), ("HEAD", "BRAIN", "SKULL", "HEADNECK"), "mri", "brain"),
    Rule(("MR",), ("KNEE",), "mri", "knee"),
    Rule(("MR",), ("SPINE", "CSPINE", "TSPINE", "LSPINE", "SSPINE", "WHOLESPINE"), "mri", "spine"),
    Rule(("CR", "DX", "DR", "RG"), ("CHEST", "THORAX", "LUNG"), "xray", "chest"),
    Rule(("CR", "DX", "DR", "RG"), ("SPINE", "CSPINE", "TSPINE", "LSPINE", "SSPINE", "WHOLESPINE", "COCCYX"),
         "xray", "spine"),
    Rule(("CR", "DX", "DR", "RG"), ("KNEE",), "xray", "knee"),
    Rule(("CT",), ("HEAD", "BRAIN", "SKULL"), "ct", "brain"),
    Rule(("CT",), ("CHEST", "THORAX", "LUNG"), "ct", "chest"),
)

#: A volume whose 1st intensity percentile is below this is CT (air is -1000 HU); MRI
#: magnitude images are never negative.
CT_AIR_HU = -500.0
#: Fewest slices for the geometry rule "a stack of slices is a tomogram (MRI or CT), not a radiograph".
MIN_TOMOGRAM_SLICES = 8
#: Projection radiographs have detector pixels of about 0.1-0.2 mm over a field of 180 mm or more;
#: MRI and CT in-plane pixels are rarely below 0.25 mm.
XRAY_MAX_PIXEL_MM = 0.25
XRAY_MIN_FIELD_MM = 150.0


#: MRI field of view (mm, shorter in-plane side) below which a whole head does not fit, and above
#: which a knee protocol is unlikely (knee MRI fields are typically 140-160 mm, head fields 200-250 mm).
#: Soft evidence only: the body-part probability is multiplied, never zeroed.
MR_HEAD_MIN_FIELD_MM = 180.0
MR_KNEE_MAX_FIELD_MM = 200.0
FIELD_PRIOR_FACTOR = 0.3
#: Radiograph field (mm, shorter side) below which an adult chest film is unlikely: chest films are
#: taken on 35 x 43 cm (14 x 17 in) or 43 x 43 cm detectors collimated to both lungs, while lateral
#: cervical-spine and knee films use 18 x 24 or 24 x 30 cm fields. Soft evidence only (children's
#: chests are smaller): the chest probability is multiplied by FIELD_PRIOR_FACTOR, never zeroed.
XRAY_CHEST_MIN_FIELD_MM = 250.0
#: MRI radio-frequency coil names (TransmitCoilName / ReceiveCoilName, upper-cased substrings) that
#: name the anatomy they are built for -> body part. A head coil images heads (and sometimes the
#: upper neck), a knee coil knees; flexible/body coils name nothing. Soft evidence: the other body
#: parts' probabilities are multiplied by FIELD_PRIOR_FACTOR (and again by the field-of-view rule).
MR_COIL_BODY_PART: tuple[tuple[str, str], ...] = (("HEAD", "brain"), ("BRAIN", "brain"), ("KNEE", "knee"))
_BODY_PARTS = ("brain", "knee", "spine", "chest", "other")


@dataclass(frozen=True)
class MetadataFindings:
    """What the metadata settles; None where it says nothing.

    Attributes:
        kind: settled image kind, or None.
        body_part: settled body part, or None.
        evidence: one sentence per rule that fired (for the QC report).
        body_part_prior: soft multipliers for body-part probabilities from geometry
            (e.g. ``{"brain": 0.3}`` for an MRI field too small for a head).
    """

    kind: str | None = None
    body_part: str | None = None
    evidence: tuple[str, ...] = ()
    body_part_prior: dict[str, float] | None = None


def _norm_term(value: object) -> str:
    return re.sub(r"[^A-Z]", "", str(value or "").upper())


def _dicom_modality(scan: Scan) -> str:
    raw = _norm_term(scan.meta.get("dicom_modality"))
    if raw:
        return raw
    return scan.modality.value if scan.modality not in (Modality.UNKNOWN, Modality.PHOTO) else ""


def _is_derived_or_localizer(scan: Scan) -> bool:
    image_type = scan.meta.get("image_type") or []
    terms = {_norm_term(t) for t in (image_type if isinstance(image_type, (list, tuple)) else [image_type])}
    return bool(terms & {"LOCALIZER", "SCOUT"})


def _coil_body_part(scan: Scan) -> str | None:
    """Body part named by the MRI coil, when exactly one is named."""
    names = " ".join(str(n) for n in (scan.meta.get("coil_names") or [])).upper()
    parts = {part for term, part in MR_COIL_BODY_PART if term in names}
    return parts.pop() if len(parts) == 1 else None


def apply_rules(scan: Scan) -> MetadataFindings:
    """Settle kind and body part from DICOM tags and geometry where they say so plainly.

    Order: (1) a modality + BodyPartExamined rule from :data:`RULES`; (2) Modality alone
    (:data:`MODALITY_KIND`) and BodyPartExamined alone (:data:`BODY_PART_TERMS`);
    (3) geometry and intensities when Modality is absent: a stack of slices is MRI or CT
    (negative air values mean CT); a single DICOM frame with fine detector pixels over a
    wide field and no MR timing tags is a radiograph; (4) PHOTO modality set by the loader;
    (5) soft body-part priors where the body part is still open: an MRI coil that names its
    anatomy (head or knee coil) and otherwise the field of view: an MRI
    field too small for a head or too large for a knee, a radiograph field too small for an
    adult chest film.
    """
    modality = _dicom_modality(scan)
    body_term = _norm_term(scan.meta.get("body_part_examined"))
    evidence: list[str] = []
    kind: str | None = None
    part: str | None = None

    for rule in RULES:
        if modality in rule.modalities and body_term in rule.body_parts:
            kind, part = rule.kind, rule.body_part
            evidence.append(f"DICOM Modality {modality} with BodyPartExamined {body_term}")
            break
    if kind is None and modality in MODALITY_KIND:
        kind = MODALITY_KIND[modality]
        evidence.append(f"DICOM Modality {modality}")
    if part is None and body_term in BODY_PART_TERMS:
        part = BODY_PART_TERMS[body_term]
        evidence.append(f"DICOM BodyPartExamined {body_term}")

    if kind is None and scan.modality is Modality.PHOTO:
        kind = "photo"
        evidence.append("the loader marked it as a photograph")

    if kind is None and scan.is_volume and scan.shape[2] >= MIN_TOMOGRAM_SLICES:
        p1 = float(np.percentile(scan.array[0][:: 2, :: 2, :: 2], 1.0))
        kind = "ct" if p1 < CT_AIR_HU else "mri"
        evidence.append(
            f"a stack of {scan.shape[2]} slices whose lowest intensities are "
            + ("CT air values (below -500 HU)" if kind == "ct" else "non-negative (MRI magnitude)"))

    if kind is None and scan.meta.get("format") == "dicom" and not scan.is_volume and not modality:
        spacing = scan.meta.get("pixel_spacing_mm")
        no_mr_timing = scan.meta.get("echo_time_ms") in (None, "") and scan.meta.get("repetition_time_ms") in (None, "")
        if spacing and no_mr_timing:
            px_mm = float(min(spacing))
            field_mm = px_mm * min(scan.shape[0], scan.shape[1])
            if px_mm <= XRAY_MAX_PIXEL_MM and field_mm >= XRAY_MIN_FIELD_MM:
                kind = "xray"
                evidence.append(f"a single DICOM frame with {px_mm:.3f} mm detector pixels over {field_mm:.0f} mm "
                                "and no MR timing tags (a projection radiograph)")
    if _is_derived_or_localizer(scan):
        evidence.append("ImageType marks a localizer/scout image")
    prior = None
    geometry_known = scan.meta.get("spacing_known", True) and scan.meta.get("format") == "dicom"
    if kind == "xray" and part is None and geometry_known and not scan.is_volume:
        sx, sy, _ = scan.spacing
        field_mm = min(scan.shape[0] * sx, scan.shape[1] * sy)
        if field_mm < XRAY_CHEST_MIN_FIELD_MM:
            prior = {"chest": FIELD_PRIOR_FACTOR}
            evidence.append(f"a radiograph field of {field_mm:.0f} mm, small for an adult chest film")
    if kind == "mri" and part is None:
        coil_part = _coil_body_part(scan)
        if coil_part is not None:
            prior = {p: FIELD_PRIOR_FACTOR for p in _BODY_PARTS if p != coil_part}
            evidence.append(f"an MRI {coil_part if coil_part != 'brain' else 'head'} coil "
                            f"({', '.join(scan.meta['coil_names'])})")
    if kind == "mri" and part is None and geometry_known:
        # the coil and the field of view are separate pieces of evidence: their factors multiply
        sx, sy, _ = scan.spacing
        field_mm = min(scan.shape[0] * sx, scan.shape[1] * sy)
        field_prior = None
        if field_mm < MR_HEAD_MIN_FIELD_MM:
            field_prior = {"brain": FIELD_PRIOR_FACTOR}
            evidence.append(f"an MRI field of view of {field_mm:.0f} mm, small for a whole head")
        elif field_mm > MR_KNEE_MAX_FIELD_MM:
            field_prior = {"knee": FIELD_PRIOR_FACTOR}
            evidence.append(f"an MRI field of view of {field_mm:.0f} mm, large for a knee")
        if field_prior is not None:
            prior = {p: (prior or {}).get(p, 1.0) * field_prior.get(p, 1.0) for p in {*(prior or {}), *field_prior}}
    return MetadataFindings(kind, part, tuple(evidence), prior)


__all__ = ["MODALITY_KIND", "BODY_PART_TERMS", "Rule", "RULES", "MetadataFindings", "apply_rules"]
