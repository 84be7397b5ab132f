"""Longitudinal record per pseudonymous subject (SQLAlchemy; SQLite file by default).

A record holds what a researcher needs to follow a subject over time: the task, its
status and prediction, probabilities, volumes and biomarkers, the QC report and the model
versions. It never holds pixels or identifying data: subjects are known only by the salted
pseudonym that :mod:`core.io.deid` derives (or a pseudonym the researcher typed in).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from core.types import QCReport, Result


BRAIN_TASK = "brain-mri"  # task name of brain volumetry records (not a registry task)


class _Base(DeclarativeBase):
    pass


class SubjectRow(_Base):
    __tablename__ = "subjects"

    pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StudyRow(_Base):
    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(ForeignKey("subjects.pseudonym"), index=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    study_date: Mapped[str | None] = mapped_column(String(10), nullable=True)  # ISO 8601 date the researcher gives
    task: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16))
    prediction: Mapped[str | None] = mapped_column(String(128), nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(String(256))  # display name + sha256 of the input bytes
    modality: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # probabilities, volumes, biomarkers...
    qc: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    model_versions: Mapped[dict[str, str]] = mapped_column(JSON)


@dataclass(frozen=True)
class StudyRecord:
    """One stored analysis, as plain data."""

    id: int
    subject: str
    recorded_at: str
    study_date: str | None
    task: str
    status: str
    prediction: str | None
    confidence: float | None
    source: str
    modality: str
    payload: Mapping[str, Any]
    qc: tuple[Mapping[str, Any], ...]
    model_versions: Mapping[str, str]


def _plain(value: Any) -> Any:
    """Turn numpy scalars/arrays, tuples and dataclass-ish mappings into JSON-safe values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        raise TypeError("arrays are not stored in the longitudinal record (no pixels by default)")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _numeric_leaves(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric values of nested mappings keyed by dotted path (``volumes_ml.icv``); bools excluded."""
    leaves: dict[str, float] = {}
    for key, value in mapping.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            leaves.update(_numeric_leaves(value, path + "."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            leaves[path] = value
    return leaves


def _without_arrays(value: Any) -> Any:
    """Drop numpy arrays at any depth (Grad-CAM maps per model, masks): records hold no pixels."""
    if isinstance(value, Mapping):
        return {k: _without_arrays(v) for k, v in value.items() if not isinstance(v, np.ndarray)}
    if isinstance(value, (list, tuple)):
        return [_without_arrays(v) for v in value if not isinstance(v, np.ndarray)]
    return value


def _stage_payload(stage: Any) -> dict[str, Any]:
    return {"label": stage.label, "status": stage.status, "source": stage.source, "confidence": stage.confidence,
            "probabilities": dict(stage.probabilities), "reasons": list(stage.reasons)}


def brain_payload(report: Any, risk: Any = None) -> dict[str, Any]:
    """The storable part of a :class:`core.brain.BrainReport` (and optional ProgressionRisk): volumes,
    ICV fractions, biomarkers, the three stages, the risk and timings; never masks or the scan."""
    biomarkers = report.biomarkers.as_dict()
    payload: dict[str, Any] = {
        "volumes_ml": dict(report.volumes_ml),
        "volumes_icv_fraction": dict(report.volumes_icv_fraction),
        "biomarkers": biomarkers,
        "stage": _stage_payload(report.stage),
        "stage_rule": _stage_payload(report.stage_rule),
        "stage_cnn": _stage_payload(report.stage_cnn),
        "stage_agreement": report.stage_agreement,
        "age_years": report.age_years,
        "sex": report.sex,
        "timings_s": dict(report.timings_s),
    }
    if risk is not None:
        payload["risk"] = {"current_stage": risk.current_stage, "next_stage": risk.next_stage,
                           "risks": dict(risk.risks), "annual_hazard": risk.annual_hazard,
                           "recommended_followup": risk.recommended_followup}
    return _plain(_without_arrays(payload))


def result_payload(result: Result) -> dict[str, Any]:
    """The storable part of a task Result (no heat maps, no pixels)."""
    return _plain({
        "labels": result.labels,
        "probabilities": result.probabilities,
        "per_model": result.per_model,
        "boxes": [{"label": b.label, "score": b.score, "x0": b.x0, "y0": b.y0, "x1": b.x1, "y1": b.y1}
                  for b in result.boxes],
        "reasons": result.reasons,
        "timings_s": result.timings_s,
        "extras": _without_arrays(result.extras),
        "kind": result.kind,
        "body_part": result.body_part,
    })


class Store:
    """Longitudinal store over any SQLAlchemy URL.

    Args:
        url: SQLAlchemy URL; ``sqlite:///path.sqlite`` by default (Settings.store_url).
            The parent folder of a SQLite file is created when missing.
    """

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url)
        _Base.metadata.create_all(self.engine)

    def add(self, *, subject: str, task: str, status: str, source: str, modality: str,
            payload: Mapping[str, Any], qc: QCReport, model_versions: Mapping[str, str] | None = None,
            prediction: str | None = None, confidence: float | None = None,
            study_date: str | None = None) -> int:
        """Store one analysis and return its id.

        Args:
            subject: pseudonym (never a real identifier).
            study_date: ISO 8601 date (YYYY-MM-DD) of the scan, when the researcher knows it.
        Raises:
            ValueError: when the subject is empty or the study date is not ISO 8601.
        """
        if not subject or not subject.strip():
            raise ValueError("A pseudonymous subject ID is needed to store a record.")
        if study_date is not None:
            datetime.strptime(study_date, "%Y-%m-%d")  # raises ValueError with the offending text
        now = datetime.now(timezone.utc)
        with Session(self.engine) as session, session.begin():
            if session.get(SubjectRow, subject) is None:
                session.add(SubjectRow(pseudonym=subject, created_at=now))
            row = StudyRow(subject=subject, recorded_at=now, study_date=study_date, task=task, status=status,
                           prediction=prediction, confidence=None if confidence is None else float(confidence),
                           source=source, modality=modality, payload=_plain(payload), qc=qc.to_records(),
                           model_versions=_plain(model_versions or {}))
            session.add(row)
            session.flush()
            return int(row.id)

    def add_result(self, result: Result, *, subject: str, source: str, modality: str,
                   study_date: str | None = None) -> int:
        """Store a task Result (status, prediction, probabilities, QC, model versions)."""
        return self.add(subject=subject, task=result.task, status=result.status, source=source, modality=modality,
                        payload=result_payload(result), qc=result.qc, model_versions=result.model_versions,
                        prediction=result.prediction, confidence=result.confidence, study_date=study_date)

    def add_brain_report(self, report: Any, *, subject: str, source: str, modality: str,
                         study_date: str | None = None, risk: Any = None, qc: QCReport | None = None) -> int:
        """Store a brain analysis (task ``"brain-mri"``); ``qc`` (the gates' report) is merged with the
        analysis' own QC warnings. Prediction and confidence are the combined stage's."""
        stage = report.stage
        full_qc = report.qc if qc is None else qc.merged(report.qc)
        cnn = report.cnn_result
        return self.add(subject=subject, task=BRAIN_TASK, status="ok", source=source, modality=modality,
                        payload=brain_payload(report, risk), qc=full_qc,
                        model_versions=dict(cnn.model_versions) if cnn is not None else {},
                        prediction=stage.label, confidence=stage.confidence, study_date=study_date)

    def subjects(self) -> list[str]:
        """All pseudonyms with at least one record, sorted."""
        with Session(self.engine) as session:
            return sorted(session.scalars(select(SubjectRow.pseudonym)))

    def studies(self, subject: str | None = None, task: str | None = None) -> list[StudyRecord]:
        """Records, oldest first, optionally for one subject and/or task."""
        query = select(StudyRow).order_by(StudyRow.recorded_at, StudyRow.id)
        if subject is not None:
            query = query.where(StudyRow.subject == subject)
        if task is not None:
            query = query.where(StudyRow.task == task)
        with Session(self.engine) as session:
            return [StudyRecord(
                id=r.id, subject=r.subject, recorded_at=r.recorded_at.isoformat(), study_date=r.study_date,
                task=r.task, status=r.status, prediction=r.prediction, confidence=r.confidence, source=r.source,
                modality=r.modality, payload=r.payload, qc=tuple(r.qc), model_versions=r.model_versions,
            ) for r in session.scalars(query)]

    def timeline(self, subject: str, task: str | None = None) -> pd.DataFrame:
        """One row per record with flattened numeric payload fields, for charts.

        Columns: ``date`` (study date, else record date), ``task``, ``status``, ``prediction``,
        ``confidence`` and every numeric leaf of the payload by dotted path (e.g.
        ``volumes_ml.hippocampus_left``).
        """
        rows = []
        for rec in self.studies(subject, task):
            row: dict[str, Any] = {"id": rec.id, "date": rec.study_date or rec.recorded_at[:10], "task": rec.task,
                                   "status": rec.status, "prediction": rec.prediction, "confidence": rec.confidence}
            row.update(_numeric_leaves(rec.payload))
            rows.append(row)
        return pd.DataFrame(rows)

    def export_json(self, subject: str) -> str:
        """Every record of a subject as JSON text (for download)."""
        return json.dumps([rec.__dict__ for rec in self.studies(subject)], indent=2, default=str)


def get_store(url: str | None = None) -> Store:
    """A Store on ``url`` or on Settings.store_url."""
    from core.config import get_settings

    return Store(url or get_settings().store_url)
