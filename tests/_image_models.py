"""Tiny model folders for the image-model tests (written into tmp dirs; never committed weights).

Each family is represented by a small member so tests stay fast: MONAI DenseNet121 with few
features, timm ``mobilenetv2_035``, a 1-block MONAI ResNet, timm ``test_efficientnet``, and an
untrained ``YOLO("yolo11n.yaml")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from core.models.builders import build_network
from core.models.saving import finish_folder, save_torch_model

TINY_DENSENET = {"framework": "monai", "architecture": "DenseNet121",
                 "architecture_kwargs": {"init_features": 8, "growth_rate": 4, "block_config": [1, 1, 1, 1]}}
TINY_MOBILENET = {"framework": "timm", "architecture": "mobilenetv2_035", "architecture_kwargs": {}}
TINY_RESNET = {"framework": "monai", "architecture": "ResNet",
               "architecture_kwargs": {"block": "basic", "layers": [1, 1, 1, 1], "block_inplanes": [8, 8, 16, 16]}}
TINY_EFFICIENTNET = {"framework": "timm", "architecture": "test_efficientnet", "architecture_kwargs": {}}

BRAIN_LABELS = ["glioma", "meningioma", "pituitary", "notumor"]
CHEST_LABELS = ["Cardiomegaly", "Effusion", "Nodule"]
SPINE_LABELS = ["normal", "abnormal"]
SPINE_DET_LABELS = ["Osteophytes", "Surgical implant", "Spondylolysthesis", "Foraminal stenosis",
                    "Disc space narrowing", "Vertebral collapse", "Other lesions"]


def meta(model_id: str, task: str, family: dict[str, Any], labels: list[str], side: int = 64, channels: int = 1,
         **more: Any) -> dict[str, Any]:
    return {"id": model_id, "task": task, "version": "0.0-test", **family, "labels": labels,
            "input": {"modality": ["MR"], "channels": channels, "spatial_shape": [side, side], "value_range": [0, 1],
                      "normalization": "robust min-max"},
            "demo": True, "training_data": "untrained test network", "seed": 0, "licence": "AGPL-3.0-or-later", **more}


def make_torch(folder: Path, m: dict[str, Any], fmt: str = "safetensors", seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = build_network(m).eval()
    save_torch_model(net, m, folder / m["id"], fmt=fmt)  # type: ignore[arg-type]
    return net


def make_yolo(folder: Path, model_id: str = "spine-det", task: str = "spine-detector", conf: float = 1e-4) -> Path:
    from ultralytics import YOLO

    target = folder / model_id
    target.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    yolo = YOLO("yolo11n.yaml")  # builds offline; 80 classes
    path = target / "model.pt"
    yolo.save(str(path))
    labels = SPINE_DET_LABELS + [f"unused-{i}" for i in range(80 - len(SPINE_DET_LABELS))]
    finish_folder({"id": model_id, "task": task, "version": "0.0-test", "framework": "ultralytics",
                   "architecture": "yolo11n", "labels": labels, "demo": True,
                   "input": {"channels": 3, "spatial_shape": [160, 160]}, "thresholds": {"conf": conf, "iou": 0.5}},
                  path)
    return path


def brain_folder(root: Path) -> Path:
    make_torch(root, meta("bt-densenet", "brain-tumor", TINY_DENSENET, BRAIN_LABELS))
    return root


def chest_folder(root: Path) -> Path:
    make_torch(root, meta("cx-densenet", "chest-xray", TINY_DENSENET, CHEST_LABELS, ensemble_weight=0.6))
    make_torch(root, meta("cx-mobilenet", "chest-xray", TINY_MOBILENET, CHEST_LABELS, channels=3, ensemble_weight=0.4))
    return root


def spine_folder(root: Path, decision: float | None = None, detector: bool = True) -> Path:
    extra = {} if decision is None else {"thresholds": {"decision": decision}}
    make_torch(root, meta("sp-densenet", "spine-xray", TINY_DENSENET, SPINE_LABELS, **extra))
    make_torch(root, meta("sp-resnet", "spine-xray", TINY_RESNET, SPINE_LABELS))
    make_torch(root, meta("sp-efficientnet", "spine-xray", TINY_EFFICIENTNET, SPINE_LABELS, channels=3))
    if detector:
        make_yolo(root)
    return root


def rule_gates(scan, task_name: str):
    """The task's input gates without the learned gate model, so task tests do not depend on its quality."""
    from core.gates import run_gates

    return run_gates(scan, task_name, use_learned=False)
