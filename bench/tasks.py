"""Inference benchmark of the image-model tasks on this CPU (cold load excluded, warm averages).

Usage::

    nice -n 10 .venv/bin/python bench/tasks.py [--repeats 5] [--threads 2] [--weights DIR]

Uses the models in ``--weights`` (default ``settings.weights_dir``). A task with no model there
is benchmarked with untrained stand-ins of the families the issue names, written to a temporary
folder (timm DenseNet121 at 128x128 for the brain tumour model; DenseNet121 + MobileNetV2 for
chest; DenseNet121 + ResNet50 + EfficientNetV2-S + YOLO11n for spine). The input is a public
sample when ``settings.samples_dir`` has one, else a phantom sample case.

Prints, per task: the warm mean and max wall time of the whole ``task(scan)`` call (gates, preprocessing,
forward of every model, Grad-CAM, postprocessing, detection) and its per-step means. Targets
(issue 4): single-model prediction with Grad-CAM <= 1 s for a 2D image; the spine ensemble plus
detection <= 3 s. The process CPU time per call is printed too: on a shared machine the wall time
also counts other jobs, while CPU time bounds the idle-machine wall time (between CPU/threads and CPU).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from core.config import get_settings  # noqa: E402
from core.io import load_scan  # noqa: E402
from core.models.builders import build_network  # noqa: E402
from core.models.saving import finish_folder, save_torch_model  # noqa: E402

SAMPLES = {"brain-tumor": ("brain_tumor/sample_2.jpg", "Phantom brain slice: glioma"),
           "chest-xray": ("chest_xray/00000001_000.png", "Phantom chest PA (cardiomegaly + effusion, PNG)"),
           "spine-xray": ("spine_xray/00a4089038fb4f7b926624bd31b3ca88.dicom",
                          "Phantom lumbar spine lateral (lesions, DICOM)")}
TARGETS_S = {"brain-tumor": 1.0, "chest-xray": None, "spine-xray": 3.0}


def _meta(model_id: str, task: str, arch: str, labels: list[str], channels: int, **more) -> dict:
    return {"id": model_id, "task": task, "version": "bench", "framework": "timm", "architecture": arch,
            "labels": labels, "input": {"channels": channels, "spatial_shape": [128, 128]}, "demo": True,
            "training_data": "untrained benchmark stand-in", **more}


def stand_ins(task: str, root: Path) -> Path:
    """Untrained models of the issue's families for ``task`` in ``root`` (for timing only)."""
    torch.manual_seed(0)
    specs = {
        "brain-tumor": [_meta("bench-bt-densenet121", task, "densenet121", ["glioma", "meningioma", "pituitary", "notumor"], 1)],
        "chest-xray": [_meta("bench-cx-densenet121", task, "densenet121", ["Cardiomegaly", "Pleural Effusion", "Nodule",
                                                                          "Pneumothorax", "Consolidation"], 1, ensemble_weight=0.6),
                       _meta("bench-cx-mobilenetv2", task, "mobilenetv2_100", ["Cardiomegaly", "Pleural Effusion", "Nodule",
                                                                               "Pneumothorax", "Consolidation"], 3, ensemble_weight=0.4)],
        "spine-xray": [_meta("bench-sp-densenet121", task, "densenet121", ["normal", "abnormal"], 1, thresholds={"decision": 0.0}),
                       _meta("bench-sp-resnet50", task, "resnet50", ["normal", "abnormal"], 3),
                       _meta("bench-sp-effv2s", task, "tf_efficientnetv2_s", ["normal", "abnormal"], 3)],
    }[task]
    for m in specs:
        save_torch_model(build_network(m).eval(), m, root / m["id"])
    if task == "spine-xray":
        from ultralytics import YOLO

        (root / "bench-yolo11n").mkdir()
        path = root / "bench-yolo11n" / "model.pt"
        YOLO("yolo11n.yaml").save(str(path))
        labels = ["Osteophytes", "Surgical implant", "Spondylolysthesis", "Foraminal stenosis", "Disc space narrowing",
                  "Vertebral collapse", "Other lesions"] + [f"unused-{i}" for i in range(73)]
        finish_folder({"id": "bench-yolo11n", "task": "spine-detector", "version": "bench", "framework": "ultralytics",
                       "architecture": "yolo11n", "labels": labels, "input": {"channels": 3, "spatial_shape": [640, 640]},
                       "thresholds": {"conf": 0.25}}, path)
    return root


