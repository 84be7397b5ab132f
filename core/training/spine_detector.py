"""YOLO11 lesion detector for spine radiographs (the 7 VinDr-SpineXR detection classes).

Builds ``YOLO("yolo11n.yaml")`` from scratch (no download; ultralytics offline via
:mod:`core.offline`), writes a YOLO dataset (``images/``, ``labels/`` txt, ``data.yaml``) to a
temporary folder, trains on CPU (or CUDA with ultralytics' own AMP), measures mAP50 and
mAP50-95 on a held-out split and copies ``best.pt`` to ``weights/<model-id>/model.pt`` with
its ``metadata.json``.

Phantoms (default): lateral lumbar spine radiographs with lesion boxes from
:mod:`core.synth.spine`; train/val/test from disjoint seed ranges.

Real data (``--data ROOT``): VinDr-SpineXR as published on PhysioNet::

    ROOT/annotations/train.csv   image_id, ..., lesion_type, xmin, ymin, xmax, ymax
    ROOT/annotations/test.csv
    ROOT/train_images/**/<image_id>.dicom
    ROOT/test_images/**/<image_id>.dicom

DICOMs are read through core.io (MONOCHROME1 inverted), rescaled like at inference
(:func:`core.models.inputs.image_to_rgb_uint8`) and downscaled to ``--convert-max-side``;
``--val-fraction`` of train is held out for validation, test.csv is the reported test set.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from core.training.common import (
    DEMO_NOTICE, LICENCE, RUNS_DIR, WEIGHTS_DIR, describe_split, format_command, round_floats, seed_everything,
    write_metrics_file,
)

TASK = "spine-detector"
# The 7 classes of the official VinDr-SpineXR detector config (FACTS.md section 6), dataset spelling.
DETECTION_CLASSES: tuple[str, ...] = (
    "Osteophytes", "Surgical implant", "Spondylolysthesis", "Foraminal stenosis",
    "Disc space narrowing", "Vertebral collapse", "Other lesions",
)
MODEL_ID = "spine-yolo11n"

# One training example: an RGB uint8 image (rows, cols, 3) and YOLO label lines.
Example = tuple[np.ndarray, list[str]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m core.train spine-detector``."""
    g = parser.add_argument_group("training")
    g.add_argument("--data", type=Path, default=None, help="VinDr-SpineXR root (see module help); default phantoms")
    g.add_argument("--model-id", default=MODEL_ID)
    g.add_argument("--weights-dir", type=Path, default=WEIGHTS_DIR)
    g.add_argument("--run-dir", type=Path, default=None, help="ultralytics run folder (default runs/<model-id>/)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--epochs", type=int, default=30)
    g.add_argument("--batch-size", type=int, default=16)
    # 384 on 384x192 phantoms (~0.7 mm/px): the smallest boxes (osteophyte spurs) are >= ~8 px
    # at the detector input; at the earlier 256 on 256x128 phantoms they were 4-10 px and three
    # classes scored AP50 0.
    g.add_argument("--imgsz", type=int, default=384, help="YOLO input side (longest side after letterboxing)")
    g.add_argument("--rect", action="store_true",
                   help="rectangular training batches (letterbox to the images' aspect ratio, no square padding): "
                        "about half the compute on 2:1 radiographs; ultralytics then does not shuffle batches")
    g.add_argument("--patience", type=int, default=10, help="ultralytics early stopping (epochs)")
    g.add_argument("--max-minutes", type=float, default=None,
                   help="ultralytics 'time' budget: epochs are re-planned after the first to fit it (overrides --epochs)")
    g.add_argument("--mosaic", type=float, default=0.0,
                   help="mosaic probability; 0 keeps small lesions at native scale at a small imgsz")
    g.add_argument("--scale", type=float, default=0.2, help="random scale augmentation (+/- fraction)")
    g.add_argument("--lr", type=float, default=0.002, help="AdamW initial learning rate (lr0)")
    g.add_argument("--n-train", type=int, default=2000, help="phantoms (shared cache with the spine classifiers)")
    g.add_argument("--n-val", type=int, default=200)
    g.add_argument("--n-test", type=int, default=400)
    g.add_argument("--rows", type=int, default=384, help="phantom rows (same cache as the spine classifiers)")
    g.add_argument("--cols", type=int, default=192, help="phantom columns")
    g.add_argument("--abnormal-fraction", type=float, default=0.5, help="phantoms: share with lesions")
    g.add_argument("--device", default="auto", help="auto | cpu | 0 (CUDA index)")
    g.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: see the classifier trainers' help)")
    g.add_argument("--val-fraction", type=float, default=0.1, help="real data: share of train.csv held out")
    g.add_argument("--convert-max-side", type=int, default=1024, help="real data: longest side of converted PNGs")
    g.add_argument("--keep-dataset", type=Path, default=None, help="write the YOLO dataset here and keep it")


