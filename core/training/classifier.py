"""Train one 2D classifier member end to end and write its weights folder.

Shared by the brain-tumour, chest X-ray and spine X-ray trainers: build the network from
its metadata (:func:`core.models.builders.build_network`), fit it (:func:`core.training.common.fit`),
round it to fp16, measure it on the held-out split, calibrate its energy OOD threshold on
the validation split, and write ``weights/<id>/`` plus ``runs/<id>/metrics.json``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from core.models.builders import build_network
from core.models.inputs import image_to_input
from core.models.metadata import InputSpec
from core.training.common import (
    DEMO_NOTICE, LICENCE, RUNS_DIR, ArrayDataset, TrainConfig, evaluate, fit, fp16_round_trip, ood_calibration,
    round_floats, seed_everything, write_metrics_file, write_model_folder,
)
from core.training.readers import load_image

NORMALIZATION_TEXT = ("core.models.inputs.image_to_input: percentile (0.5-99.5) rescale to [0, 1], "
                      "bilinear antialiased resize to spatial_shape, no mean/std")


@dataclass(frozen=True)
class MemberSpec:
    """One network of a task (an ensemble has several).

    Attributes:
        model_id: weights folder name.
        architecture: timm model name.
        architecture_kwargs: passed to timm (width/depth reductions).
        family: honest description, e.g. "DenseNet-121 architecture family, reduced width (growth rate 16)".
        ensemble_weight: weight in the task's ensemble, or None for a single model.
    """

    model_id: str
    architecture: str
    architecture_kwargs: Mapping[str, Any] = field(default_factory=dict)
    family: str = ""
    ensemble_weight: float | None = None


def images_to_uint8(images: Sequence[np.ndarray], spec: InputSpec) -> np.ndarray:
    """Displayed 2D images -> ``(N, C, H, W)`` uint8 through the shared input function.

    Phantoms go through :func:`core.models.inputs.image_to_input` exactly like uploads do at
    inference (percentile rescale, resize), then are quantised to uint8 to save memory.
    """
    lo, hi = spec.value_range
    out = np.empty((len(images), spec.channels, *spec.spatial_shape), np.uint8)
    for i, img in enumerate(images):
        x = (image_to_input(img, spec) - lo) / (hi - lo)
        out[i] = (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return out


def resize_uint8(images: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Bring cached ``(N, C, h, w)`` uint8 phantoms to the model's spatial shape.

    Phantoms are generated (and cached) at their own size; the model may take a smaller
    input. Each image goes through :func:`core.models.inputs.image_to_input` again, the same
    rescale + antialiased resize an upload of that phantom gets at inference.
    """
    if tuple(images.shape[2:]) == tuple(spec.spatial_shape):
        return images
    return images_to_uint8([img[0].astype(np.float32) / 255.0 for img in images], spec)


def phantom_dataset(make: Callable[[int], tuple[np.ndarray, Any]], seeds: Sequence[int], spec: InputSpec,
                    activation: str) -> ArrayDataset:
    """Generate one phantom per seed (``make(seed) -> (image, target)``) into an in-memory dataset."""
    xs, ys = [], []
    for seed in seeds:
        image, target = make(int(seed))
        xs.append(image_to_input(image, spec))
        ys.append(target)
    targets = np.asarray(ys, dtype=np.int64 if activation == "softmax" else np.float32)
    return ArrayDataset(np.stack(xs), targets)


