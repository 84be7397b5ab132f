"""Benchmark of core.brain.analyze on a 1 mm 256^3 T1: per-stage timings and the total.

Usage::

    .venv/bin/python bench/brain.py                      # chris_t1 resampled to 1 mm 256^3
    .venv/bin/python bench/brain.py --phantom            # 256^3 1 mm head phantom instead
    .venv/bin/python bench/brain.py --repeats 2 --threads 2

The first analysis in a process also pays for importing ANTsPy and loading the nilearn
templates/atlas (reported separately as ``warmup``); a running app pays that once.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _chris_256(path: Path):
    import numpy as np
    from scipy import ndimage

    from core.io import load_scan
    from core.types import Scan

    scan = load_scan(path)
    vol = scan.array[0]
    sp = np.array(scan.spacing_mm)
    # Resample to 1 mm and pad/crop to 256^3 around the volume centre.
    shape_1mm = np.round(np.array(vol.shape) * sp).astype(int)
    zoom = (np.array(vol.shape) - 1) / (shape_1mm - 1)
    v1 = ndimage.affine_transform(vol, np.diag(zoom), output_shape=tuple(shape_1mm), order=1)
    out = np.zeros((256, 256, 256), np.float32)
    off = (256 - shape_1mm) // 2
    sl_out = tuple(slice(max(o, 0), max(o, 0) + min(s, 256)) for o, s in zip(off, shape_1mm))
    sl_in = tuple(slice(max(-o, 0), max(-o, 0) + min(s, 256)) for o, s in zip(off, shape_1mm))
    out[sl_out] = v1[sl_in]
    aff = scan.affine.copy()
    aff[:3, :3] = scan.affine[:3, :3] @ np.diag(zoom)
    aff[:3, 3] = aff[:3, :3] @ (-off.astype(float)) + scan.affine[:3, 3]
    return Scan(out[None], aff, scan.modality, scan.meta, "chris_t1 resampled to 1 mm 256^3", scan.history + ("bench: 1 mm 256^3",))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phantom", action="store_true", help="benchmark a 256^3 1 mm head phantom")
    ap.add_argument("--sample", default=str(ROOT.parent / "shared" / "samples" / "brain_t1" / "chris_t1.nii.gz"))
    ap.add_argument("--repeats", type=int, default=1, help="timed analyses after the warm-up")
    ap.add_argument("--threads", type=int, default=2, help="ITK threads (set before ANTs is imported)")
    ap.add_argument("--cnn", action="store_true", help="also run the Alzheimer's CNN task")
    args = ap.parse_args(argv)
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(args.threads)

    t0 = time.perf_counter()
    if args.phantom:
        from core.synth.head import make_head_phantom

        scan = make_head_phantom(seed=0, shape=(256, 256, 256), spacing_mm=1.0).scan
    else:
        scan = _chris_256(Path(args.sample))
    print(f"input: {scan.source}  shape {scan.shape}  spacing {tuple(round(s, 2) for s in scan.spacing_mm)} "
          f"(prepared in {time.perf_counter() - t0:.1f} s)")

    t0 = time.perf_counter()
    from core.brain import analyze, warm_up

    warm_up()
    print(f"warmup (imports, templates, atlas): {time.perf_counter() - t0:.1f} s")

    for i in range(max(1, args.repeats)):
        t0 = time.perf_counter()
        c0 = time.process_time()
        r = analyze(scan, age_years=70, sex="F", run_cnn=args.cnn)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        # CPU seconds of this process (all threads): on an otherwise idle 2-core machine the
        # wall time lies between cpu/2 (perfectly parallel) and cpu (serial).
        print(f"\nrun {i + 1}: total {wall:.1f} s wall, {cpu:.1f} s CPU (idle 2-core estimate {cpu / 2:.0f}-{cpu:.0f} s)")
        for k, v in r.timings_s.items():
            print(f"  {k:20s} {v:7.2f} s")
        vols = ", ".join(f"{k} {v:.1f}" for k, v in r.volumes_ml.items())
        print(f"  volumes (mL): {vols}")
    try:
        load = os.getloadavg()
        print(f"\nload average during the run: {load[0]:.1f} (machine shared; timings scale with it)")
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
