"""Routing: the image kind and body part of a scan, from metadata first and the learned gate second."""

from __future__ import annotations

from dataclasses import dataclass

from core.gates.expectations import BODY_PARTS, KINDS
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
    if kind_known is not None:
        kind, kind_src = _one_hot(KINDS, kind_known), "metadata"
    elif learned is not None:
        kind, kind_src = dict(learned.kind), "learned"
    else:
        kind, kind_src = _uniform(KINDS), "unavailable"
    if part_known is not None:
        part, part_src = _one_hot(BODY_PARTS, part_known), "metadata"
    elif learned is not None:
        part, part_src = dict(learned.body_part), "learned"
    else:
        part, part_src = _uniform(BODY_PARTS), "unavailable"
    return Routing(kind, part, kind_src, part_src, found, learned, error)


__all__ = ["Routing", "route"]