def sample_scan(task: str):
    rel, case = SAMPLES[task]
    path = Path(get_settings().samples_dir) / rel
    if path.is_file():
        return load_scan(path), path.name
    from core.synth.samples import get_sample_case

    data, name = get_sample_case(case).loader()
    return load_scan(data, filename=name), case


def bench(task_name: str, weights: Path, repeats: int) -> None:
    import importlib

    from core.gates import run_gates

    def rule_gates(scan, name):
        return run_gates(scan, name, use_learned=False)

    module = importlib.import_module(f"core.tasks.{task_name.replace('-', '_')}")
    origin = "installed models"
    # the model path is timed behind the rule gates only, so a refusal by the learned gate cannot skip it;
    # the full gates (with the learned gate model) are timed separately below
    task = module.build(weights_dir=weights, gate=rule_gates)
    tmp = None
    if not task.members:
        tmp = tempfile.TemporaryDirectory()
        task = module.build(weights_dir=stand_ins(task_name, Path(tmp.name)), gate=rule_gates)
        origin = "untrained stand-ins of the issue's families"
    scan, label = sample_scan(task_name)
    task(scan)  # warm-up: first forward, lazy imports, autotuning
    runs = []
    cpu = []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        r = task(scan)
        runs.append((time.perf_counter() - t, dict(r.timings_s)))
        cpu.append(time.process_time() - c)
    totals = [t for t, _ in runs]
    model_path = [t - s.get("gate_s", 0.0) for t, s in runs]
    run_gates(scan, task_name)
    gate_times = []
    for _ in range(repeats):
        t = time.perf_counter()
        run_gates(scan, task_name)
        gate_times.append(time.perf_counter() - t)
    steps = sorted({k for _, s in runs for k in s if k != "total_s"})
    target = TARGETS_S[task_name]
    verdict = "" if target is None else f"  target <= {target:.1f} s: {'PASS' if statistics.mean(model_path) <= target else 'FAIL'}"
    models = ", ".join(f"{m.id} ({m.meta.architecture} {'x'.join(map(str, m.meta.input.spatial_shape))})"
                       for m in task.members)
    det = getattr(task, "detector", None)
    print(f"{task_name}: {len(task.members)} classifier(s){' + detector ' + det.id if det else ''} [{origin}]: {models}")
    print(f"  input {label} {scan.shape[:2]}, status {r.status}, prediction {r.prediction}, boxes {len(r.boxes)}")
    print(f"  prediction + Grad-CAM{' + detection' if det else ''} (excluding gates): warm mean "
          f"{statistics.mean(model_path):.3f} s, max {max(model_path):.3f} s over {repeats} runs{verdict}")
    print(f"  whole call with rule gates {statistics.mean(totals):.3f} s; full gates incl. learned gate alone "
          f"{statistics.mean(gate_times):.3f} s")
    # CPU seconds of this process: on an idle machine the wall time lies between cpu/threads and cpu,
    # so this figure is independent of other jobs competing for the cores
    print(f"  CPU time per whole call {statistics.mean(cpu):.3f} s (idle-machine wall time between "
          f"{statistics.mean(cpu) / torch.get_num_threads():.3f} and {statistics.mean(cpu):.3f} s)")
    print("  steps (mean s): " + ", ".join(f"{k.removesuffix('_s')} {statistics.mean(s.get(k, 0.0) for _, s in runs):.3f}"
                                           for k in steps))
    if tmp is not None:
        tmp.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (this machine has 2 cores)")
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--tasks", nargs="*", default=list(SAMPLES))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    weights = args.weights or Path(get_settings().weights_dir)
    import os

    load1, load5, _ = os.getloadavg()
    print(f"torch {torch.__version__}, {args.threads} threads, device {get_settings().resolved_device()}, "
          f"{os.cpu_count()} CPUs, load average {load1:.1f} (1 min) {load5:.1f} (5 min): timings on a shared, "
          "busy machine are upper bounds")
    for name in args.tasks:
        bench(name, weights, args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