class FileDataset(Dataset):
    """Real images read lazily from disk (through core.io, like at inference).

    Args:
        paths: image files.
        targets: softmax ``(N,)`` class indices or sigmoid ``(N, K)`` 0/1.
        masks: sigmoid ``(N, K)`` known-target masks (CheXpert U-Ignore), default all ones.
        spec: the model input contract.
    """

    def __init__(self, paths: Sequence[Path], targets: np.ndarray, spec: InputSpec,
                 masks: np.ndarray | None = None) -> None:
        self.paths = list(paths)
        self.targets = torch.from_numpy(np.asarray(targets))
        self.masks = torch.from_numpy(np.ones(self.targets.shape, np.float32) if masks is None
                                      else np.asarray(masks, np.float32))
        self.spec = spec

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = image_to_input(load_image(self.paths[i]), self.spec)
        return torch.from_numpy(x), self.targets[i], self.masks[i]


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random split of ``range(n)`` into (train, val) index arrays."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    n_val = max(1, int(round(n * val_fraction))) if n > 1 else 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def base_metadata(*, task: str, member: MemberSpec, labels: Sequence[str], activation: str, spec: InputSpec,
                  version: str = "0.1.0") -> dict[str, Any]:
    """The metadata keys known before training (architecture, labels, input contract)."""
    return {
        "id": member.model_id, "task": task, "version": version, "framework": "timm",
        "architecture": member.architecture, "architecture_kwargs": dict(member.architecture_kwargs),
        "architecture_family": member.family, "labels": list(labels), "activation": activation,
        "role": "classifier", "input": spec.to_dict(), "ensemble_weight": member.ensemble_weight,
        "licence": LICENCE,
    }


def train_member(args: argparse.Namespace, *, task: str, member: MemberSpec, labels: Sequence[str],
                 activation: str, spec: InputSpec, train_ds: Dataset, val_ds: Dataset, test_ds: Dataset,
                 training_data: str, heldout_set: str, command: str, demo: bool,
                 extra_meta: Mapping[str, Any] | None = None, log: Callable[[str], None] = print,
                 fit_fn: Callable[..., Any] = fit,
                 ) -> tuple[dict[str, Any], np.ndarray, Path]:
    """Train, evaluate and write one member.

    ``fit_fn`` replaces :func:`core.training.common.fit` (same signature and result) for a task
    that trains with extra supervision (the spine trainer adds a lesion-map loss).

    Returns:
        ``(metrics, test_logits, metadata_path)``; metrics are those stored in metadata.json.
    """
    seed_everything(args.seed)
    meta = base_metadata(task=task, member=member, labels=labels, activation=activation, spec=spec)
    net = build_network(meta)
    n_params = sum(p.numel() for p in net.parameters())
    run_dir = (args.run_dir or RUNS_DIR) / member.model_id
    cfg = TrainConfig.from_args(args, activation, run_dir)
    log(f"[{member.model_id}] {member.architecture} {dict(member.architecture_kwargs)}: {n_params / 1e6:.2f} M "
        f"parameters; train {len(train_ds)} / val {len(val_ds)} / test {len(test_ds)}")
    t0 = time.monotonic()
    result = fit_fn(net, train_ds, val_ds, labels, cfg, log=lambda s: log(f"[{member.model_id}] {s}"))
    net.cpu()
    fp16_round_trip(net)  # measure exactly what is saved
    _, val_logits = evaluate(net, val_ds, labels, activation)
    test_metrics, test_logits = evaluate(net, test_ds, labels, activation)
    seconds = round(time.monotonic() - t0, 1)
    metrics = {"heldout_set": heldout_set, **test_metrics, "best_epoch": result.best_epoch,
               "epochs_run": len(result.history), "stopped": result.stopped,
               "val_auroc_mean_best": result.best_score, "train_seconds": seconds,
               "device": str(torch.device(cfg.device) if cfg.device != "auto" else
                             ("cuda" if torch.cuda.is_available() else "cpu")),
               "parameters": int(n_params)}
    metrics = round_floats(metrics)
    meta.update({
        "ood": ood_calibration(val_logits),
        "training_data": training_data, "demo": demo, "seed": int(args.seed), "command": command,
        "metrics": metrics, "thresholds": {},
    })
    if demo:
        meta["demo_notice"] = DEMO_NOTICE
    meta.update(dict(extra_meta or {}))
    path = write_model_folder(net, meta, args.weights_dir / member.model_id)
    write_metrics_file(run_dir / "metrics.json", {"history": result.history, "test": metrics,
                                                  "ood": meta["ood"]})
    log(f"[{member.model_id}] held-out ({heldout_set}): AUROC per class {metrics['auroc']}, "
        f"accuracy {metrics['accuracy']}, {seconds} s")
    return metrics, test_logits, path