# --- YOLO dataset --------------------------------------------------------------------------
def write_yolo_dataset(out_dir: Path, splits: dict[str, Iterable[Example]], classes: Sequence[str]) -> Path:
    """Write ``out_dir/images/<split>/*.png``, ``out_dir/labels/<split>/*.txt`` and ``data.yaml``.

    Args:
        out_dir: target folder (created).
        splits: split name ("train", "val", "test") -> examples (RGB uint8 image, YOLO label lines).
        classes: class names in index order.

    Returns:
        Path of ``data.yaml``.
    """
    from PIL import Image

    out_dir = Path(out_dir)
    counts: dict[str, int] = {}
    for split, examples in splits.items():
        img_dir, lab_dir = out_dir / "images" / split, out_dir / "labels" / split
        img_dir.mkdir(parents=True, exist_ok=True)
        lab_dir.mkdir(parents=True, exist_ok=True)
        n = 0
        for i, (rgb, lines) in enumerate(examples):
            Image.fromarray(rgb).save(img_dir / f"{split}_{i:06d}.png")
            (lab_dir / f"{split}_{i:06d}.txt").write_text("".join(line + "\n" for line in lines))
            n += 1
        counts[split] = n
    yaml_lines = [f"path: {out_dir.resolve()}"]
    yaml_lines += [f"{s}: images/{s}" for s in splits]
    yaml_lines.append("names:")
    yaml_lines += [f"  {i}: {json.dumps(name)}" for i, name in enumerate(classes)]
    data_yaml = out_dir / "data.yaml"
    data_yaml.write_text("\n".join(yaml_lines) + "\n")
    return data_yaml


def boxes_to_lines(boxes: Sequence[tuple[str, float, float, float, float]], classes: Sequence[str],
                   width_px: int, height_px: int) -> list[str]:
    """Pixel boxes ``(class name, x0, y0, x1, y1)`` -> YOLO lines (unknown classes dropped)."""
    from core.training.readers import LesionBox, yolo_label_lines

    return yolo_label_lines([LesionBox(c, x0, y0, x1, y1) for c, x0, y0, x1, y1 in boxes], classes, width_px, height_px)


def phantom_examples(split: str, n: int, seed: int, rows: int, cols: int, abnormal_fraction: float
                     ) -> list[Example]:
    """YOLO examples from the cached spine phantoms the classifiers use (same seeds, same images).

    The cached grey levels are :func:`core.models.inputs.image_to_input` x 255, i.e. the grey of
    :func:`core.models.inputs.image_to_rgb_uint8`, which the detector sees at inference.
    """
    from core.synth.spine import SPINE_LESIONS
    from core.training.spine_xray import spine_phantoms

    images, _, boxes = spine_phantoms(split, n, seed, rows, cols, abnormal_fraction)
    examples: list[Example] = []
    for i in range(len(images)):
        mine = boxes[boxes[:, 0] == i]
        pixel_boxes = [(SPINE_LESIONS[int(c)], x0, y0, x1, y1) for _, c, x0, y0, x1, y1 in mine.tolist()]
        rgb = np.repeat(images[i, 0][..., None], 3, axis=2)
        examples.append((rgb, boxes_to_lines(pixel_boxes, DETECTION_CLASSES, cols, rows)))
    return examples


