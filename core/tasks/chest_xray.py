"""Chest X-ray findings: a multi-label ensemble (DenseNet121- and MobileNetV2-family models).

Each model's findings are shown beside the ensemble (``Result.per_model``). Label sets: the
CheXpert and NIH ChestX-ray14 sets listed in FACTS.md section 7; the demo models are trained on
the phantom findings of ``core.synth.chest.CHEST_FINDINGS``. A finding is reported when its
ensemble probability reaches :data:`FINDING_THRESHOLD`; every finding also gets the clinical
confidence level of the original system (:data:`CONFIDENCE_LEVELS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from core.tasks.base import UNABLE, ClassifierTask, Decision, ModelOutput

# FACTS.md section 7: the five CheXpert competition findings (Irvin et al., AAAI 2019); used only to
# label the page when no chest model is installed.
CHEXPERT_COMPETITION: tuple[str, ...] = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion")
FINDING_THRESHOLD = 0.5  # a finding is "present" when the ensemble's sigmoid probability reaches 0.5
NO_FINDING = "No finding"


@dataclass(frozen=True)
class ConfidenceLevel:
    """A band of finding probability and what to do about it.

    Bands and the High-band action ("immediate review") are those of the original system named in the
    issue; the other recommendation sentences are RadLens wording, not clinical guidance.
    """

    name: str
    lower: float  # inclusive, probability 0..1
    upper: float  # exclusive (1.0 band includes 1.0)
    recommendation: str


CONFIDENCE_LEVELS: tuple[ConfidenceLevel, ...] = (
    ConfidenceLevel("High", 0.85, 1.0, "Immediate review by a radiologist."),
    ConfidenceLevel("Moderate-High", 0.70, 0.85, "Priority review by a radiologist."),
    ConfidenceLevel("Moderate", 0.50, 0.70, "Routine review; correlate with the clinical picture."),
    ConfidenceLevel("Low-Moderate", 0.30, 0.50, "Uncertain; consider further views or follow-up if clinically indicated."),
    ConfidenceLevel("Low", 0.0, 0.30, "Unlikely on this image; no action from this result alone."),
)


def confidence_level(probability: float) -> ConfidenceLevel:
    """The band that holds ``probability`` (0..1)."""
    p = min(max(float(probability), 0.0), 1.0)
    for level in CONFIDENCE_LEVELS:
        if level.lower <= p < level.upper or (p == 1.0 and level.upper == 1.0):
            return level
    return CONFIDENCE_LEVELS[-1]


def default_findings() -> tuple[str, ...]:
    """Phantom findings of the demo models when core.synth provides them, else CheXpert's five."""
    try:
        from core.synth.chest import CHEST_FINDINGS
    except ImportError:
        return CHEXPERT_COMPETITION
    return tuple(CHEST_FINDINGS)


class ChestXrayTask(ClassifierTask):
    """Multi-label chest X-ray findings with per-model columns and confidence levels."""

    def decide(self, labels: tuple[str, ...], probs: tuple[float, ...], outputs: list[ModelOutput]) -> Decision:
        rows: list[dict[str, Any]] = []
        for i, (label, p) in enumerate(zip(labels, probs)):
            if math.isnan(p):
                continue
            level = confidence_level(p)
            row = {"finding": label, "probability": round(p, 4), "level": level.name,
                   "recommendation": level.recommendation, "present": p >= FINDING_THRESHOLD}
            for out in outputs:
                lookup = dict(zip(out.labels, out.probabilities))
                row[out.model_id] = round(lookup[label], 4) if label in lookup else None
            rows.append(row)
        rows.sort(key=lambda r: -r["probability"])
        present = [r["finding"] for r in rows if r["present"]]
        top = rows[0]["finding"] if rows else None
        top_p = rows[0]["probability"] if rows else 0.0
        extras = {"findings": rows, "finding_threshold": FINDING_THRESHOLD,
                  "confidence_levels": [vars(l) for l in CONFIDENCE_LEVELS]}
        if present:
            prediction, confidence = ", ".join(present), float(top_p)
        else:
            prediction, confidence = NO_FINDING, 1.0 - float(top_p)
        if confidence < self.threshold:
            cands = ", ".join(f"{r['finding']} {r['probability']:.0%}" for r in rows[:3])
            return Decision(None, confidence, (f"{UNABLE}: the decision confidence {confidence:.0%} is below the "
                                               f"{self.threshold:.0%} threshold (top candidates: {cands}).",),
                            cam_label=top, extras=extras)
        return Decision(prediction, confidence, cam_label=top, extras=extras)


def build(weights_dir=None, settings=None, gate=None) -> ChestXrayTask:
    """The chest-xray task with every available ``chest-xray`` model folder loaded."""
    return ChestXrayTask("chest-xray", default_findings(), weights_dir=weights_dir, settings=settings, gate=gate)
