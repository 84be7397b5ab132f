"""Chest X-ray multi-label findings: DenseNet-121-family + MobileNetV2-family ensemble.

Each member is a multi-label sigmoid classifier trained on its own and written to its own
folder; the task averages them with ``ensemble_weight`` from metadata.

Phantoms (default): PA chest radiographs from :func:`core.synth.chest.chest_dataset` with the
findings of ``core.synth.chest.CHEST_FINDINGS`` (cardiomegaly by heart size, effusion by
blunted angles, nodules, masses, ...); train/val/test from disjoint dataset seeds.

Real data (``--data ROOT --csv-format chexpert|nih``):

- CheXpert: ``ROOT/train.csv`` (+ images under ROOT as its ``Path`` column says); uncertain
  labels by ``--uncertain-policy`` (U-Ignore | U-Zeros | U-Ones); ``ROOT/valid.csv`` is the test set.
- NIH ChestX-ray14: ``ROOT/Data_Entry_2017.csv`` and the images anywhere under ROOT; a seeded
  ``--test-fraction`` is the test set.

``--labels`` chooses the finding columns (default: the phantom findings, with NIH's
``Effusion`` spelled as CheXpert's ``Pleural Effusion``).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from core.models.metadata import InputSpec, load_metadata, write_metadata
from core.training.classifier import (
    NORMALIZATION_TEXT, FileDataset, MemberSpec, images_to_uint8, resize_uint8, split_indices, train_member,
)
from core.training.common import (
    ArrayDataset, add_common_arguments, cached_arrays, describe_split, format_command, probabilities, round_floats,
    seed_everything, split_seeds,
)
from core.training.metrics import classification_metrics
from core.training.readers import UNCERTAIN_POLICIES, read_chexpert_csv, read_nih_csv

TASK = "chest-xray"
MEMBERS: dict[str, MemberSpec] = {
    "densenet121": MemberSpec(
        "chest-xray-densenet121", "densenet121", {"growth_rate": 8},
        "DenseNet-121 architecture family: the 121-layer block layout (6/12/24/16) kept, width reduced "
        "(growth rate 8 instead of 32, 16 stem features)", ensemble_weight=0.5),
    # output stride 16: the last stride-2 stage is dilated instead, so a 128 px input keeps an 8x8 map
    # (4x4 at stride 32); with it (and --lr 5e-3) the member learned ~2x faster in a 150-step probe
    "mobilenetv2": MemberSpec(
        "chest-xray-mobilenetv2", "mobilenetv2_050", {"output_stride": 16},
        "MobileNetV2 family, width multiplier 0.5 (timm mobilenetv2_050), output stride 16 (last stage "
        "dilated instead of strided)", ensemble_weight=0.5),
}


def _default_labels() -> list[str]:
    from core.synth.chest import CHEST_FINDINGS

    return list(CHEST_FINDINGS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m core.train chest-xray``."""
    add_common_arguments(parser, model_id="(per member)", epochs=6, batch_size=16, lr=2e-3,
                         n_train=1600, n_val=300, n_test=500)
    parser.add_argument("--members", nargs="+", choices=sorted(MEMBERS), default=sorted(MEMBERS),
                        help="ensemble members to train (each gets its own weights folder)")
    # 128 px: the ~330 mm chest spans ~90 % of the image, so ~3.8 mm/px at 96 px (a 15 mm nodule is 4 px)
    # and ~2.9 mm/px at 128 px (5 px)
    parser.add_argument("--image-size", type=int, default=128, help="square model input side in pixels")
    parser.add_argument("--phantom-size", type=int, default=160,
                        help="side of the generated phantom radiographs (resized to --image-size like an upload)")
    parser.add_argument("--labels", nargs="+", default=None, help="finding labels (default: phantom findings)")
    parser.add_argument("--normal-fraction", type=float, default=0.25, help="phantoms: share with no finding")
    parser.add_argument("--csv-format", choices=("chexpert", "nih"), default="chexpert", help="real data layout")
    parser.add_argument("--uncertain-policy", choices=UNCERTAIN_POLICIES, default="U-Ignore",
                        help="CheXpert -1 labels: masked (U-Ignore), negative (U-Zeros) or positive (U-Ones)")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="real data: training share held out")
    parser.add_argument("--test-fraction", type=float, default=0.1, help="NIH: share held out as the test set")
    parser.add_argument("--ensemble-only", action="store_true",
                        help="train nothing: score the saved --members in --weights-dir together on the test split "
                             "and write the ensemble metrics into each member's metadata.json")


