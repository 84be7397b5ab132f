"""Plain-data results of the brain analysis (frozen dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from core.types import QCReport, Scan

STAGE_LABELS: tuple[str, ...] = ("Non-Demented", "Very Mild Dementia", "Mild Dementia", "Moderate Dementia")
UNABLE = "Unable to determine"
GRADES: tuple[str, ...] = ("none", "mild", "moderate", "severe")


@dataclass(frozen=True)
class Biomarkers:
    """Volumetric biomarkers compared with norms.

    Percentiles are 0..100 and None when they cannot be computed (then
    ``percentile_unavailable_reason`` says why). Grades are one of :data:`GRADES`.
    """

    hippocampal_volume_percentile: float | None
    hippocampus_left_percentile: float | None
    hippocampus_right_percentile: float | None
    ventricle_percentile: float | None
    ventricle_left_percentile: float | None
    ventricle_right_percentile: float | None
    ventricle_enlargement: str
    cortical_thinning: str
    cortical_thickness_mm: float
    norm_source: str
    hippocampal_volume_z: float | None = None
    ventricle_z: float | None = None
    hippocampus_raw_percentile_pcn: float | None = None
    ventricles_total_percentile_braincharts: float | None = None
    percentile_unavailable_reason: str = ""
    grading_basis: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)

    def __getitem__(self, key: str) -> Any:  # mapping-style access for the original API shape
        return getattr(self, key)


@dataclass(frozen=True)
class Stage:
    """A 4-class dementia stage.

    Attributes:
        label: one of :data:`STAGE_LABELS`, or ``"Unable to determine"``.
        probabilities: label -> probability (empty when unavailable).
        status: ``"ok"``, ``"unable_to_determine"`` or ``"unavailable"`` (that method could not run).
        source: ``"rule"``, ``"cnn"`` or ``"combined"``.
        reasons: why the stage is not ``ok``, or how it was derived.
        confidence: the top probability, when there is one.
    """

    label: str
    probabilities: Mapping[str, float]
    status: str
    source: str
    reasons: tuple[str, ...] = ()
    confidence: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class BrainReport:
    """Everything :func:`core.brain.analyze` measured for one T1 volume.

    Attributes:
        volumes_ml: icv, brain, gm, wm, csf, hippocampus_left/right/total, lateral_ventricles
            (+ lateral_ventricle_left/right), mL.
        volumes_icv_fraction: the same volumes divided by ICV.
        biomarkers: percentiles and grades (:class:`Biomarkers`).
        stage: the combined stage; ``stage_rule`` / ``stage_cnn`` the two methods;
            ``stage_agreement`` True/False when both gave a label, else None.
        masks: name -> bool array (X, Y, Z) on ``scan``'s grid (RAS+): brain, icv, gm, wm, csf,
            hippocampus_left, hippocampus_right, lateral_ventricles.
        timings_s: seconds per pipeline stage plus ``total``.
        qc: warnings (thick slices, missing age, registration quality...).
        scan: the preprocessed (RAS+, resampled, bias-corrected) scan the masks live on.
        history: preprocessing and analysis steps, in order.
        cnn_result: the Alzheimer's task Result when it ran (holds ``cam``), else None.
        details: tissue intensities, registration similarity, norms used.
    """

    volumes_ml: Mapping[str, float]
    volumes_icv_fraction: Mapping[str, float]
    biomarkers: Biomarkers
    stage: Stage
    stage_rule: Stage
    stage_cnn: Stage
    stage_agreement: bool | None
    masks: Mapping[str, np.ndarray]
    timings_s: Mapping[str, float]
    qc: QCReport
    scan: Scan
    history: tuple[str, ...]
    age_years: float | None = None
    sex: str | None = None
    cnn_result: Any = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """Always ``"ok"``: refused inputs raise :class:`core.types.RejectedInput` instead."""
        return "ok"
