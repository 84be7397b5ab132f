"""Brain tumour MRI slice classifier (glioma / meningioma / notumor / pituitary).

Phantoms (default): 2D T1 post-contrast slices from :func:`core.synth.brain_slice.brain_slice_dataset`;
train, validation and test come from disjoint seeds and disjoint head pools.

Real data (``--data ROOT``): the Kaggle Brain Tumor MRI layout (Nickparvar; FACTS.md section 8)::

    ROOT/Training/{glioma,meningioma,notumor,pituitary}/*.jpg
    ROOT/Testing/{glioma,meningioma,notumor,pituitary}/*.jpg

``--val-fraction`` of Training is held out for early stopping; Testing is the reported test set.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from core.models.metadata import InputSpec
from core.training.classifier import (
    NORMALIZATION_TEXT, FileDataset, MemberSpec, images_to_uint8, resize_uint8, split_indices, train_member,
)
from core.training.common import (
    ArrayDataset, add_common_arguments, cached_arrays, describe_split, format_command, seed_everything, split_seeds,
)
from core.training.readers import find_split_dir, read_class_folders

TASK = "brain-tumor"
LABELS: tuple[str, ...] = ("glioma", "meningioma", "notumor", "pituitary")  # Kaggle folder order
MEMBER = MemberSpec(
    model_id="brain-tumor-resnet18",
    architecture="resnet18",
    architecture_kwargs={"channels": [32, 64, 128, 256]},
    family="ResNet-18 architecture family, half width (stage channels 32/64/128/256 instead of 64..512)",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m core.train brain-tumor``."""
    add_common_arguments(parser, model_id=MEMBER.model_id, epochs=8, batch_size=16, lr=2e-3,
                         n_train=2400, n_val=400, n_test=600)
    parser.add_argument("--image-size", type=int, default=96, help="square model input side in pixels")
    parser.add_argument("--phantom-size", type=int, default=128, help="side of the generated phantom slices")
    parser.add_argument("--n-subjects", type=int, default=24, help="phantom heads per split (anatomy pool)")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="real data: Training share held out")


def _phantom_split(split: str, n: int, args: argparse.Namespace, spec: InputSpec) -> ArrayDataset:
    import core.synth.brain_slice as synth
    import core.synth.head as head

    if tuple(synth.BRAIN_TUMOR_LABELS) != LABELS:
        raise RuntimeError(f"phantom label order {synth.BRAIN_TUMOR_LABELS} differs from the model's {LABELS}")
    seed = split_seeds(split, n, args.seed).start

    size = args.phantom_size
    gen_spec = replace(spec, spatial_shape=(size, size))

    def make() -> tuple[np.ndarray, np.ndarray]:
        images, ys = synth.brain_slice_dataset(n, seed, size, n_subjects=args.n_subjects)
        return images_to_uint8(images, gen_spec), ys

    key = {"n": n, "seed": seed, "size": size, "n_subjects": args.n_subjects, "spec": gen_spec.to_dict()}
    x, y = cached_arrays(f"brain-{split}", key, make, [Path(synth.__file__), Path(head.__file__), Path(head.__file__).with_name("_fields.py")])
    return ArrayDataset(resize_uint8(x, spec), y)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train the brain tumour classifier and write ``weights/<model-id>/``."""
    import torch

    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    spec = InputSpec(modality=("MR",), channels=1, spatial_shape=(args.image_size, args.image_size),
                     value_range=(0.0, 1.0), normalization=NORMALIZATION_TEXT)
    t0 = time.monotonic()
    if args.data is None:
        train_ds = _phantom_split("train", args.n_train, args, spec)
        val_ds = _phantom_split("val", args.n_val, args, spec)
        test_ds = _phantom_split("test", args.n_test, args, spec)
        split = describe_split(args.n_train, args.n_val, args.n_test, args.seed, per_phantom=False)
        training_data = (
            f"Synthetic T1 post-contrast brain MRI slice phantoms (core.synth.brain_slice, generated at "
            f"{args.phantom_size} px, resized to {args.image_size} px by the inference preprocessing, "
            f"balanced glioma/meningioma/notumor/pituitary; axial/coronal/sagittal). Train: {split['train']}; "
            f"validation: {split['val']}; test: {split['test']}; each split from its own pool of "
            f"{args.n_subjects} random heads. No real patient data.")
        heldout = "phantom test split (core.synth.brain_slice, seeds disjoint from training)"
        demo = True
    else:
        train_dir = find_split_dir(args.data, ["training", "train"])
        test_dir = find_split_dir(args.data, ["testing", "test"])
        if train_dir is None or test_dir is None:
            raise SystemExit(f"{args.data}: expected Training/ and Testing/ class folders (Kaggle layout)")
        records = read_class_folders(train_dir, LABELS)
        test_records = read_class_folders(test_dir, LABELS)
        tr, va = split_indices(len(records), args.val_fraction, args.seed)
        paths = [p for p, _ in records]
        ys = np.array([y for _, y in records], np.int64)
        train_ds = FileDataset([paths[i] for i in tr], ys[tr], spec)
        val_ds = FileDataset([paths[i] for i in va], ys[va], spec)
        test_ds = FileDataset([p for p, _ in test_records], np.array([y for _, y in test_records], np.int64), spec)
        training_data = (f"Kaggle Brain Tumor MRI layout at {args.data.name}: {len(tr)} training / {len(va)} "
                         f"validation images from Training/, {len(test_ds)} test images from Testing/.")
        heldout = f"{args.data.name}/Testing"
        demo = False
    data_seconds = round(time.monotonic() - t0, 1)
    print(f"[{MEMBER.model_id}] data ready in {data_seconds} s", flush=True)
    member = MemberSpec(args.model_id, MEMBER.architecture, MEMBER.architecture_kwargs, MEMBER.family)
    metrics, _, path = train_member(
        args, task=TASK, member=member, labels=LABELS, activation="softmax", spec=spec,
        train_ds=train_ds, val_ds=val_ds, test_ds=test_ds, training_data=training_data, heldout_set=heldout,
        command=format_command(TASK, args), demo=demo,
        extra_meta={"timing": {"data_generation_seconds": data_seconds}})
    return {"model": args.model_id, "metadata": str(path), "data_seconds": data_seconds, **metrics}