def _vindr_examples(records: Sequence[tuple[Path, list]], max_side: int) -> Iterable[Example]:
    from PIL import Image

    from core.models.inputs import image_to_rgb_uint8
    from core.training.readers import load_image, yolo_label_lines

    for path, boxes in records:
        rgb = image_to_rgb_uint8(load_image(path))
        rows, cols = rgb.shape[:2]
        lines = yolo_label_lines(boxes, DETECTION_CLASSES, cols, rows)  # normalised: unaffected by resizing
        scale = max_side / max(rows, cols)
        if scale < 1:
            rgb = np.asarray(Image.fromarray(rgb).resize((round(cols * scale), round(rows * scale)), Image.BILINEAR))
        yield rgb, lines


def _vindr_splits(args: argparse.Namespace) -> tuple[dict[str, Iterable[Example]], str, str]:
    from core.training.classifier import split_indices
    from core.training.readers import index_dicoms, read_vindr_annotations

    root = args.data

    def records(name: str) -> list[tuple[Path, list]]:
        ann = read_vindr_annotations(root / "annotations" / f"{name}.csv")
        files = index_dicoms(root / f"{name}_images")
        return [(files[i], boxes) for i, boxes in sorted(ann.items()) if i in files]

    train_all, test = records("train"), records("test")
    tr, va = split_indices(len(train_all), args.val_fraction, args.seed)
    splits = {"train": _vindr_examples([train_all[i] for i in tr], args.convert_max_side),
              "val": _vindr_examples([train_all[i] for i in va], args.convert_max_side),
              "test": _vindr_examples(test, args.convert_max_side)}
    text = (f"VinDr-SpineXR layout at {root.name}: {len(tr)} training / {len(va)} validation images from "
            f"train.csv, {len(test)} test images from test.csv; {len(DETECTION_CLASSES)} detection classes.")
    return splits, text, f"{root.name} test.csv"


# --- training ------------------------------------------------------------------------------
def _device(name: str) -> str:
    import torch

    if name == "auto":
        return "0" if torch.cuda.is_available() else "cpu"
    return name


