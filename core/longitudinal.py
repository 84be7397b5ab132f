"""Longitudinal follow-up of one pseudonymous subject: record tables and annualised change vs published rates.

Works on what :class:`core.store.Store` returns (``studies()`` records and the ``timeline()``
DataFrame); charts of the same data are in :mod:`core.viz.timeline`.

Annualised change is the linear rate between the first and the last brain record with the
measure (:func:`core.progression.annualised_change_pct`), in the form the published atrophy rates
of ../shared/FACTS.md section 3 are reported, so the two can be read side by side.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Sequence

import pandas as pd

from core.progression import annualised_change_pct
from core.store import BRAIN_TASK, StudyRecord


@dataclass(frozen=True)
class ReferenceRate:
    """A published annual rate of change (percent per year; negative = shrinkage)."""

    group: str
    rate_pct_per_year: float
    interval: str
    source: str


# FACTS.md section 3 (all [P]). Atrophy is reported as a loss; signs here are the direction of change.
REFERENCE_RATES: dict[str, tuple[ReferenceRate, ...]] = {
    "hippocampus": (
        # Barnes 2009 Neurobiol Aging 30:1711, meta-analysis of 595 AD / 212 CN
        ReferenceRate("cognitively normal", -1.41, "95% CI 0.52-2.30 %/y loss", "Barnes 2009 Neurobiol Aging 30:1711"),
        ReferenceRate("Alzheimer's disease", -4.66, "95% CI 3.92-5.40 %/y loss", "Barnes 2009 Neurobiol Aging 30:1711"),
        # Fraser 2015 NeuroImage 112:364, 28 studies, n=3,422, age 24.5-83
        ReferenceRate("healthy adults (pooled)", -0.85, "", "Fraser 2015 NeuroImage 112:364"),
    ),
    "brain": (
        # Fotenos 2005 Neurology 64:1032
        ReferenceRate("nondemented, >65 y", -0.45, "", "Fotenos 2005 Neurology 64:1032"),
        ReferenceRate("very mild dementia of the Alzheimer type", -0.98, "", "Fotenos 2005 Neurology 64:1032"),
    ),
    "ventricles": (
        # Ventricular volume on CT, vivo.weill.cornell.edu/display/pubid2785749 (FACTS.md section 3)
        ReferenceRate("controls (CT)", 2.0, "approximately", "vivo.weill.cornell.edu/display/pubid2785749"),
        ReferenceRate("Alzheimer's disease (CT)", 9.0, "approximately", "vivo.weill.cornell.edu/display/pubid2785749"),
    ),
}

# timeline column -> (display name, reference group key)
BRAIN_MEASURES: dict[str, tuple[str, str | None]] = {
    "volumes_ml.hippocampus_total": ("Hippocampus, total (mL)", "hippocampus"),
    "volumes_ml.hippocampus_left": ("Hippocampus, left (mL)", "hippocampus"),
    "volumes_ml.hippocampus_right": ("Hippocampus, right (mL)", "hippocampus"),
    "volumes_ml.brain": ("Brain (mL)", "brain"),
    "volumes_ml.lateral_ventricles": ("Lateral ventricles (mL)", "ventricles"),
    "volumes_ml.icv": ("Intracranial volume (mL)", None),
}
DAYS_PER_YEAR = 365.25


def reference_text(group: str | None) -> str:
    """Published rates of a reference group as one line, with citations."""
    if group is None:
        return "expected stable in adults (head size)"
    return "; ".join(f"{r.group}: {r.rate_pct_per_year:+.2f} %/y" + (f" ({r.interval})" if r.interval else "")
                     + f" [{r.source}]" for r in REFERENCE_RATES[group])


def brain_timeline(timeline: pd.DataFrame) -> pd.DataFrame:
    """The brain volumetry rows of a subject's timeline, oldest first, with a ``date`` of dtype datetime."""
    if timeline.empty or "task" not in timeline:
        return timeline.iloc[0:0]
    rows = timeline[(timeline["task"] == BRAIN_TASK) & (timeline["status"] == "ok")].copy()
    rows["date"] = pd.to_datetime(rows["date"])
    return rows.sort_values(["date", "id"]).reset_index(drop=True)


