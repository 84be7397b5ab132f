"""Central data types shared by every part of RadLens.

All results are frozen dataclasses of plain data so they can be cached, stored,
serialised and rendered without touching a model again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np


class Modality(str, enum.Enum):
    """Imaging modality of a scan (DICOM codes where one exists)."""

    MR = "MR"
    CT = "CT"
    CR = "CR"  # computed radiography
    DX = "DX"  # digital radiography
    PHOTO = "PHOTO"  # photograph or other non-medical image
    UNKNOWN = "UNKNOWN"  # raster without tags; kind is inferred later by the gates

    @property
    def is_xray(self) -> bool:
        return self in (Modality.CR, Modality.DX)


@dataclass(frozen=True)
class Scan:
    """A loaded, de-identified image in RAS+ world space.

    Attributes:
        array: float32 voxels, channel-first ``(C, X, Y, Z)``; a 2D image has ``Z == 1``.
            RGB rasters have ``C == 3``; everything else ``C == 1``.
        affine: 4x4 voxel -> world (mm, RAS+) matrix. Spacing is derived from it.
        modality: Modality from DICOM tags, or ``UNKNOWN`` for plain rasters.
        meta: de-identified header subset (never contains PHI).
        source: display name plus sha256 of the input bytes, e.g. ``"scan.nii.gz sha256:ab12..."``.
        history: preprocessing steps applied, in order.
        subject_pseudonym: salted hash of the patient identifier, or None when the
            input carries no identifier.
    """

    array: np.ndarray
    affine: np.ndarray
    modality: Modality
    meta: Mapping[str, Any]
    source: str
    history: tuple[str, ...] = ()
    subject_pseudonym: str | None = None

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along X, Y, Z, derived from the affine."""
        return tuple(float(v) for v in np.linalg.norm(self.affine[:3, :3], axis=0))  # type: ignore[return-value]

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """Alias of :attr:`spacing` with the unit in the name."""
        return self.spacing

    @property
    def shape(self) -> tuple[int, int, int]:
        """Spatial shape ``(X, Y, Z)``."""
        return tuple(int(v) for v in self.array.shape[1:4])  # type: ignore[return-value]

    @property
    def is_volume(self) -> bool:
        """True when the scan has more than one slice along Z."""
        return self.array.shape[3] > 1

    @property
    def is_2d(self) -> bool:
        return not self.is_volume

    @property
    def display_name(self) -> str:
        return self.source.split(" sha256:")[0]

    def with_history(self, step: str, **changes: Any) -> "Scan":
        """Return a copy with ``changes`` applied and ``step`` appended to the history."""
        from dataclasses import replace

        return replace(self, history=self.history + (step,), **changes)


class Severity(str, enum.Enum):
    """How much a failed check matters."""

    INFO = "info"
    WARNING = "warning"  # analysis runs, reliability lower; shown to the user
    ERROR = "error"  # input refused


@dataclass(frozen=True)
class Check:
    """One coded QC check.

    Attributes:
        code: stable machine-readable code, e.g. ``"file_too_large"``.
        passed: whether the input passed this check.
        severity: consequence when it failed.
        message: user-facing sentence: what is wrong and what is accepted.
        value: the measured value, when there is one (for display and records).
    """

    code: str
    passed: bool
    severity: Severity
    message: str
    value: Any = None


@dataclass(frozen=True)
class QCReport:
    """Outcome of the input gates for one input."""

    checks: tuple[Check, ...] = ()

    @property
    def accepted(self) -> bool:
        """False when any check with severity ERROR failed."""
        return not any((not c.passed) and c.severity is Severity.ERROR for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed and c.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed and c.severity is Severity.WARNING)

    @property
    def reasons(self) -> tuple[str, ...]:
        """User-facing messages of the failed ERROR checks."""
        return tuple(c.message for c in self.failures)

    def merged(self, other: "QCReport") -> "QCReport":
        return QCReport(self.checks + other.checks)

    def to_records(self) -> list[dict[str, Any]]:
        """Plain rows for tables, stores and reports."""
        return [
            {"code": c.code, "passed": c.passed, "severity": c.severity.value, "message": c.message,
             "value": None if c.value is None else str(c.value)}
            for c in self.checks
        ]


@dataclass(frozen=True)
class Box:
    """A detection box in pixel coordinates of the displayed 2D image (x: column, y: row)."""

    label: str
    score: float
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class Result:
    """Plain-data outcome of a task.

    ``labels`` and ``probabilities`` are aligned. When rejected, ``status == "rejected"``
    and ``reasons`` says why; probabilities may still hold the top candidates for display
    but ``prediction`` is None.
    """

    task: str
    status: str  # "ok" | "rejected"
    labels: tuple[str, ...] = ()
    probabilities: tuple[float, ...] = ()
    prediction: str | None = None
    confidence: float | None = None
    per_model: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    boxes: tuple[Box, ...] = ()
    cam: np.ndarray | None = None  # (X, Y) or (X, Y, Z) heat map in [0, 1] on the scan grid
    reasons: tuple[str, ...] = ()
    qc: QCReport = field(default_factory=QCReport)
    model_versions: Mapping[str, str] = field(default_factory=dict)
    timings_s: Mapping[str, float] = field(default_factory=dict)
    extras: Mapping[str, Any] = field(default_factory=dict)  # task-specific plain data
    kind: Mapping[str, float] | None = None  # input-gate: image kind -> probability
    body_part: Mapping[str, float] | None = None  # input-gate: body part -> probability

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class RejectedInput(Exception):
    """An input a user supplied that a task or gate refuses; ``str()`` is the user-facing reason."""


from typing import Protocol, runtime_checkable  # noqa: E402  (kept beside the Task protocol it serves)


@runtime_checkable
class Task(Protocol):
    """One clinical question: gate -> preprocess -> forward -> postprocess -> Result."""

    name: str
    labels: tuple[str, ...]

    def __call__(self, scan: Scan) -> Result: ...
