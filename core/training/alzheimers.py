"""Alzheimer's staging: train the 3D attention CNN on head phantoms or a real CSV dataset.

Phantom mode (default): T1 head phantoms from :mod:`core.synth.head` generated directly at 64^3 and
3.5 mm, one of the four stages each (balanced), with graded atrophy from
:func:`core.synth.head.stage_params` (overlapping ranges, so neighbouring stages are ambiguous by
design) plus random anatomy, bias field, noise, blur and slice thickness. Train/val/test use
disjoint seed ranges; the test split is held out and its metrics go to metadata.json.

Real mode: ``--data dataset.csv`` with columns ``path,label`` (OASIS/ADNI style); ``label`` is one
of the four class names (RadLens or Kaggle spelling, e.g. ``NonDemented``) or a CDR value
(0, 0.5, 1, 2). Paths (relative to the CSV) are NIfTI/MGZ files, DICOM zips or DICOM folders, read
through :func:`core.io.load_scan`. A seeded 70/15/15 split is made; ``--split-column`` may name a
column holding train/val/test instead.

Example::

    nice -n 10 python -m core.train alzheimers   # demo weights: phantoms ~9 min (cached in runs/), training ~5.5 min (busy 2-core machine)
    python -m core.train alzheimers --data oasis.csv --model-id alzheimers-oasis
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from core.models.builders import build_network
from core.progression import canonical_stage
from core.tasks.alzheimers import GRID_SHAPE, LABELS, MODEL_ID, NORMALIZATION_TEXT, SPACING_MM, prepare_volume
from core.training.common import (
    DEMO_NOTICE, LICENCE, RUNS_DIR, ArrayDataset, TrainConfig, add_common_arguments, describe_split, evaluate, fit,
    format_command, fp16_round_trip, ood_calibration, round_floats, seed_everything, split_seeds, write_metrics_file,
    write_model_folder,
)

ARCHITECTURE = "AttentionCNN3D"
ARCHITECTURE_KWARGS: dict[str, Any] = {"channels": [16, 32, 48, 64], "dropout": 0.2}
CDR_TO_LABEL = {0.0: LABELS[0], 0.5: LABELS[1], 1.0: LABELS[2], 2.0: LABELS[3]}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m core.train alzheimers``."""
    add_common_arguments(parser, model_id=MODEL_ID, epochs=30, batch_size=16, lr=2e-3, n_train=320, n_val=64,
                         n_test=120, patience=6, max_minutes=20.0)
    g = parser.add_argument_group("alzheimers")
    g.add_argument("--split-column", default=None, help="real mode: CSV column with train/val/test per row")
    g.add_argument("--cache", type=Path, default=None,
                   help="phantom mode: .npz cache of the generated volumes (default runs/<model-id>/phantoms.npz)")


# --- phantoms ----------------------------------------------------------------------------------
def phantom_volume(seed: int) -> tuple[np.ndarray, int, dict[str, Any]]:
    """One prepared phantom: ``(GRID_SHAPE float32 [0, 1], class index, generation params)``.

    The class is ``seed % 4`` (balanced splits); every other draw comes from ``seed``.
    """
    from core.synth.head import make_head_phantom, stage_params

    stage = int(seed % 4)
    rng = np.random.default_rng([seed, 7])
    sp = stage_params(stage, rng)
    thick = [None, None, 4.5, 6.0][int(rng.integers(0, 4))]
    ph = make_head_phantom(seed=int(seed), shape=GRID_SHAPE, spacing_mm=SPACING_MM, atrophy=sp["atrophy"],
                           noise_level=float(rng.uniform(0.01, 0.05)), bias_strength=float(rng.uniform(0.05, 0.3)),
                           slice_thickness_mm=thick, blur_mm=float(rng.uniform(0.5, 2.5)))
    prep = prepare_volume(ph.scan)
    return prep.array, stage, {"atrophy": sp["atrophy"], "slice_thickness_mm": thick}


