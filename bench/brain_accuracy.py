"""Accuracy of core.brain.analyze on 1 mm head phantoms with known volumes; writes the figures the app quotes.

Usage::

    .venv/bin/python bench/brain_accuracy.py            # all three sets, writes core/brain/data/phantom_accuracy.json
    .venv/bin/python bench/brain_accuracy.py --no-write # print only

Three sets (core.brain.accuracy.PHANTOM_SETS): twelve held-out phantoms, never used to choose a
parameter; the six development phantoms the parameters were chosen on; and twenty-two validation
phantoms, run to choose between candidates (core.brain.accuracy). About 30-40 s per phantom on
the 2-core machine (40 phantoms: about 20 minutes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _print_fit(name: str, fit: dict | None) -> None:
    if fit is None:
        return
    print(f"{name} hippocampus: log(estimate/atlas) = {fit['slope']:.3f} log(truth/atlas) {fit['intercept']:+.3f} "
          f"(r {fit['r']:.3f}, residual SD {100 * fit['residual_sd']:.1f} %, {fit['sides']} sides): "
          f"the warp recovers {100 * fit['slope']:.0f} % of the compression a hippocampus needs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-write", action="store_true", help="print the figures without writing the JSON")
    args = ap.parse_args()

    from core.brain import accuracy

    sets: dict[str, dict] = {}
    for name, phantoms in accuracy.PHANTOM_SETS.items():
        print(f"--- {name} set", flush=True)
        per: dict[str, dict] = {}
        for seed, atrophy in phantoms:
            t0 = time.perf_counter()
            e = accuracy.phantom_errors(seed, atrophy)
            per[f"seed{seed}_atrophy{atrophy:g}"] = {"seed": seed, "atrophy": atrophy,
                                                     **{k: round(v, 4) for k, v in e.items()}}
            print(f"seed {seed} atrophy {atrophy:g}: " + ", ".join(
                f"{k} {100 * v:+.1f} %" if k in accuracy.STRUCTURES else f"{k} {v:.3f}" for k, v in e.items())
                + f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
        ranges = accuracy.summarise(per)
        for k, (lo, hi) in ranges.items():
            print(f"{name} {k}: {100 * lo:+.1f} .. {100 * hi:+.1f} %")
        fit = accuracy.compression_fit(per)
        _print_fit(name, fit)
        sets[name] = {"phantoms": per, "ranges": {k: [round(lo, 4), round(hi, 4)] for k, (lo, hi) in ranges.items()},
                      "hippocampus_compression_fit": fit}
    every_phantom = {f"{name}/{key}": e for name, s in sets.items() for key, e in s["phantoms"].items()}
    overall_fit = accuracy.compression_fit(every_phantom)
    _print_fit("all", overall_fit)
    if not args.no_write:
        out = {"measured_on": dt.date.today().isoformat(), "commit": _commit(),
               "method": "bench/brain_accuracy.py: core.brain.analyze on core.synth.head phantoms, 1 mm "
                         f"{'x'.join(map(str, accuracy.PHANTOM_SHAPE))}; error = estimate / truth - 1 "
                         "(lateral ventricles: FreeSurfer definition without temporal horns). held_out: never "
                         "used to choose a parameter; development: the parameters were chosen on these; validation: "
                         "used to choose between candidates (the intracranial front end, the ventricle search).",
               "sets": sets, "hippocampus_compression_fit_all": overall_fit}
        accuracy.ACCURACY_FILE.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {accuracy.ACCURACY_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
