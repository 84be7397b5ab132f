"""Input gates: decide whether a scan suits a task before any model sees it.

``run_gates(scan, task_name) -> QCReport`` runs, in order:

1. file/content checks of :func:`core.validation.check_scan` (blank, resolution, spacing, ...);
2. routing (:mod:`core.gates.routing`): DICOM metadata rules settle image kind and body part
   where the tags say so, the learned gate (:mod:`core.gates.learned`) decides the rest;
   the result is compared with what the task page expects (:mod:`core.gates.expectations`);
3. image-quality checks (:mod:`core.gates.quality`).

Refusals are failed checks with severity ERROR and a message for the user, e.g. "This looks
like a chest X-ray (92%); the Spine X-ray page expects a spine radiograph. Use the Chest
X-ray page." Tasks return ``Result(status="rejected", reasons=report.reasons, qc=report)``
when ``not report.accepted``.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.config import Settings, get_settings
from core.gates.expectations import (BODY_PART_TEXT, EXPECTATIONS, KIND_TEXT, Expectation, describe,
                                     expectation_for, matching_page)
from core.gates.quality import assess_quality
from core.gates.routing import Routing, route
from core.gates.views import gate_views
from core.types import Check, QCReport, Scan, Severity


@dataclass(frozen=True)
class GateReport:
    """Everything the gates found: the QC report and the routing behind it."""

    qc: QCReport
    routing: Routing | None


def _pct(p: float) -> str:
    return f"{p:.0%}"


def _probs_text(probs: dict[str, float], names: dict[str, str], n: int = 3) -> str:
    top = sorted(probs.items(), key=lambda kv: -kv[1])[:n]
    return ", ".join(f"{names[k]} {_pct(p)}" for k, p in top)


def _source_text(routing: Routing) -> str:
    # "Metadata" covers DICOM tags and, for files without them (NIfTI, stacks), geometry and
    # intensity rules; the gate_metadata check lists which ones were used.
    if routing.settled_by_metadata:
        return "by the metadata rules"
    parts = []
    for axis, src, probs in (("kind", routing.kind_source, routing.kind),
                             ("body part", routing.body_part_source, routing.body_part)):
        if src == "metadata":
            parts.append(f"{axis} by the metadata rules")
        elif src == "learned":
            parts.append(f"{axis} by the learned gate ({_pct(max(probs.values()))})")
    return "; ".join(parts)


def _routing_checks(scan: Scan, routing: Routing, exp: Expectation | None, s: Settings) -> list[Check]:
    thr = s.threshold_for("input-gate")
    kind, p_kind = routing.top_kind
    part, p_part = routing.top_body_part
    seen = describe(kind, part)
    checks = [Check("gate_routing", True, Severity.INFO,
                    f"Identified as {seen} ({_source_text(routing)}).",
                    f"{kind}/{part}")]
    if routing.metadata.evidence:
        checks.append(Check("gate_metadata", True, Severity.INFO,
                            "Metadata rules used: " + "; ".join(routing.metadata.evidence) + ".", None))
    if routing.learned_error:
        checks.append(Check("gate_learned_unavailable", False, Severity.WARNING,
                            routing.learned_error + " The image kind and body part could not be verified.", None))
    learned = routing.learned
    if learned is not None and "learned" in (routing.kind_source, routing.body_part_source):
        # A warning, not a refusal: the gate's classes already include photographs and other
        # non-medical images; an unusual energy only says its routing is less certain.
        checks.append(Check("gate_unusual_image", not learned.out_of_distribution, Severity.WARNING,
                            f"The image is unlike anything the learned input gate was trained on (energy "
                            f"{learned.energy:.2f} above the calibrated {learned.ood_threshold}); its kind and "
                            "body part are less certain." if learned.out_of_distribution else
                            "The image resembles what the learned input gate was trained on.",
                            round(learned.energy, 3)))
    if exp is None:
        return checks

    # Dimensionality: a page for single slices cannot take a volume and vice versa.
    n_slices = scan.shape[2]
    if exp.dims == "2d" and scan.is_volume:
        advice = (f"Use the {EXPECTATIONS['alzheimers'].page} page for brain MRI volumes, or upload a single slice."
                  if exp.body_part == "brain" else "Upload a single image.")
        checks.append(Check("gate_dimensions", False, Severity.ERROR,
                            f"This is a 3D volume ({n_slices} slices); the {exp.page} page expects {exp.wants}. "
                            + advice, n_slices))
    elif exp.dims == "3d" and n_slices < exp.min_slices:
        what = "a single 2D image" if n_slices == 1 else f"only {n_slices} slices"
        hint = (f" Use the {EXPECTATIONS['brain-tumor'].page} page for single brain MRI slices."
                if n_slices == 1 else "")
        checks.append(Check("gate_dimensions", False, Severity.ERROR,
                            f"This is {what}; the {exp.page} page expects {exp.wants} with at least "
                            f"{exp.min_slices} slices.{hint}", n_slices))
    else:
        checks.append(Check("gate_dimensions", True, Severity.INFO,
                            f"{'Volume' if scan.is_volume else 'Single image'} as the {exp.page} page expects.",
                            n_slices))

    kind_ok = routing.kind[exp.kind] >= thr
    part_ok = routing.body_part[exp.body_part] >= thr
    if kind_ok and part_ok:
        checks.append(Check("gate_input_type", True, Severity.INFO,
                            f"Matches the {exp.page} page: {seen}.", f"{kind}/{part}"))
        return checks
    wrong_kind = kind != exp.kind and p_kind >= thr
    wrong_part = part != exp.body_part and p_part >= thr and kind not in ("photo", "other")
    if wrong_kind or wrong_part:
        # Describe only what the gate is confident about; keep the expected value on an axis it is unsure of.
        seen_kind = kind if p_kind >= thr else None
        seen_part = part if p_part >= thr else None
        conf_axes = [p for src, p, wrong in ((routing.kind_source, p_kind, wrong_kind),
                                             (routing.body_part_source, p_part, wrong_part))
                     if src == "learned" and (wrong or p >= thr)]
        conf = f" ({_pct(min(conf_axes))})" if conf_axes else " (by the metadata rules)"
        page = matching_page(seen_kind, seen_part, scan.is_volume) if seen_kind and seen_part else None
        if page is not None and page.task != exp.task:
            advice = f"Use the {page.page} page."
        elif seen_kind and seen_part:
            advice = "RadLens has no page for this kind of image."
        else:
            advice = f"Upload {exp.wants}."
        checks.append(Check("gate_input_type", False, Severity.ERROR,
                            f"This looks like {describe(seen_kind, seen_part)}{conf}; the {exp.page} page expects "
                            f"{exp.wants}. {advice}", f"{seen_kind}/{seen_part}"))
        return checks
    if routing.learned_error and "unavailable" in (routing.kind_source, routing.body_part_source):
        checks.append(Check("gate_input_type", False, Severity.WARNING,
                            f"Could not verify that this is {exp.wants}: {routing.learned_error}", None))
        return checks
    checks.append(Check("gate_input_type", False, Severity.ERROR,
                        f"Could not confirm that this is {exp.wants}: the input gate is unsure (kind: "
                        f"{_probs_text(routing.kind, KIND_TEXT)}; body part: "
                        f"{_probs_text(routing.body_part, BODY_PART_TEXT)}; {_pct(thr)} needed). Upload a clearer "
                        "image, or a DICOM file with its Modality and BodyPartExamined tags.",
                        f"{kind}/{part}"))
    return checks


def evaluate(scan: Scan, task_name: str, *, settings: Settings | None = None,
             use_learned: bool = True, routing: Routing | None = None) -> GateReport:
    """Run every gate for ``task_name`` and keep the routing (see :func:`run_gates`).

    ``routing`` may be passed in when it was already computed for this scan (the
    evaluation script checks one scan against every page).
    """
    from core.validation import check_scan

    s = settings or get_settings()
    base = check_scan(scan, s)
    if not base.accepted:
        return GateReport(base, None)
    exp = expectation_for(task_name)
    routing = routing or route(scan, use_learned=use_learned)
    checks = list(base.checks) + _routing_checks(scan, routing, exp, s)
    part = exp.body_part if exp is not None else routing.top_body_part[0]
    # 8-bit rasters have a known full range, which also exposes dark near-blank images.
    value_range = 255.0 if scan.meta.get("format") in ("png", "jpeg") and scan.meta.get("bits_stored") == 8 else None
    checks.extend(assess_quality(gate_views(scan)[0], body_part=part, settings=s, value_range=value_range))
    return GateReport(QCReport(tuple(checks)), routing)


def run_gates(scan: Scan, task_name: str, *, settings: Settings | None = None,
              use_learned: bool = True) -> QCReport:
    """All input gates of ``task_name`` on ``scan``.

    Args:
        scan: a loaded scan.
        task_name: registry name (``"brain-tumor"``, ``"chest-xray"``, ``"spine-xray"``,
            ``"alzheimers"``); any other name (e.g. ``"input-gate"``) runs the checks without
            a page expectation.
        settings: thresholds; :func:`core.config.get_settings` by default.
        use_learned: consult the learned gate where metadata is silent (tests switch it off).

    Returns:
        The QC report; ``report.accepted`` is False when any ERROR check failed and
        ``report.reasons`` then holds the user-facing refusal messages.
    """
    return evaluate(scan, task_name, settings=settings, use_learned=use_learned).qc


__all__ = ["run_gates", "evaluate", "GateReport"]
