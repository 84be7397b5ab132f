"""Confidence threshold: answer only when the top class is probable enough.

Below the task's threshold (``Settings.threshold_for(task)``, default 0.60) the answer is
"Unable to determine" and the most probable classes are shown as *candidates*, never as a
finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

UNABLE_TO_DETERMINE = "Unable to determine"


@dataclass(frozen=True)
class Decision:
    """Outcome of a thresholded classification.

    Attributes:
        prediction: the top label when its probability reaches the threshold, else None.
        confidence: probability of the top label (0..1).
        status: ``"ok"`` or ``"uncertain"``.
        reasons: user-facing sentences (empty when ``status == "ok"``).
        top_candidates: up to three ``(label, probability)`` pairs, most probable first.
    """

    prediction: str | None
    confidence: float
    status: str
    reasons: tuple[str, ...]
    top_candidates: tuple[tuple[str, float], ...]

    @property
    def label_text(self) -> str:
        """The prediction, or "Unable to determine"."""
        return self.prediction if self.prediction is not None else UNABLE_TO_DETERMINE


def decide(labels: Sequence[str], probabilities: Sequence[float], threshold: float, top_k: int = 3) -> Decision:
    """Apply a confidence threshold to aligned labels and probabilities.

    Args:
        labels: class names aligned with ``probabilities``.
        probabilities: class probabilities (need not sum to 1 for multi-label outputs).
        threshold: minimum top probability for a prediction, 0..1.
        top_k: how many candidates to keep.

    Returns:
        A :class:`Decision`; ``prediction`` is None (shown as "Unable to determine") when
        the top probability is below ``threshold``.

    Raises:
        ValueError: when labels and probabilities differ in length or are empty (a bug).
    """
    if len(labels) != len(probabilities) or not labels:
        raise ValueError(f"labels ({len(labels)}) and probabilities ({len(probabilities)}) must align and be non-empty")
    probs = np.asarray(probabilities, dtype=np.float64)
    order = np.argsort(-probs, kind="stable")
    candidates = tuple((str(labels[i]), float(probs[i])) for i in order[:top_k])
    top_label, top_p = candidates[0]
    if top_p >= threshold:
        return Decision(top_label, top_p, "ok", (), candidates)
    shown = ", ".join(f"{lab} {p:.0%}" for lab, p in candidates)
    reason = (f"{UNABLE_TO_DETERMINE}: the most probable answer reaches {top_p:.0%}, below the {threshold:.0%} "
              f"confidence threshold. Top candidates (not a finding): {shown}.")
    return Decision(None, top_p, "uncertain", (reason,), candidates)


__all__ = ["Decision", "decide", "UNABLE_TO_DETERMINE"]
