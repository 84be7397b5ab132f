"""The training loop every RadLens classifier trainer shares.

One place decides how a model is trained, checkpointed and written out, so all demo
weights are made the same way:

- seeded (python, numpy, torch), ``torch.set_num_threads`` capped (shared CPUs);
- AdamW with a cosine learning-rate schedule after a short linear warm-up;
- mixed precision on CUDA (``torch.autocast`` float16 + ``GradScaler``), float32 on CPU;
- early stopping on the validation metric (mean one-vs-rest AUROC), with a time budget;
- checkpoints (``best.safetensors``, ``last.safetensors``, ``last_state.pt`` with the optimizer)
  and a JSON metrics file (per-epoch history and final metrics) in the run folder;
- a phantom train/val/test split by disjoint seed ranges (:func:`split_seeds`);
- the model folder ``weights/<id>/``: ``model.safetensors`` (fp16) + ``metadata.json`` with sha256,
  seed, exact command, training data description and metrics on the held-out test split,
  measured AFTER the fp16 round trip (what users will actually run).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from core.gates.ood import calibrate_threshold, energy_score
from core.models.metadata import DEFAULT_DEMO_NOTICE
from core.training.metrics import classification_metrics

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WEIGHTS_DIR = PROJECT_ROOT / "weights"
RUNS_DIR = PROJECT_ROOT / "runs"
LICENCE = "AGPL-3.0-or-later"
DEMO_NOTICE = DEFAULT_DEMO_NOTICE

# Phantom seeds per split: disjoint ranges, so no test phantom was ever seen in training.
SPLIT_OFFSETS: dict[str, int] = {"train": 0, "val": 1_000_000, "test": 2_000_000}
OOD_QUANTILE = 0.99  # ~1 % of in-distribution validation images would be refused


# --- setup ---------------------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; otherwise the named device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def split_seeds(split: str, n: int, base_seed: int) -> range:
    """Phantom seeds of one split: ``base_seed + SPLIT_OFFSETS[split] + [0, n)``.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        n: number of phantoms (< 1,000,000 so ranges never overlap).
        base_seed: the run's seed.
    """
    if n >= 1_000_000:
        raise ValueError("a split holds fewer than 1,000,000 phantoms so seed ranges stay disjoint")
    start = base_seed + SPLIT_OFFSETS[split]
    return range(start, start + n)


def describe_split(n_train: int, n_val: int, n_test: int, base_seed: int,
                   per_phantom: bool = True) -> dict[str, str]:
    """Human-readable seeds of the three splits, for metadata.

    Args:
        per_phantom: True when each phantom has its own seed (a range is shown); False when the
            split is one generator call seeded with the range's first seed.
    """
    out = {}
    for split, n in (("train", n_train), ("val", n_val), ("test", n_test)):
        r = split_seeds(split, n, base_seed)
        out[split] = (f"{n} phantoms, seeds {r.start}..{r.stop - 1}" if per_phantom
                      else f"{n} phantoms, dataset seed {r.start}")
    return out


def add_common_arguments(parser: argparse.ArgumentParser, *, model_id: str, epochs: int, batch_size: int,
                         lr: float, n_train: int, n_val: int, n_test: int, patience: int = 3,
                         max_minutes: float = 7.0) -> None:
    """Options every classifier trainer takes (defaults are each task's demo recipe)."""
    g = parser.add_argument_group("training")
    g.add_argument("--data", type=Path, default=None,
                   help="real dataset root (layout in this task's help); default: phantoms from core.synth")
    g.add_argument("--model-id", default=model_id, help="weights folder name under --weights-dir")
    g.add_argument("--weights-dir", type=Path, default=WEIGHTS_DIR, help="where the model folder is written")
    g.add_argument("--run-dir", type=Path, default=None,
                   help="checkpoints and metrics.json (default runs/<model-id>/, git-ignored)")
    g.add_argument("--seed", type=int, default=0, help="seed of phantoms, initialisation and shuffling")
    g.add_argument("--epochs", type=int, default=epochs, help="maximum epochs")
    g.add_argument("--batch-size", type=int, default=batch_size)
    g.add_argument("--lr", type=float, default=lr, help="AdamW peak learning rate (cosine decay)")
    g.add_argument("--weight-decay", type=float, default=1e-4)
    g.add_argument("--patience", type=int, default=patience,
                   help="early stopping: epochs without validation improvement")
    g.add_argument("--max-minutes", type=float, default=max_minutes,
                   help="time budget: no new epoch starts after this many minutes")
    g.add_argument("--n-train", type=int, default=n_train, help="phantom training images")
    g.add_argument("--n-val", type=int, default=n_val, help="phantom validation images (early stopping, OOD)")
    g.add_argument("--n-test", type=int, default=n_test, help="held-out phantom test images (reported metrics)")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    g.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads; 1 is fastest on a shared, oversubscribed CPU (2 threads spin-waited "
                        "for each other and used ~10x the CPU time per step on the 2-core demo machine)")


def format_command(task: str, args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> str:
    """The exact command that reproduces this run: every option spelled out.

    Paths inside the project are written relative to it so the command works in any clone.
    """
    parts = ["python", "-m", "core.train", task]
    for key, value in sorted(vars(args).items()):
        if key in ("task",) or callable(value) or value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            parts.append(flag)
            continue
        if isinstance(value, Path):
            try:
                value = value.resolve().relative_to(PROJECT_ROOT)
            except ValueError:
                pass
        if isinstance(value, (list, tuple)):
            parts.append(flag)
            parts.extend(str(v) for v in value)
        else:
            parts.extend([flag, str(value)])
    return " ".join(parts)


# --- data ----------------------------------------------------------------------------------
def cached_arrays(name: str, key: Mapping[str, Any], make: Callable[[], tuple[np.ndarray, ...]],
                  source_files: Sequence[Path] = (), cache_dir: Path | None = None) -> tuple[np.ndarray, ...]:
    """Phantom arrays from ``make()`` (a tuple of arrays), cached in ``runs/cache/`` (git-ignored).

    Phantom generators are deterministic, so a dataset is fully named by its parameters
    ``key`` plus the source code of the generator (``source_files``): editing a generator
    invalidates its cache. Saves minutes when a recipe is re-run on a shared CPU.
    """
    import hashlib

    h = hashlib.sha256(json.dumps(dict(key), sort_keys=True, default=str).encode())
    for f in source_files:
        h.update(Path(f).read_bytes())
    path = (cache_dir or RUNS_DIR / "cache") / f"{name}-{h.hexdigest()[:16]}.npz"
    if path.exists():
        with np.load(path) as z:
            if "x" in z.files:  # first cache format: images and targets only
                return z["x"], z["y"]
            return tuple(z[f"a{i}"] for i in range(len(z.files)))
    arrays = tuple(make())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **{f"a{i}": a for i, a in enumerate(arrays)})
    tmp.replace(path)
    return arrays


class ArrayDataset(Dataset):
    """In-memory images (uint8 to save memory) with targets and target masks.

    Args:
        images: ``(N, C, H, W)`` float in [0, 1] (stored as uint8) or uint8.
        targets: softmax: ``(N,)`` int class indices; sigmoid: ``(N, K)`` 0/1.
        masks: sigmoid only, ``(N, K)`` 1 where the target is known (default all known).
    """

    def __init__(self, images: np.ndarray, targets: np.ndarray, masks: np.ndarray | None = None) -> None:
        if images.dtype != np.uint8:
            images = (np.clip(images, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        self.images = torch.from_numpy(np.ascontiguousarray(images))
        self.targets = torch.from_numpy(np.asarray(targets))
        m = np.ones(np.asarray(targets).shape, np.float32) if masks is None else np.asarray(masks, np.float32)
        self.masks = torch.from_numpy(m)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.images[i].float() / 255.0, self.targets[i], self.masks[i]


def augment_batch(x: torch.Tensor, generator: torch.Generator, max_shift_px: int = 6) -> torch.Tensor:
    """Mild, label-preserving augmentation of a (N, C, H, W) [0, 1] batch.

    Random gamma (0.75-1.33), contrast/brightness jitter, Gaussian noise and a small integer
    translation. No flips: left/right matters on chest films (heart side) and spine laterals.
    """
    n = x.shape[0]
    u = lambda *shape: torch.rand(*shape, generator=generator)  # noqa: E731 (local shorthand)
    gamma = torch.exp((u(n, 1, 1, 1) - 0.5) * 2 * math.log(1.33))
    x = x.clamp(0, 1) ** gamma
    contrast = 0.85 + 0.3 * u(n, 1, 1, 1)
    bright = (u(n, 1, 1, 1) - 0.5) * 0.12
    x = (x - 0.5) * contrast + 0.5 + bright
    x = x + torch.randn(x.shape, generator=generator) * (0.03 * u(n, 1, 1, 1))
    if max_shift_px > 0:
        dx, dy = (torch.randint(-max_shift_px, max_shift_px + 1, (2,), generator=generator)).tolist()
        x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
    return x.clamp(0, 1)


# --- loop ----------------------------------------------------------------------------------
@dataclass
class TrainConfig:
    """Hyper-parameters of one run (see :func:`add_common_arguments`)."""

    epochs: int
    batch_size: int
    lr: float
    weight_decay: float = 1e-4
    patience: int = 3
    max_minutes: float = 7.0
    device: str = "auto"
    seed: int = 0
    activation: str = "softmax"  # "softmax" (one class) or "sigmoid" (multi-label)
    augment: bool = True
    run_dir: Path | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace, activation: str, run_dir: Path | None) -> "TrainConfig":
        return cls(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                   patience=args.patience, max_minutes=args.max_minutes, device=args.device, seed=args.seed,
                   activation=activation, run_dir=run_dir)


@dataclass
class FitResult:
    """What :func:`fit` returns: the best weights (already loaded in the net) and the history."""

    best_epoch: int
    best_score: float
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    stopped: str = "max epochs"


def loss_fn(logits: torch.Tensor, targets: torch.Tensor, masks: torch.Tensor, activation: str) -> torch.Tensor:
    """Cross-entropy (softmax) or masked binary cross-entropy (multi-label sigmoid)."""
    if activation == "softmax":
        return F.cross_entropy(logits.float(), targets.long())
    per = F.binary_cross_entropy_with_logits(logits.float(), targets.float(), reduction="none")
    return (per * masks).sum() / masks.sum().clamp_min(1.0)


@torch.no_grad()
def predict(net: torch.nn.Module, dataset: Dataset, device: torch.device | str = "cpu",
            batch_size: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logits, targets and masks of a whole dataset (eval mode, float32)."""
    device = torch.device(device)
    net.eval()
    logits, targets, masks = [], [], []
    for x, y, m in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        logits.append(net(x.to(device)).float().cpu())
        targets.append(y)
        masks.append(m)
    return torch.cat(logits).numpy(), torch.cat(targets).numpy(), torch.cat(masks).numpy()


def probabilities(logits: np.ndarray, activation: str) -> np.ndarray:
    """Softmax or sigmoid of ``(N, K)`` logits."""
    t = torch.from_numpy(np.asarray(logits, dtype=np.float32))
    return (torch.softmax(t, dim=1) if activation == "softmax" else torch.sigmoid(t)).numpy()


def evaluate(net: torch.nn.Module, dataset: Dataset, labels: Sequence[str], activation: str,
             device: torch.device | str = "cpu") -> tuple[dict[str, Any], np.ndarray]:
    """Classification metrics of ``net`` on ``dataset`` and its logits."""
    logits, targets, masks = predict(net, dataset, device)
    metrics = classification_metrics(probabilities(logits, activation), targets, labels, activation,
                                     mask=masks if activation == "sigmoid" else None)
    return metrics, logits


def _state_dict_cpu(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone().contiguous() for k, v in net.state_dict().items()}


def fit(net: torch.nn.Module, train_ds: Dataset, val_ds: Dataset, labels: Sequence[str],
        cfg: TrainConfig, log: Callable[[str], None] = print) -> FitResult:
    """Train ``net`` in place; on return it holds the weights of the best validation epoch.

    The validation metric is the mean one-vs-rest AUROC (ties broken by lower validation
    loss). Training stops after ``cfg.patience`` epochs without improvement, after
    ``cfg.epochs``, or when ``cfg.max_minutes`` has passed at the end of an epoch.
    """
    from safetensors.torch import save_file

    device = resolve_device(cfg.device)
    net.to(device)
    seed_everything(cfg.seed)
    loader_gen = torch.Generator().manual_seed(cfg.seed)
    aug_gen = torch.Generator().manual_seed(cfg.seed + 1)
    loader = DataLoader(train_ds, batch_size=cfg.batch_size, shuffle=True, drop_last=len(train_ds) > cfg.batch_size,
                        generator=loader_gen)
    steps_total = max(1, cfg.epochs * len(loader))
    warmup = max(1, min(100, steps_total // 20))
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * (s - warmup) / max(1, steps_total - warmup))))
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    if cfg.run_dir is not None:
        cfg.run_dir.mkdir(parents=True, exist_ok=True)

    start = time.monotonic()
    best_key: tuple[float, float] | None = None
    best_state = _state_dict_cpu(net)
    result = FitResult(best_epoch=0, best_score=float("nan"))
    bad_epochs = 0
    for epoch in range(1, cfg.epochs + 1):
        net.train()
        t0, losses = time.monotonic(), []
        for x, y, m in loader:
            if cfg.augment:
                x = augment_batch(x, aug_gen)
            x, y, m = x.to(device), y.to(device), m.to(device)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                logits = net(x)
            loss = loss_fn(logits, y, m, cfg.activation)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            losses.append(float(loss.detach()))
        val_logits, val_y, val_m = predict(net, val_ds, device)
        val_loss = float(loss_fn(torch.from_numpy(val_logits), torch.from_numpy(val_y), torch.from_numpy(val_m),
                                 cfg.activation))
        vm = classification_metrics(probabilities(val_logits, cfg.activation), val_y, labels, cfg.activation,
                                    mask=val_m if cfg.activation == "sigmoid" else None)
        score = vm["auroc_mean"] if vm["auroc_mean"] is not None else -val_loss
        row = {"epoch": epoch, "train_loss": float(np.mean(losses)) if losses else None, "val_loss": val_loss,
               "val_auroc_mean": vm["auroc_mean"], "val_auroc_min": vm["auroc_min"], "val_accuracy": vm["accuracy"],
               "lr": opt.param_groups[0]["lr"], "epoch_seconds": round(time.monotonic() - t0, 1)}
        result.history.append(row)
        log(f"epoch {epoch}: train_loss {row['train_loss']:.4f} val_loss {val_loss:.4f} "
            f"val_auroc mean {vm['auroc_mean']} min {vm['auroc_min']} acc {vm['accuracy']} ({row['epoch_seconds']} s)")
        key = (score, -val_loss)
        if best_key is None or key > best_key:
            best_key, best_state, bad_epochs = key, _state_dict_cpu(net), 0
            result.best_epoch, result.best_score = epoch, float(score)
            if cfg.run_dir is not None:
                save_file(best_state, str(cfg.run_dir / "best.safetensors"))
        else:
            bad_epochs += 1
        if cfg.run_dir is not None:
            save_file(_state_dict_cpu(net), str(cfg.run_dir / "last.safetensors"))
            torch.save({"epoch": epoch, "optimizer": opt.state_dict(), "scheduler": sched.state_dict()},
                       cfg.run_dir / "last_state.pt")
            write_metrics_file(cfg.run_dir / "metrics.json", {"history": result.history})
        if bad_epochs >= cfg.patience:
            result.stopped = f"early stopping (no improvement for {cfg.patience} epochs)"
            break
        if (time.monotonic() - start) / 60.0 >= cfg.max_minutes:
            result.stopped = f"time budget ({cfg.max_minutes} min)"
            break
    net.load_state_dict(best_state)
    result.seconds = round(time.monotonic() - start, 1)
    return result


# --- outputs -------------------------------------------------------------------------------
def fp16_round_trip(net: torch.nn.Module) -> None:
    """Round the net's floating weights through float16 in place (what the saved file holds)."""
    with torch.no_grad():
        for t in list(net.parameters()) + list(net.buffers()):
            if t.is_floating_point():
                t.copy_(t.half().float())


def ood_calibration(val_logits: np.ndarray, quantile: float = OOD_QUANTILE) -> dict[str, Any]:
    """Energy-score OOD threshold from in-distribution validation logits (core.gates.ood)."""
    scores = energy_score(val_logits, temperature=1.0)
    return {"method": "energy", "temperature": 1.0, "threshold": round(calibrate_threshold(scores, quantile), 4),
            "quantile": quantile, "calibrated_on": f"phantom validation split ({len(scores)} images)",
            "score_convention": "energy = -T*logsumexp(logits/T); higher = more out-of-distribution"}


def write_metrics_file(path: Path, metrics: Mapping[str, Any]) -> Path:
    """Write ``metrics`` as indented JSON (creating the folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2, default=_json_default) + "\n")
    return path


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def round_floats(obj: Any, digits: int = 4) -> Any:
    """Round every float in a nested structure (metadata stays readable)."""
    if isinstance(obj, float):
        return round(obj, digits)
    if isinstance(obj, Mapping):
        return {k: round_floats(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [round_floats(v, digits) for v in obj]
    return obj


def write_model_folder(net: torch.nn.Module, meta: Mapping[str, Any], folder: Path) -> Path:
    """Write ``folder/model.safetensors`` (fp16) and ``folder/metadata.json`` (with sha256).

    Returns:
        The metadata.json path.
    """
    from core.models.saving import save_torch_model

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    saved = save_torch_model(net.cpu(), dict(meta), folder, fmt="safetensors", fp16=True)
    return Path(saved.folder) / "metadata.json" if saved.folder else folder / "metadata.json"
