"""Measured accuracy of the volumetry on head phantoms with known structure volumes.

``bench/brain_accuracy.py`` analyses three sets of phantoms at 1 mm and writes
``data/phantom_accuracy.json`` (per-phantom relative errors and their ranges per set):

- :data:`PHANTOMS`, the development set: the pipeline's parameters (ICV reach, ventricle
  search, hippocampal margin, registration settings) were chosen on these six, so their
  errors are optimistic;
- :data:`HELD_OUT_PHANTOMS`: never used to choose a parameter. Their errors are the ones a
  researcher should expect, and the ones the app quotes first;
- :data:`VALIDATION_PHANTOMS`: run to choose between candidates once each had been fixed on the
  development set (the intracranial front end; the ventricle search); quoted with the
  development set.

The app and the PDF report quote that file, so the accuracy a researcher reads is the one last
measured, not a number typed into the UI. The slow tests in tests/test_brain_pipeline.py check
the development set against the issue's 5 % / 10 % limits.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

ACCURACY_FILE = Path(__file__).resolve().parent / "data" / "phantom_accuracy.json"
# (seed, atrophy): atrophy-0 subjects, moderate and extreme atrophy (core.synth.head rules).
# Development set: parameters were chosen on these.
PHANTOMS: tuple[tuple[int, float], ...] = ((1, 0.0), (2, 0.6), (3, 0.3), (4, 1.0), (5, 0.6), (6, 0.0))
# Held-out set (other subjects, atrophy spread over the same range, picked before any was run;
# added 2026-12-08 when the earlier held-out seeds 7-18 had been used for a choice). Keep it out
# of any tuning: once a parameter is chosen by looking at these, their errors stop being an
# honest estimate.
HELD_OUT_PHANTOMS: tuple[tuple[int, float], ...] = ((29, 0.5), (30, 0.0), (31, 0.9), (32, 0.3), (33, 0.7),
                                                 (34, 0.1), (35, 1.0), (36, 0.4), (37, 0.6), (38, 0.2),
                                                 (39, 0.8), (40, 0.0))
# Validation set, used for choices between candidates fixed on the development set (2026-12-08):
# - seeds 19-28 (atrophy picked before any was run): the intracranial front end (a second affine
#   with a grown brain mask and the marrow cut, against the single affine: ICV -4.1..+4.2 %
#   against -11.4..+7.1 %) and two ventricle rules, neither kept (core/brain/README.md);
# - seeds 7-18, held out until then: they rejected a wider ventricle search that the first
#   sixteen phantoms favoured (seed 16 +12 -> +25 %; core/brain/README.md).
VALIDATION_PHANTOMS: tuple[tuple[int, float], ...] = ((7, 0.2), (8, 0.8), (9, 0.5), (10, 0.0), (11, 1.0), (12, 0.4),
                                                   (13, 0.1), (14, 0.7), (15, 0.3), (16, 0.9), (17, 0.0), (18, 0.6),
                                                   (19, 0.0), (20, 0.5), (21, 1.0), (22, 0.2), (23, 0.8),
                                                   (24, 0.4), (25, 0.9), (26, 0.1), (27, 0.7), (28, 0.3))
PHANTOM_SETS: dict[str, tuple[tuple[int, float], ...]] = {"held_out": HELD_OUT_PHANTOMS, "development": PHANTOMS,
                                                          "validation": VALIDATION_PHANTOMS}
PHANTOM_SHAPE = (160, 192, 160)
STRUCTURES = ("icv", "lateral_ventricles", "hippocampus_left", "hippocampus_right")


def phantom_errors(seed: int, atrophy: float) -> dict[str, float]:
    """Relative errors (estimate / truth - 1) of one 1 mm phantom analysis.

    Lateral ventricles are compared with the FreeSurfer definition
    (``reference_ml["lateral_ventricles_fs"]``: the temporal horns are FreeSurfer's separate
    Inf-Lat-Vent label); hippocampal Dice is included as ``dice_hippocampus_left/right``, and
    ``compression_hippocampus_left/right``: the true volume over the atlas hippocampus mapped
    by the affine alone, i.e. how much the deformable warp has to shrink it (see
    :func:`compression_fit`).
    """
    from core.brain.atlas import template_rois
    from core.brain.pipeline import analyze
    from core.mni import load_template
    from core.synth.head import LABELS, make_head_phantom

    ph = make_head_phantom(seed=seed, shape=PHANTOM_SHAPE, spacing_mm=1.0, atrophy=atrophy)
    r = analyze(ph.scan, age_years=70, sex="F", run_cnn=False)
    truth = dict(ph.volumes_ml)
    truth["lateral_ventricles"] = ph.reference_ml["lateral_ventricles_fs"]
    out = {k: float(r.volumes_ml[k] / truth[k] - 1.0) for k in STRUCTURES}
    codes = {name: code for code, name in LABELS.items()}
    for side in ("left", "right"):
        est, true = r.masks[f"hippocampus_{side}"], ph.labels == codes[f"hippocampus_{side}"]
        out[f"dice_hippocampus_{side}"] = float(2.0 * (est & true).sum() / max(est.sum() + true.sum(), 1))
        atlas_ml = float(getattr(template_rois(), f"hippocampus_{side}").sum()) * load_template(1).voxel_ml
        out[f"compression_hippocampus_{side}"] = float(truth[f"hippocampus_{side}"] / (r.details["affine_scale"] * atlas_ml))
    return out


def compression_fit(per_phantom: dict[str, dict[str, float]]) -> dict[str, float] | None:
    """How much of the needed hippocampal compression the warp recovers, over all phantom sides.

    Least-squares line of ``log(estimate / affine-mapped atlas)`` on ``log(truth / affine-mapped
    atlas)``: slope 1 with no scatter is a warp that recovers every hippocampus exactly; a
    slope below 1 is a warp that regresses towards the atlas's proportions, so the error grows
    with the compression a hippocampus needs. ``residual_sd`` is the scatter a correction fitted
    to the line would leave (log units, about a relative error).

    Returns:
        ``{"slope", "intercept", "r", "residual_sd", "sides"}``, or None with fewer than three
        sides carrying ``compression_hippocampus_*`` (results written before it existed).
    """
    xs, ys = [], []
    for e in per_phantom.values():
        for side in ("left", "right"):
            c = e.get(f"compression_hippocampus_{side}")
            if c is None:
                continue
            xs.append(np.log(c))
            ys.append(np.log((1.0 + e[f"hippocampus_{side}"]) * c))
    if len(xs) < 3:
        return None
    x, y = np.asarray(xs), np.asarray(ys)
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    return {"slope": float(slope), "intercept": float(intercept), "r": float(np.corrcoef(x, y)[0, 1]),
            "residual_sd": float(resid.std(ddof=2)), "sides": len(xs)}


def summarise(per_phantom: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Ranges (min, max) of each structure's relative error over the phantoms."""
    ranges = {}
    for k in STRUCTURES:
        vals = [e[k] for e in per_phantom.values()]
        ranges[k] = [min(vals), max(vals)]
    hc = [e[k] for e in per_phantom.values() for k in ("hippocampus_left", "hippocampus_right")]
    ranges["hippocampus_per_side"] = [min(hc), max(hc)]
    return ranges