def _phantom_split(split: str, n: int, args: argparse.Namespace, labels: list[str], spec: InputSpec) -> ArrayDataset:
    import core.synth.chest as synth

    seed = split_seeds(split, n, args.seed).start

    size = args.phantom_size
    gen_spec = replace(spec, spatial_shape=(size, size))

    def make() -> tuple[np.ndarray, np.ndarray]:
        images, targets = synth.chest_dataset(n, seed, tuple(labels), size=size, normal_fraction=args.normal_fraction)
        return images_to_uint8(images, gen_spec), targets

    key = {"n": n, "seed": seed, "size": size, "labels": labels, "normal": args.normal_fraction,
           "spec": gen_spec.to_dict()}
    x, y = cached_arrays(f"chest-{split}", key, make, [Path(synth.__file__), Path(synth.__file__).with_name("_fields.py")])
    return ArrayDataset(resize_uint8(x, spec), y)


def _real_splits(args: argparse.Namespace, labels: list[str], spec: InputSpec):
    root: Path = args.data
    if args.csv_format == "chexpert":
        train = read_chexpert_csv(root / "train.csv", labels, policy=args.uncertain_policy)
        test = read_chexpert_csv(root / "valid.csv", labels, policy=args.uncertain_policy)
        desc = f"CheXpert layout at {root.name}, uncertain policy {args.uncertain_policy}"
        heldout = f"{root.name}/valid.csv"
    else:
        records = read_nih_csv(root / "Data_Entry_2017.csv", labels, images_dir=root)
        rest, te = split_indices(len(records), args.test_fraction, args.seed + 7)
        train, test = [records[i] for i in rest], [records[i] for i in te]
        desc = f"NIH ChestX-ray14 layout at {root.name}"
        heldout = f"{root.name} seeded {args.test_fraction:.0%} test split"
    tr, va = split_indices(len(train), args.val_fraction, args.seed)

    def ds(recs):
        return FileDataset([r.path for r in recs], np.stack([r.targets for r in recs]), spec,
                           masks=np.stack([r.mask for r in recs]))

    train_recs, val_recs = [train[i] for i in tr], [train[i] for i in va]
    text = f"{desc}: {len(train_recs)} training / {len(val_recs)} validation / {len(test)} test images."
    return ds(train_recs), ds(val_recs), ds(test), text, heldout


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train the chosen ensemble members; write one weights folder each plus ensemble metrics."""
    import torch

    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    labels = list(args.labels or _default_labels())
    spec = InputSpec(modality=("CR", "DX"), channels=1, spatial_shape=(args.image_size, args.image_size),
                     value_range=(0.0, 1.0), normalization=NORMALIZATION_TEXT)
    t0 = time.monotonic()
    if args.data is None:
        train_ds = _phantom_split("train", args.n_train, args, labels, spec)
        val_ds = _phantom_split("val", args.n_val, args, labels, spec)
        test_ds = _phantom_split("test", args.n_test, args, labels, spec)
        sp = describe_split(args.n_train, args.n_val, args.n_test, args.seed, per_phantom=False)
        prevalence = {lab: round(float(v), 3) for lab, v in zip(labels, train_ds.targets.float().mean(0).tolist())}
        training_data = (
            f"Synthetic PA chest radiograph phantoms (core.synth.chest, generated at {args.phantom_size} px, resized "
            f"to {args.image_size} px by the inference preprocessing), multi-label findings "
            f"{labels} drawn with phantom prevalences and co-occurrences ({args.normal_fraction:.0%} with no finding; "
            f"training prevalence {prevalence}). Train: {sp['train']}; validation: {sp['val']}; test: {sp['test']}. "
            "No real patient data.")
        heldout = "phantom test split (core.synth.chest, seeds disjoint from training)"
        demo = True
    else:
        train_ds, val_ds, test_ds, training_data, heldout = _real_splits(args, labels, spec)
        demo = False
    data_seconds = round(time.monotonic() - t0, 1)
    print(f"[chest-xray] data ready in {data_seconds} s", flush=True)
    if args.ensemble_only:
        return _score_saved_members(args, test_ds, labels)

    results: dict[str, Any] = {"data_seconds": data_seconds, "members": {}}
    test_probs, paths, weights = {}, {}, {}
    for key in args.members:
        member = MEMBERS[key]
        sub = argparse.Namespace(**{**vars(args), "model_id": member.model_id, "members": [key]})
        metrics, logits, path = train_member(
            sub, task=TASK, member=member, labels=labels, activation="sigmoid", spec=spec, train_ds=train_ds,
            val_ds=val_ds, test_ds=test_ds, training_data=training_data, heldout_set=heldout,
            command=format_command(TASK, sub), demo=demo,
            extra_meta={"thresholds": {"finding": 0.5}, "timing": {"data_generation_seconds": data_seconds}})
        results["members"][member.model_id] = metrics
        test_probs[member.model_id] = probabilities(logits, "sigmoid")
        paths[member.model_id], weights[member.model_id] = path, member.ensemble_weight or 1.0
    if len(test_probs) > 1:
        results["ensemble"] = _write_ensemble(test_probs, weights, paths, test_ds, labels,
                                              note="members trained together in this run")
    return results


def _write_ensemble(test_probs: dict[str, np.ndarray], weights: dict[str, float], paths: dict[str, Path],
                    test_ds: Any, labels: list[str], note: str) -> dict[str, Any]:
    """Weighted mean of the members' test probabilities -> metrics, stored in every member's metadata."""
    total = sum(weights.values())
    ens = sum(weights[m] * p for m, p in test_probs.items()) / total
    ens_metrics = round_floats(classification_metrics(ens, test_ds.targets.numpy(), labels, "sigmoid",
                                                      mask=test_ds.masks.numpy()))
    ens_metrics["members"] = {m: round(w / total, 4) for m, w in weights.items()}
    ens_metrics["note"] = note
    print(f"[chest-xray] ensemble held-out AUROC per class {ens_metrics['auroc']}", flush=True)
    for path in paths.values():  # the sha256 covers the weight file, so metadata may be extended
        meta = load_metadata(path.parent).to_dict()
        meta["metrics"] = {**meta["metrics"], "ensemble": ens_metrics}
        write_metadata(meta, path.parent)
    return ens_metrics


def _score_saved_members(args: argparse.Namespace, test_ds: Any, labels: list[str]) -> dict[str, Any]:
    """``--ensemble-only``: the saved fp16 members, as users run them, scored together on ``test_ds``."""
    from core.models.loading import load_model

    import torch
    from torch.utils.data import DataLoader

    test_probs, paths, weights = {}, {}, {}
    for key in args.members:
        folder = args.weights_dir / MEMBERS[key].model_id
        meta = load_metadata(folder)
        if list(meta.labels) != labels:
            raise ValueError(f"{folder.name} was trained on labels {list(meta.labels)}, not {labels}")
        model = load_model(meta, device="cpu")
        torch.set_num_threads(args.threads)  # load_model applies the app's thread setting
        logits = np.concatenate([model.logits(x.numpy()) for x, _, _ in DataLoader(test_ds, batch_size=64)])
        test_probs[meta.id] = probabilities(logits, "sigmoid")
        paths[meta.id], weights[meta.id] = folder / "metadata.json", float(meta.ensemble_weight or 1.0)
    note = (f"saved fp16 members {sorted(test_probs)} (each trained alone with its own recorded command) scored "
            f"together on the same test split with `{format_command(TASK, args)}`, averaged with their ensemble_weight")
    return {"ensemble": _write_ensemble(test_probs, weights, paths, test_ds, labels, note=note)}
