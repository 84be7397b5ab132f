"""Evaluate the input gates on a labelled folder: confusion tables and false accept / reject rates.

Usage::

    python -m core.gates_eval FOLDER            # FOLDER/<kind>/<body_part>/<files>
    python -m core.gates_eval --generate OUT    # write a labelled set from phantoms and negatives
    python -m core.gates_eval --generate OUT --run   # write it, then evaluate it

Layout: ``FOLDER/xray/chest/*.png``, ``FOLDER/mri/brain/*.nii.gz``, ``FOLDER/photo/other/*.jpg``,
``FOLDER/other/other/*.png`` ... with kinds mri | xray | ct | photo | other and body parts
brain | knee | spine | chest | other. Any format :func:`core.io.load_scan` reads is accepted.
Files whose name starts with ``bad_`` (e.g. a heavily blurred chest film) keep their
anatomy label for the confusion table but must be refused by every page.

For every task page (``core.gates.expectations.EXPECTATIONS``) a file is a *positive* when its
kind, body part and dimensionality are what the page expects and it is not ``bad_``;
everything else is a *negative*. The script prints, per page, the false-reject rate
(refused positives) and the false-accept rate (accepted negatives), the latter split into
generated negatives (photo/other folders and ``bad_`` files) and other anatomy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.gates.expectations import BODY_PARTS, EXPECTATIONS, KINDS

REFUSED = "refused"  # column for files the content checks refused before routing
UNREADABLE = "unreadable"


@dataclass
class FileOutcome:
    """Gate outcome of one labelled file."""

    path: str
    kind: str
    body_part: str
    bad: bool
    is_volume: bool
    predicted_kind: str
    predicted_part: str
    accepted: dict[str, bool] = field(default_factory=dict)
    reasons: dict[str, list[str]] = field(default_factory=dict)

    @property
    def generated_negative(self) -> bool:
        return self.bad or self.kind in ("photo", "other")


def labelled_files(folder: Path) -> list[tuple[Path, str, str]]:
    """``(path, kind, body_part)`` for every file under ``folder/<kind>/<body_part>/``."""
    out = []
    for kind_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        if kind_dir.name not in KINDS:
            raise SystemExit(f"unknown kind folder {kind_dir.name!r}; expected one of {', '.join(KINDS)}")
        for part_dir in sorted(p for p in kind_dir.iterdir() if p.is_dir()):
            if part_dir.name not in BODY_PARTS:
                raise SystemExit(f"unknown body-part folder {part_dir}; expected one of {', '.join(BODY_PARTS)}")
            for f in sorted(part_dir.iterdir()):
                if f.is_file() and not f.name.startswith("."):
                    out.append((f, kind_dir.name, part_dir.name))
    return out


def evaluate_file(path: Path, kind: str, part: str) -> FileOutcome:
    """Load one file and run the gates of every page on it."""
    from core.gates import evaluate
    from core.gates.routing import route
    from core.io import ScanError, load_scan

    bad = path.name.startswith("bad_")
    try:
        scan = load_scan(path)
    except ScanError as exc:
        out = FileOutcome(str(path), kind, part, bad, False, UNREADABLE, UNREADABLE)
        for task in EXPECTATIONS:
            out.accepted[task] = False
            out.reasons[task] = [str(exc)]
        return out
    routing = None
    out = FileOutcome(str(path), kind, part, bad, scan.is_volume, REFUSED, REFUSED)
    for task in EXPECTATIONS:
        report = evaluate(scan, task, routing=routing)
        if report.routing is not None and routing is None:
            routing = report.routing
        out.accepted[task] = report.qc.accepted
        out.reasons[task] = list(report.qc.reasons)
    if routing is None:  # refused by the content checks: still ask where the image would route
        from core.validation import check_scan

        if check_scan(scan).accepted:
            routing = route(scan)
    if routing is not None:
        out.predicted_kind = routing.top_kind[0]
        out.predicted_part = routing.top_body_part[0]
    return out


def is_positive(o: FileOutcome, task: str) -> bool:
    """Whether the page ``task`` should accept this labelled file."""
    e = EXPECTATIONS[task]
    dims_ok = e.dims == "any" or (e.dims == "3d") == o.is_volume
    return (not o.bad) and o.kind == e.kind and o.body_part == e.body_part and dims_ok


def summarise(outcomes: list[FileOutcome]) -> dict[str, Any]:
    """Confusion tables and per-page rates as plain data."""
    kind_cols = list(KINDS) + [REFUSED, UNREADABLE]
    part_cols = list(BODY_PARTS) + [REFUSED, UNREADABLE]
    kind_conf: dict[str, Counter] = defaultdict(Counter)
    part_conf: dict[str, Counter] = defaultdict(Counter)
    for o in outcomes:
        kind_conf[o.kind][o.predicted_kind] += 1
        part_conf[o.body_part][o.predicted_part] += 1
    pages = {}
    for task in EXPECTATIONS:
        pos = [o for o in outcomes if is_positive(o, task)]
        neg = [o for o in outcomes if not is_positive(o, task)]
        gen = [o for o in neg if o.generated_negative]
        other = [o for o in neg if not o.generated_negative]

        def rate(items: list[FileOutcome], accepted: bool) -> float | None:
            return None if not items else float(np.mean([o.accepted[task] == accepted for o in items]))

        pages[task] = {
            "positives": len(pos), "false_reject_rate": rate(pos, False),
            "negatives": len(neg), "false_accept_rate": rate(neg, True),
            "generated_negatives": len(gen), "false_accept_rate_generated": rate(gen, True),
            "other_anatomy_negatives": len(other), "false_accept_rate_other_anatomy": rate(other, True),
            "false_rejects": [o.path for o in pos if not o.accepted[task]][:20],
            "false_accepts": [o.path for o in neg if o.accepted[task]][:20],
        }
    gen_pairs = [o.accepted[t] for o in outcomes if o.generated_negative for t in EXPECTATIONS]
    pos_pairs = [o.accepted[t] for o in outcomes for t in EXPECTATIONS if is_positive(o, t)]
    return {
        "files": len(outcomes),
        "kind_confusion": {"rows": list(KINDS), "cols": kind_cols,
                           "counts": [[kind_conf[r][c] for c in kind_cols] for r in KINDS]},
        "body_part_confusion": {"rows": list(BODY_PARTS), "cols": part_cols,
                                "counts": [[part_conf[r][c] for c in part_cols] for r in BODY_PARTS]},
        "pages": pages,
        "overall_false_accept_rate_generated_negatives": None if not gen_pairs else float(np.mean(gen_pairs)),
        "overall_false_reject_rate": None if not pos_pairs else float(1 - np.mean(pos_pairs)),
    }


def _table(title: str, conf: dict[str, Any]) -> str:
    cols = conf["cols"]
    w = max(9, max(len(c) for c in cols) + 1)
    lines = [title, "true \\ predicted".ljust(18) + "".join(c.rjust(w) for c in cols)]
    for r, row in zip(conf["rows"], conf["counts"]):
        if sum(row):
            lines.append(r.ljust(18) + "".join(str(v).rjust(w) for v in row))
    return "\n".join(lines)


def _pct(v: float | None) -> str:
    return "   n/a" if v is None else f"{100 * v:5.1f}%"


def format_summary(s: dict[str, Any]) -> str:
    """Human-readable report of :func:`summarise`."""
    out = [f"{s['files']} labelled files", "", _table("Image kind (top of routing):", s["kind_confusion"]), "",
           _table("Body part (top of routing):", s["body_part_confusion"]), "",
           "Per page: false-reject rate on its positives; false-accept rate on negatives "
           "(all / generated negatives / other anatomy)",
           f"{'page':14s}{'pos':>6s}{'FRR':>8s}{'neg':>6s}{'FAR':>8s}{'gen':>6s}{'FAR gen':>9s}{'anat':>6s}{'FAR anat':>10s}"]
    for task, p in s["pages"].items():
        out.append(f"{task:14s}{p['positives']:6d}{_pct(p['false_reject_rate']):>8s}{p['negatives']:6d}"
                   f"{_pct(p['false_accept_rate']):>8s}{p['generated_negatives']:6d}"
                   f"{_pct(p['false_accept_rate_generated']):>9s}{p['other_anatomy_negatives']:6d}"
                   f"{_pct(p['false_accept_rate_other_anatomy']):>10s}")
    out += ["", f"Overall false-accept rate on generated negatives (file x page): "
                f"{_pct(s['overall_false_accept_rate_generated_negatives']).strip()}",
            f"Overall false-reject rate on positives (file x page): {_pct(s['overall_false_reject_rate']).strip()}"]
    return "\n".join(out)


# --- generation of a labelled evaluation set -------------------------------------------------
#: Test-split images per source written by --generate (phantom test seeds; held-out photos).
GENERATE_COUNTS: dict[str, int] = {
    "mri_brain_slice": 60, "mri_brain_head": 40, "mri_head_levels": 40, "mri_knee": 50, "xray_chest": 60,
    "xray_spine": 60, "xray_knee": 20, "ct_brain": 20, "ct_chest": 20, "photo": 60, "text": 40, "noise": 40,
    "blank": 20, "drawing": 20,
}
N_VOLUMES = 8
N_BLURRED = 40
GENERATE_SIZE_PX = 224


def _save_png(img: np.ndarray, path: Path) -> None:
    from PIL import Image

    arr = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    if arr.ndim == 3 and np.allclose(arr[..., 0], arr[..., 1]) and np.allclose(arr[..., 0], arr[..., 2]):
        arr = arr[..., 0]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def generate_eval_set(out: Path, seed: int = 0) -> dict[str, int]:
    """Write a labelled evaluation folder from the test split (disjoint from training seeds).

    Contents: 2D phantoms of every source as PNG, MRI brain volumes (core.synth head phantoms)
    as NIfTI, held-out scikit-image photographs, text screenshots, noise, near-blank images,
    drawings, and heavily blurred scans (``bad_blur_*``, Gaussian sigma 3-5 % of the image side).
    """
    from scipy import ndimage

    from core.gates.gate_data import SOURCES, SPLIT_OFFSETS, generate
    from core.synth.head import as_nifti_bytes, make_head_phantom

    counts: dict[str, int] = {}
    for name, n in GENERATE_COUNTS.items():
        src = SOURCES[name]
        for i, img in enumerate(generate(name, "test", n, GENERATE_SIZE_PX, seed)):
            _save_png(img, out / src.kind / src.body_part / f"{name}_{i:04d}.png")
        counts[name] = n
    rng = np.random.default_rng(seed + SPLIT_OFFSETS["test"])
    blur_sources = ["mri_brain_slice", "mri_knee", "xray_chest", "xray_spine"]
    for i in range(N_BLURRED):
        name = blur_sources[i % len(blur_sources)]
        src = SOURCES[name]
        img = generate(name, "test", 1, GENERATE_SIZE_PX, seed + 500_000 + i)[0]
        sigma = float(rng.uniform(0.03, 0.05)) * GENERATE_SIZE_PX
        _save_png(ndimage.gaussian_filter(img, (sigma, sigma, 0)), out / src.kind / src.body_part / f"bad_blur_{name}_{i:04d}.png")
    counts["bad_blur"] = N_BLURRED
    for i in range(N_VOLUMES):
        head = make_head_phantom(seed + SPLIT_OFFSETS["test"] + i, shape=(96, 112, 96), spacing_mm=2.0,
                                 atrophy=float(rng.uniform(0, 0.8)))
        path = out / "mri" / "brain" / f"volume_{i:04d}.nii.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(as_nifti_bytes(head.scan))
    counts["mri_brain_volume"] = N_VOLUMES
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.gates_eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", type=Path, help="labelled folder FOLDER/<kind>/<body_part>/<files>")
    parser.add_argument("--generate", type=Path, metavar="OUT", help="write a labelled evaluation set to OUT")
    parser.add_argument("--run", action="store_true", help="with --generate: evaluate the generated set")
    parser.add_argument("--seed", type=int, default=0, help="base seed of the generated set")
    parser.add_argument("--json", type=Path, help="also write the summary as JSON here")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(max(1, args.threads))
    if args.generate is not None:
        t = time.perf_counter()
        counts = generate_eval_set(args.generate, args.seed)
        print(f"wrote {sum(counts.values())} files to {args.generate} in {time.perf_counter() - t:.0f} s: {counts}")
        if not args.run:
            return 0
        args.folder = args.generate
    if args.folder is None:
        parser.error("give FOLDER or --generate OUT")
    files = labelled_files(args.folder)
    if not files:
        print(f"no labelled files under {args.folder}", file=sys.stderr)
        return 2
    t = time.perf_counter()
    outcomes = [evaluate_file(p, k, b) for p, k, b in files]
    summary = summarise(outcomes)
    summary["seconds"] = round(time.perf_counter() - t, 1)
    print(format_summary(summary))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