@lru_cache(maxsize=1)
def load_phantom_accuracy() -> dict[str, Any] | None:
    """The last measured phantom accuracy (the JSON written by bench/brain_accuracy.py), or None."""
    try:
        return json.loads(ACCURACY_FILE.read_text())
    except (OSError, ValueError):
        return None


def _ranges_text(ranges: dict[str, list[float]]) -> str:
    def rng(key: str) -> str:
        lo, hi = ranges[key]
        return f"{100 * lo:+.1f} to {100 * hi:+.1f} %"

    return (f"intracranial volume {rng('icv')}, lateral ventricles {rng('lateral_ventricles')}, "
            f"each hippocampus {rng('hippocampus_per_side')}")


def accuracy_note() -> str:
    """One paragraph for the UI and the report: measured error ranges, or that none were measured.

    The held-out phantoms come first (what to expect); the development and validation
    phantoms, used to choose parameters, are quoted after them.
    """
    acc = load_phantom_accuracy()
    sets = (acc or {}).get("sets", {})
    held, dev, val = sets.get("held_out"), sets.get("development"), sets.get("validation")
    if not held or not dev:
        return "Accuracy: not measured in this installation (run bench/brain_accuracy.py)."
    atrophy = max(p["atrophy"] for p in held["phantoms"].values())
    chosen_on = {f"development/{k}": v for k, v in dev["phantoms"].items()}
    which = "the parameters were chosen on"
    if val:
        chosen_on.update({f"validation/{k}": v for k, v in val["phantoms"].items()})
        which = (f"used to choose parameters ({len(dev['phantoms'])} development; {len(val['phantoms'])} validation, "
                 "used to choose the intracranial volume's front end and the ventricle search)")
    return (f"Measured accuracy ({acc['measured_on']}) on {len(held['phantoms'])} synthetic head phantoms with known "
            f"volumes (atrophy up to {atrophy:g}) that were not used to choose any parameter: "
            f"{_ranges_text(held['ranges'])}. On the {len(chosen_on)} phantoms {which}: "
            f"{_ranges_text(summarise(chosen_on))}. Not validated against manual or FreeSurfer segmentations of real scans.")