def phantom_arrays(seeds: Sequence[int], log: Callable[[str], None] = print) -> tuple[np.ndarray, np.ndarray]:
    """Generate prepared phantoms for ``seeds``: ``(N, 1, X, Y, Z) uint8``, ``(N,) int64``."""
    xs = np.empty((len(seeds), 1) + GRID_SHAPE, np.uint8)
    ys = np.empty(len(seeds), np.int64)
    t0 = time.monotonic()
    for i, seed in enumerate(seeds):
        vol, y, _ = phantom_volume(int(seed))
        xs[i, 0] = (vol * 255.0 + 0.5).astype(np.uint8)
        ys[i] = y
        if (i + 1) % 100 == 0:
            log(f"  generated {i + 1}/{len(seeds)} phantoms ({time.monotonic() - t0:.0f} s)")
    return xs, ys


def cached_phantoms(path: Path, splits: dict[str, range], log: Callable[[str], None] = print) -> dict[str, tuple]:
    """Phantom arrays per split, reusing ``path`` when it holds exactly these seed ranges."""
    key = np.array([[r.start, r.stop] for r in splits.values()], np.int64)
    if path.is_file():
        with np.load(path) as z:
            if "key" in z and np.array_equal(z["key"], key):
                log(f"phantoms from cache {path}")
                return {s: (z[f"{s}_x"], z[f"{s}_y"]) for s in splits}
    out = {}
    for split, seeds in splits.items():
        log(f"generating {len(seeds)} {split} phantoms")
        out[split] = phantom_arrays(list(seeds), log)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, key=key, **{f"{s}_x": v[0] for s, v in out.items()}, **{f"{s}_y": v[1] for s, v in out.items()})
    return out


class AugmentedVolumes(Dataset):
    """Label-preserving 3D augmentation on top of an :class:`ArrayDataset` (seeded, single process).

    Random left/right flip, integer shift of up to 3 voxels per axis, Gaussian blur (sigma 0.3-1.2 voxels,
    half of the samples), gamma 0.8-1.25, contrast and brightness jitter and Gaussian noise.
    """

    def __init__(self, base: ArrayDataset, seed: int) -> None:
        self.base = base
        self.gen = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, y, m = self.base[i]
        g = self.gen
        if torch.rand(1, generator=g).item() < 0.5:
            x = torch.flip(x, dims=(1,))  # X is left-right in RAS+
        shifts = torch.randint(-3, 4, (3,), generator=g).tolist()
        x = torch.roll(x, shifts=shifts, dims=(1, 2, 3))
        if float(torch.rand(1, generator=g)) < 0.5:
            # partial-volume blur as after downsampling a 1 mm scan (phantoms are generated at 3.5 mm)
            from scipy.ndimage import gaussian_filter

            sigma = 0.3 + 0.9 * float(torch.rand(1, generator=g))
            x = torch.from_numpy(gaussian_filter(x.numpy(), (0, sigma, sigma, sigma), truncate=2.5))
        gamma = float(torch.exp((torch.rand(1, generator=g) - 0.5) * 2 * np.log(1.25)))
        x = x.clamp(0, 1) ** gamma
        contrast = 0.9 + 0.2 * float(torch.rand(1, generator=g))
        bright = (float(torch.rand(1, generator=g)) - 0.5) * 0.1
        x = (x - 0.5) * contrast + 0.5 + bright
        x = x + torch.randn(x.shape, generator=g) * 0.02 * float(torch.rand(1, generator=g))
        return x.clamp(0, 1), y, m


# --- real data ---------------------------------------------------------------------------------
def label_index(value: str) -> int:
    """Class index of a CSV label: a class name (any accepted spelling) or a CDR value."""
    v = str(value).strip()
    try:
        cdr = float(v)
    except ValueError:
        return LABELS.index(canonical_stage(v))
    if cdr not in CDR_TO_LABEL:
        raise ValueError(f"CDR {cdr} is not one of the modelled classes (0, 0.5, 1, 2)")
    return LABELS.index(CDR_TO_LABEL[cdr])


