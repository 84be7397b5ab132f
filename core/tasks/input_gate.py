"""The input gate as a task: what kind of image is this, and of which body part?

``get_task("input-gate")(scan)`` returns a Result whose ``kind`` (mri | xray | ct | photo |
other) and ``body_part`` (brain | knee | spine | chest | other) map each class to a
probability, ``prediction`` like ``"mri/brain"`` (None when either is below the input-gate
confidence threshold: "Unable to determine"), and ``qc`` the QC report of the gates without
a page expectation (file/content checks, routing, quality). ``extras`` says where each
answer came from (DICOM metadata or the learned gate), the learned gate's energy score
and which RadLens page accepts the image.
"""

from __future__ import annotations

import time

from core.config import get_settings
from core.gates import evaluate
from core.gates.confidence import UNABLE_TO_DETERMINE
from core.gates.expectations import BODY_PARTS, KINDS, describe, matching_page
from core.types import Result, Scan

TASK_NAME = "input-gate"


class InputGateTask:
    """Routes a scan to an image kind and body part (metadata rules first, learned gate second)."""

    name = TASK_NAME
    labels: tuple[str, ...] = tuple(f"kind:{k}" for k in KINDS) + tuple(f"part:{p}" for p in BODY_PARTS)

    def __call__(self, scan: Scan) -> Result:
        """Gate one scan; never raises on bad input."""
        t0 = time.perf_counter()
        report = evaluate(scan, TASK_NAME)
        qc, routing = report.qc, report.routing
        timings = {"gate_s": time.perf_counter() - t0}
        if routing is None:  # file/content checks refused it before routing
            timings["total_s"] = timings["gate_s"]
            return Result(task=self.name, status="rejected", reasons=qc.reasons, qc=qc, timings_s=timings)

        thr = get_settings().threshold_for(TASK_NAME)
        kind, p_kind = routing.top_kind
        part, p_part = routing.top_body_part
        confident = p_kind >= thr and p_part >= thr
        reasons = list(qc.reasons)
        prediction = f"{kind}/{part}" if confident else None
        if not confident:
            shown = ", ".join(f"{k} {p:.0%}" for k, p in sorted(routing.kind.items(), key=lambda kv: -kv[1])[:3])
            shown_p = ", ".join(f"{k} {p:.0%}" for k, p in sorted(routing.body_part.items(), key=lambda kv: -kv[1])[:3])
            reasons.append(f"{UNABLE_TO_DETERMINE}: the image kind ({shown}) or body part ({shown_p}) is below the "
                           f"{thr:.0%} confidence threshold. Top candidates are shown, not a finding.")
        if not qc.accepted:
            prediction = None
        page = matching_page(kind, part, scan.is_volume) if confident else None
        learned = routing.learned
        extras = {
            "kind_source": routing.kind_source,
            "body_part_source": routing.body_part_source,
            "metadata_evidence": list(routing.metadata.evidence),
            "description": describe(kind, part),
            "suggested_page": page.page if page is not None else None,
            "suggested_task": page.task if page is not None else None,
            "energy": None if learned is None else learned.energy,
            "ood_threshold": None if learned is None else learned.ood_threshold,
            "out_of_distribution": None if learned is None else learned.out_of_distribution,
            "threshold": thr,
        }
        probabilities = tuple(routing.kind[k] for k in KINDS) + tuple(routing.body_part[b] for b in BODY_PARTS)
        timings["total_s"] = time.perf_counter() - t0
        return Result(
            task=self.name, status="ok" if prediction is not None else "rejected", labels=self.labels,
            probabilities=probabilities, prediction=prediction, confidence=min(p_kind, p_part),
            reasons=tuple(reasons), qc=qc,
            model_versions={} if learned is None else {"input-gate": learned.model_version},
            timings_s=timings, extras=extras, kind=dict(routing.kind), body_part=dict(routing.body_part),
        )


def build() -> InputGateTask:
    """Factory used by :func:`core.tasks.get_task`."""
    return InputGateTask()


__all__ = ["InputGateTask", "build", "TASK_NAME"]