def _per_class(metrics: Any, names: Sequence[str]) -> dict[str, dict[str, float]]:
    box = metrics.box
    out = {}
    for k, cls in enumerate(getattr(box, "ap_class_index", [])):
        out[names[int(cls)]] = {"ap50": float(box.ap50[k]), "ap50_95": float(box.ap[k])}
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train the YOLO11 detector and write ``weights/<model-id>/`` (model.pt + metadata.json)."""
    import torch
    from ultralytics import YOLO

    from core.models.loading import sha256_file
    from core.models.metadata import write_metadata

    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    run_dir = (args.run_dir or RUNS_DIR) / args.model_id
    t0 = time.monotonic()
    tmp = None
    if args.keep_dataset is not None:
        ds_dir = Path(args.keep_dataset)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="radlens-yolo-")
        ds_dir = Path(tmp.name)
    try:
        if args.data is None:
            splits = {s: phantom_examples(s, n, args.seed, args.rows, args.cols, args.abnormal_fraction)
                      for s, n in (("train", args.n_train), ("val", args.n_val), ("test", args.n_test))}
            sp = describe_split(args.n_train, args.n_val, args.n_test, args.seed, per_phantom=False)
            training_data = (f"Synthetic lateral lumbar spine radiograph phantoms (core.synth.spine) with lesion boxes "
                             f"for the 7 VinDr-SpineXR detection classes. Train: {sp['train']}; validation: "
                             f"{sp['val']}; test: {sp['test']}. No real patient data.")
            heldout = "phantom test split (core.synth.spine, seeds disjoint from training)"
            demo = True
        else:
            splits, training_data, heldout = _vindr_splits(args)
            demo = False
        data_yaml = write_yolo_dataset(ds_dir, splits, DETECTION_CLASSES)
        data_seconds = round(time.monotonic() - t0, 1)
        print(f"[{args.model_id}] YOLO dataset written to {ds_dir} in {data_seconds} s", flush=True)

        device = _device(args.device)
        model = YOLO("yolo11n.yaml")  # architecture only; nc comes from data.yaml
        t1 = time.monotonic()
        model.train(
            data=str(data_yaml), epochs=args.epochs, imgsz=args.imgsz, batch=args.batch_size, device=device,
            workers=0, seed=args.seed, deterministic=True, pretrained=False, optimizer="AdamW", lr0=args.lr,
            cos_lr=True, warmup_epochs=1, patience=args.patience, project=str(run_dir.parent), name=run_dir.name,
            exist_ok=True, plots=False, verbose=False, fliplr=0.0, mosaic=args.mosaic, scale=args.scale,
            close_mosaic=0, amp=device != "cpu", rect=bool(args.rect),
            **({"time": args.max_minutes / 60.0} if args.max_minutes else {}),
        )
        train_seconds = round(time.monotonic() - t1, 1)
        best = Path(model.trainer.best)
        trained = YOLO(str(best))
        val = trained.val(data=str(data_yaml), split="test", imgsz=args.imgsz, batch=args.batch_size, device=device,
                          plots=False, verbose=False, workers=0, project=str(run_dir.parent), name=run_dir.name + "-test",
                          exist_ok=True)
    finally:
        if tmp is not None:
            tmp.cleanup()

    metrics = round_floats({
        "heldout_set": heldout, "n_test_images": args.n_test if args.data is None else None,
        "map50": float(val.box.map50), "map50_95": float(val.box.map),
        "precision": float(val.box.mp), "recall": float(val.box.mr),
        "per_class": _per_class(val, DETECTION_CLASSES),
        "epochs_run": int(getattr(model.trainer, "epoch", args.epochs - 1)) + 1,
        "train_seconds": train_seconds, "data_seconds": data_seconds, "device": device,
    })
    folder = args.weights_dir / args.model_id
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "model.pt"
    shutil.copyfile(best, target)
    meta = {
        "id": args.model_id, "task": TASK, "version": "0.1.0", "framework": "ultralytics",
        "architecture": "yolo11n", "architecture_kwargs": {"nc": len(DETECTION_CLASSES)},
        "architecture_family": "YOLO11 nano (ultralytics yolo11n.yaml), trained from scratch",
        "role": "detector", "file": target.name, "sha256": sha256_file(target), "labels": list(DETECTION_CLASSES),
        "input": {"modality": ["CR", "DX"], "channels": 3, "spatial_shape": [args.imgsz, args.imgsz],
                  "value_range": [0, 255],
                  "normalization": "core.models.inputs.image_to_rgb_uint8 (percentile rescale x 255, grey repeated "
                                   "to RGB); ultralytics letterboxes to imgsz"},
        "thresholds": {"conf": 0.25, "iou": 0.45}, "ensemble_weight": None, "ood": None,
        "training_data": training_data, "demo": demo, "seed": int(args.seed),
        "command": format_command("spine-detector", args), "metrics": metrics, "licence": LICENCE,
    }
    if demo:
        meta["demo_notice"] = DEMO_NOTICE
    write_metadata(meta, folder)
    write_metrics_file(run_dir / "metrics.json", {"test": metrics})
    print(f"[{args.model_id}] held-out ({heldout}): mAP50 {metrics['map50']} mAP50-95 {metrics['map50_95']} "
          f"per class {metrics['per_class']}", flush=True)
    return {"model": args.model_id, "metadata": str(folder / "metadata.json"), **metrics}