def read_csv_dataset(csv_path: Path, split_column: str | None, seed: int,
                     log: Callable[[str], None] = print) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Load every volume of a ``path,label`` CSV through core.io and prepare it; split train/val/test."""
    from core.io import load_scan

    rows = list(csv.DictReader(csv_path.open(newline="", encoding="utf-8")))
    if not rows or "path" not in rows[0] or "label" not in rows[0]:
        raise SystemExit(f"{csv_path}: needs a header with columns 'path' and 'label'")
    xs, ys, splits = [], [], []
    for i, row in enumerate(rows):
        p = Path(row["path"])
        p = p if p.is_absolute() else csv_path.parent / p
        scan = load_scan(p)
        xs.append((prepare_volume(scan).array * 255.0 + 0.5).astype(np.uint8)[None])
        ys.append(label_index(row["label"]))
        splits.append((row.get(split_column) or "").strip().lower() if split_column else "")
        if (i + 1) % 50 == 0:
            log(f"  read {i + 1}/{len(rows)} volumes")
    x, y = np.stack(xs), np.asarray(ys, np.int64)
    if split_column:
        idx = {s: np.array([i for i, v in enumerate(splits) if v == s], int) for s in ("train", "val", "test")}
    else:
        order = np.random.default_rng(seed).permutation(len(y))
        n_val = n_test = max(1, int(round(0.15 * len(y))))
        idx = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
    for s, ii in idx.items():
        if len(ii) == 0:
            raise SystemExit(f"{csv_path}: the {s} split is empty")
    return {s: (x[ii], y[ii]) for s, ii in idx.items()}


# --- run ---------------------------------------------------------------------------------------
def confusion(probs: np.ndarray, y: np.ndarray, k: int) -> list[list[int]]:
    """Rows = true class, columns = predicted class."""
    m = np.zeros((k, k), int)
    for t, p in zip(y, probs.argmax(axis=1)):
        m[int(t), int(p)] += 1
    return m.tolist()


def run(args: argparse.Namespace, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train, evaluate on the held-out split, write ``weights/<model-id>/``; returns the metrics."""
    torch.set_num_threads(max(1, int(args.threads)))
    seed_everything(args.seed)
    t_start = time.monotonic()
    run_dir = (args.run_dir or RUNS_DIR) / args.model_id
    if args.data is not None:
        data = read_csv_dataset(Path(args.data), args.split_column, args.seed, log)
        demo = False  # real data: not a phantom demo
        training_data = (f"Real dataset from {Path(args.data).name} (path,label CSV): "
                         + ", ".join(f"{s} {len(v[1])}" for s, v in data.items()) + " volumes.")
        heldout = f"{Path(args.data).name} test split"
    else:
        splits = {s: split_seeds(s, n, args.seed) for s, n in (("train", args.n_train), ("val", args.n_val),
                                                                ("test", args.n_test))}
        t0 = time.monotonic()
        data = cached_phantoms(args.cache or run_dir / "phantoms.npz", splits, log)
        log(f"phantoms ready in {time.monotonic() - t0:.0f} s")
        demo = True
        d = describe_split(args.n_train, args.n_val, args.n_test, args.seed)
        training_data = (
            "Synthetic T1 head phantoms from core.synth.head.make_head_phantom at 64^3 x 3.5 mm, balanced over the "
            "four stages; atrophy drawn from core.synth.head.stage_params (phantom rule, overlapping ranges "
            "0-0.30 / 0.20-0.55 / 0.45-0.80 / 0.70-1.00: ventricle enlargement, hippocampal and cortical loss), "
            "random anatomy, bias field (0.05-0.3), Rician noise (1-5 %), blur 0.5-2.5 mm and 4.5/6 mm slices in "
            f"half of them. Splits by disjoint seeds: train {d['train']}; val {d['val']}; test {d['test']}. "
            "No real patient data.")
        heldout = f"phantom test split ({d['test']})"

    train_ds = ArrayDataset(*data["train"])
    val_ds = ArrayDataset(*data["val"])
    test_ds = ArrayDataset(*data["test"])
    meta: dict[str, Any] = {
        "id": args.model_id, "task": "alzheimers", "version": "0.1.0", "framework": "monai",
        "architecture": ARCHITECTURE, "architecture_kwargs": dict(ARCHITECTURE_KWARGS),
        "architecture_family": "custom 3D CNN from MONAI blocks (Convolution, ResidualUnit, ChannelSELayer) with "
                               "spatial attention pooling; core/models/attention3d.py",
        "labels": list(LABELS), "activation": "softmax", "role": "classifier",
        "input": {"modality": ["MR"], "channels": 1, "spatial_shape": list(GRID_SHAPE), "value_range": [0, 1],
                  "normalization": NORMALIZATION_TEXT, "spacing_mm": [SPACING_MM] * 3},
        "thresholds": {}, "ensemble_weight": None, "licence": LICENCE,
    }
    net = build_network(meta).to(memory_format=torch.channels_last_3d)  # ~2x faster 3D convs on CPU
    n_params = sum(p.numel() for p in net.parameters())
    log(f"{ARCHITECTURE} {ARCHITECTURE_KWARGS}: {n_params / 1e6:.3f} M parameters; "
        f"train {len(train_ds)} / val {len(val_ds)} / test {len(test_ds)}")
    cfg = TrainConfig.from_args(args, "softmax", run_dir)
    cfg.augment = False  # the shared 2D augmentation does not apply; AugmentedVolumes does it in 3D
    result = fit(net, AugmentedVolumes(train_ds, args.seed + 11), val_ds, LABELS, cfg, log=log)
    net = net.cpu().to(memory_format=torch.contiguous_format)
    fp16_round_trip(net)  # measure exactly what is saved
    _, val_logits = evaluate(net, val_ds, LABELS, "softmax")
    test_metrics, test_logits = evaluate(net, test_ds, LABELS, "softmax")
    probs = torch.softmax(torch.from_numpy(test_logits), 1).numpy()
    y_test = data["test"][1]
    conf = probs.max(axis=1)
    thr = 0.60
    kept = conf >= thr
    metrics = {
        "heldout_set": heldout, **test_metrics,
        "confusion_matrix": {"rows_true_cols_pred": list(LABELS), "counts": confusion(probs, y_test, len(LABELS))},
        "within_one_stage_accuracy": float((np.abs(probs.argmax(1) - y_test) <= 1).mean()),
        "coverage_at_threshold_0.60": float(kept.mean()),
        "accuracy_when_answered_at_0.60": float((probs.argmax(1)[kept] == y_test[kept]).mean()) if kept.any() else None,
        "best_epoch": result.best_epoch, "epochs_run": len(result.history), "stopped": result.stopped,
        "train_seconds": result.seconds, "parameters": int(n_params),
    }
    meta.update({
        "training_data": training_data, "demo": bool(demo), "seed": int(args.seed),
        "command": format_command("alzheimers", args), "metrics": round_floats(metrics),
        "ood": ood_calibration(val_logits),
        "cam_target_layer": "stage3",
    })
    if demo:
        meta["demo_notice"] = DEMO_NOTICE
    meta_path = write_model_folder(net, meta, Path(args.weights_dir) / args.model_id)
    write_metrics_file(run_dir / "metrics.json", {"history": result.history, "final": metrics})
    log(f"wrote {meta_path} (total {time.monotonic() - t_start:.0f} s)")
    return round_floats(metrics)


__all__ = ["add_arguments", "run", "phantom_volume", "label_index", "read_csv_dataset", "AugmentedVolumes"]
