"""Routing: the image kind and body part of a scan, from metadata first and the learned gate second."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.gates.expectations import BODY_PARTS, KINDS, KNOWN_PAIRS
from core.gates.learned import GateOutput, get_learned_gate
from core.gates.metadata_rules import MetadataFindings, apply_rules
from core.types import Scan


@dataclass(frozen=True)
class Routing:
    """Where a scan belongs, with the source of each answer.

    Attributes:
        kind: image kind -> probability (one-hot when metadata settled it).
        body_part: body part -> probability.
        kind_source / body_part_source: ``"metadata"``, ``"learned"`` or ``"unavailable"``.
        metadata: what the metadata rules found.
        learned: the learned gate's output, when it ran.
        learned_error: why the learned gate could not run (missing weights), else None.
    """

    kind: dict[str, float]
    body_part: dict[str, float]
    kind_source: str
    body_part_source: str
    metadata: MetadataFindings
    learned: GateOutput | None = None
    learned_error: str | None = None

    @property
    def top_kind(self) -> tuple[str, float]:
        k = max(self.kind, key=self.kind.get)
        return k, self.kind[k]

    @property
    def top_body_part(self) -> tuple[str, float]:
        b = max(self.body_part, key=self.body_part.get)
        return b, self.body_part[b]

    @property
    def settled_by_metadata(self) -> bool:
        return self.kind_source == "metadata" and self.body_part_source == "metadata"


def _one_hot(names: tuple[str, ...], chosen: str) -> dict[str, float]:
    return {n: 1.0 if n == chosen else 0.0 for n in names}


def _uniform(names: tuple[str, ...]) -> dict[str, float]:
    return {n: 1.0 / len(names) for n in names}


def combine(learned: GateOutput, kind_known: str | None, part_known: str | None,
            part_prior: dict[str, float] | None = None) -> tuple[dict[str, float], dict[str, float]]:
    """Joint kind x body-part probabilities from the gate's two heads, metadata and known pairs.

    ``p(kind, part) ∝ p_gate(kind) * p_gate(part) * prior(part) * [pair known]``, with kind or
    part fixed when metadata settled it; returns the two marginals. Known pairs are those the
    network was trained on (its metadata's ``known_pairs``; :data:`KNOWN_PAIRS` otherwise), so
    e.g. an MRI is never called "other body part" by a gate that only saw brain and knee MRI.
    """
    pk = np.array([1.0 if k == kind_known else 0.0 for k in KINDS]) if kind_known else \
        np.array([learned.kind[k] for k in KINDS])
    pp = np.array([1.0 if b == part_known else 0.0 for b in BODY_PARTS]) if part_known else \
        np.array([learned.body_part[b] * (part_prior or {}).get(b, 1.0) for b in BODY_PARTS])
    pairs = learned.known_pairs or KNOWN_PAIRS
    allowed = np.array([[b in pairs.get(k, ()) for b in BODY_PARTS] for k in KINDS], dtype=float)
    joint = pk[:, None] * pp[None, :] * allowed
    if joint.sum() <= 0:  # metadata named a pair the gate does not know (e.g. an MRI of the spine)
        joint = pk[:, None] * pp[None, :]
    joint = joint / joint.sum()
    return ({k: float(v) for k, v in zip(KINDS, joint.sum(axis=1))},
            {b: float(v) for b, v in zip(BODY_PARTS, joint.sum(axis=0))})


def route(scan: Scan, use_learned: bool = True) -> Routing:
    """Kind and body part of ``scan``: metadata rules settle what they can, the learned gate the rest.

    A photograph or non-medical image has body part ``"other"`` by definition. When the
    learned gate is needed but its weights are missing, the open axis is uniform and its
    source ``"unavailable"``.
    """
    from core.models import ModelUnavailable

    found = apply_rules(scan)
    kind_known = found.kind
    part_known = found.body_part
    if kind_known in ("photo", "other") and part_known is None:
        part_known = "other"
    learned: GateOutput | None = None
    error: str | None = None
    if not use_learned and (kind_known is None or part_known is None):
        error = "The learned input gate was switched off."
    elif kind_known is None or part_known is None:
        try:
            learned = get_learned_gate().predict_scan(scan)
        except ModelUnavailable as exc:
            error = f"The learned input gate is unavailable ({exc})."
    kind_src = "metadata" if kind_known is not None else ("learned" if learned is not None else "unavailable")
    part_src = "metadata" if part_known is not None else ("learned" if learned is not None else "unavailable")
    if learned is None:
        kind = _one_hot(KINDS, kind_known) if kind_known is not None else _uniform(KINDS)
        part = _one_hot(BODY_PARTS, part_known) if part_known is not None else _uniform(BODY_PARTS)
        return Routing(kind, part, kind_src, part_src, found, learned, error)
    kind, part = combine(learned, kind_known, part_known, found.body_part_prior)
    return Routing(kind, part, kind_src, part_src, found, learned, error)


__all__ = ["Routing", "route"]