def annualised_changes(timeline: pd.DataFrame) -> pd.DataFrame:
    """Annualised change of each brain measure between the first and last brain record.

    Args:
        timeline: :meth:`core.store.Store.timeline` of one subject.
    Returns:
        One row per measure present in both records: ``measure``, ``first date``, ``last date``,
        ``years``, ``first``, ``last``, ``change %/y`` (None with a ``note`` when the two records share a
        date) and ``published rates`` (with citations). Empty when there are fewer than two brain records.
    """
    brain = brain_timeline(timeline)
    if len(brain) < 2:
        return pd.DataFrame(columns=["measure", "first date", "last date", "years", "first", "last", "change %/y",
                                     "published rates", "note"])
    first, last = brain.iloc[0], brain.iloc[-1]
    years = (last["date"] - first["date"]).days / DAYS_PER_YEAR
    rows = []
    for column, (name, group) in BRAIN_MEASURES.items():
        if column not in brain or pd.isna(first.get(column)) or pd.isna(last.get(column)):
            continue
        change, note = None, ""
        try:
            change = round(annualised_change_pct(float(first[column]), float(last[column]), years), 2)
        except ValueError as exc:
            note = str(exc)
        rows.append({"measure": name, "first date": first["date"].date().isoformat(),
                     "last date": last["date"].date().isoformat(), "years": round(years, 2),
                     "first": round(float(first[column]), 2), "last": round(float(last[column]), 2),
                     "change %/y": change, "published rates": reference_text(group), "note": note})
    return pd.DataFrame(rows)


def record_rows(records: Sequence[StudyRecord]) -> list[dict[str, Any]]:
    """Table rows of a subject's records, oldest study first: date, task, outcome, QC verdict and models."""
    rows = []
    for rec in records:
        failed = [q for q in rec.qc if not q.get("passed") and q.get("severity") == "error"]
        warned = [q for q in rec.qc if not q.get("passed") and q.get("severity") == "warning"]
        qc = "refused" if failed else "accepted" + (f", {len(warned)} warning(s)" if warned else "")
        rows.append({"id": rec.id, "date": rec.study_date or rec.recorded_at[:10],
                     "date given": rec.study_date is not None, "task": rec.task, "status": rec.status,
                     "prediction": rec.prediction or ("Unable to determine" if rec.status != "ok" else ""),
                     "confidence": None if rec.confidence is None else round(rec.confidence, 3),
                     "input": rec.source.split(" sha256:")[0], "modality": rec.modality, "QC": qc,
                     "QC reasons": " ".join(q.get("message", "") for q in failed),
                     "models": ", ".join(f"{k} {v}" for k, v in rec.model_versions.items())})
    return sorted(rows, key=lambda r: (r["date"], r["id"]))  # study time, not the order of saving


# core.io.deid's pseudonyms ("sub-" + 12 hex digits) may hold digit runs by chance: always accepted.
_DEID_PSEUDONYM = re.compile(r"^sub-[0-9a-f]{12}$")
_DIGIT_RUN = re.compile(r"\d{7,}")
_DATE_LIKE = re.compile(r"\b(19|20)\d{2}[-./]?\d{2}[-./]?\d{2}\b|\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b")


def pseudonym_problem(text: str | None) -> str | None:
    """Why ``text`` cannot be stored as a subject pseudonym, or None when it can.

    A pseudonym is a short code without spaces (``sub-1a2b3c``, ``P007``). Text that looks like a
    person's name (spaces), a record number (7+ digits in a row) or a date is refused: records
    must never hold identifying data.
    """
    value = (text or "").strip()
    if not value:
        return "Enter a pseudonymous subject ID (e.g. sub-001) to save a record."
    if len(value) > 64:
        return "The subject ID is too long (at most 64 characters)."
    if _DEID_PSEUDONYM.match(value):
        return None
    if any(ch.isspace() for ch in value):
        return "The subject ID contains spaces and may be a real name. Use a code such as sub-001."
    if _DIGIT_RUN.search(value):
        return "The subject ID contains a long number and may be a medical record or ID number. Use a code such as sub-001."
    if _DATE_LIKE.search(value):
        return "The subject ID looks like it contains a date (e.g. a birth date). Use a code such as sub-001."
    return None


def parse_study_date(text: str | None) -> str | None:
    """An ISO 8601 date (YYYY-MM-DD) from user text, None when blank.

    Raises:
        ValueError: with a user-facing message when the text is not such a date.
    """
    if text is None or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise ValueError(f"'{text.strip()}' is not an ISO 8601 date; write it as YYYY-MM-DD, e.g. 2024-03-31.") from None


__all__ = ["ReferenceRate", "REFERENCE_RATES", "BRAIN_MEASURES", "reference_text", "brain_timeline",
           "annualised_changes", "record_rows", "parse_study_date", "pseudonym_problem"]
