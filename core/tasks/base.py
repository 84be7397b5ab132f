"""Template of an image-classification task: gate -> preprocess -> forward -> postprocess -> Result.

transformers-pipeline style: :class:`ClassifierTask.__call__` is the template method; subclasses
change :meth:`ClassifierTask.decide` (how ensemble probabilities become a prediction) and
:meth:`ClassifierTask.extra_steps` (e.g. the spine detector). Tasks keep no per-request state: they
are cached and shared across Streamlit sessions and threads.

An ensemble is every available model folder whose metadata ``task`` is this task's name and whose
``role`` is ``classifier``. Each model's probabilities are aligned by label name to the task's label
list; the ensemble is the weighted mean (``ensemble_weight`` in metadata, equal when absent) over
the models that have the label. Every torch member gives Grad-CAM maps of its top classes (one
forward pass with gradients); ``Result.cam`` shows the primary model's (largest weight) map of the
predicted class on the scan grid, ``extras["cams_by_model"]`` holds all maps on the network grid.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from core.config import Settings, get_settings
from core.explain import cam_to_scan_grid, grad_cam
from core.models.inputs import image_to_input
from core.models.loading import LoadedModel, ModelInfo, ModelUnavailable, list_models, load_model
from core.types import Check, QCReport, RejectedInput, Result, Scan, Severity

log = logging.getLogger(__name__)

UNABLE = "Unable to determine"


# --- gates -----------------------------------------------------------------------------------
def run_task_gates(scan: Scan, task_name: str) -> QCReport:
    """The input gates of ``task_name`` (:func:`core.gates.run_gates`): content, modality/body part, quality."""
    from core.gates import run_gates

    return run_gates(scan, task_name)


def ood_check(model: LoadedModel, logits: np.ndarray) -> Check | None:
    """Energy-score out-of-distribution check for models whose metadata has an ``ood`` entry.

    The score is :func:`core.gates.ood.energy_score` (Liu et al., NeurIPS 2020; higher = more
    unusual); ``ood.threshold`` in metadata was calibrated on held-out in-distribution images.
    """
    spec = model.meta.ood
    if not spec:
        return None
    from core.gates.ood import energy_score

    temperature = float(spec.get("temperature", 1.0))
    energy = float(energy_score(np.asarray(logits, dtype=np.float64), temperature))
    threshold = float(spec["threshold"])
    if energy > threshold:
        return Check(f"ood_{model.id}", False, Severity.ERROR,
                     f"The image is unlike the images model {model.id} was trained on (energy score {energy:.2f} "
                     f"above {threshold:.2f}); its answer would not be reliable.", round(energy, 3))
    return Check(f"ood_{model.id}", True, Severity.INFO, f"Image within the training distribution of {model.id}.",
                 round(energy, 3))


# --- ensemble members ------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelOutput:
    """One model's answer on one image (plain data)."""

    model_id: str
    labels: tuple[str, ...]
    probabilities: tuple[float, ...]
    logits: tuple[float, ...]
    seconds: float
    cams: Mapping[str, np.ndarray] = field(default_factory=dict)  # label -> (H, W) on the network grid
    cam_layer: str = ""


def activate(logits: np.ndarray, activation: str) -> np.ndarray:
    """softmax over classes or element-wise sigmoid, float64 for stable display."""
    z = np.asarray(logits, dtype=np.float64)
    if activation == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    e = np.exp(z - z.max())
    return e / e.sum()


def ensemble(outputs: Sequence[ModelOutput], weights: Mapping[str, float],
             labels: Sequence[str]) -> tuple[tuple[float, ...], dict[str, tuple[float, ...]]]:
    """Weighted mean per label over the models that predict it.

    Returns:
        (ensemble probabilities aligned with ``labels``, model id -> probabilities aligned with
        ``labels``, NaN where the model lacks the label).
    """
    per_model: dict[str, tuple[float, ...]] = {}
    total = np.zeros(len(labels))
    wsum = np.zeros(len(labels))
    for out in outputs:
        lookup = dict(zip(out.labels, out.probabilities))
        row = tuple(float(lookup[l]) if l in lookup else float("nan") for l in labels)
        per_model[out.model_id] = row
        w = float(weights.get(out.model_id, 1.0))
        for i, p in enumerate(row):
            if not math.isnan(p):
                total[i] += w * p
                wsum[i] += w
    probs = tuple(float(t / s) if s > 0 else float("nan") for t, s in zip(total, wsum))
    return probs, per_model


@dataclass(frozen=True)
class Decision:
    """What postprocess concluded: prediction (None when unable), its confidence, and extras."""

    prediction: str | None
    confidence: float
    reasons: tuple[str, ...] = ()
    cam_label: str | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)


class ClassifierTask:
    """An ensemble image classifier with gates, Grad-CAM, timings and model versions.

    Args:
        name: task name (``"brain-tumor"``...).
        default_labels: label list used when no model is available (for display).
        weights_dir: where model folders are found (default ``settings.weights_dir``).
        settings: thresholds and device (default :func:`get_settings`).
        gate: ``gate(scan, task_name) -> QCReport``; default :func:`run_task_gates` (tests pass a
            variant without the learned gate so they test this task, not the gate model).
    """

    activation_default = "softmax"

    def __init__(self, name: str, default_labels: Sequence[str], weights_dir: Any = None,
                 settings: Settings | None = None, gate: Callable[[Scan, str], QCReport] | None = None) -> None:
        self.name = name
        self.gate = gate or run_task_gates
        self.settings = settings or get_settings()
        self.weights_dir = weights_dir if weights_dir is not None else self.settings.weights_dir
        self.model_infos: list[ModelInfo] = list_models(self.weights_dir, task=name, role="classifier")
        self.members: list[LoadedModel] = []
        self.load_errors: dict[str, str] = {i.id: i.reason for i in self.model_infos if not i.available}
        for info in self.model_infos:
            if not info.available:
                continue
            try:
                self.members.append(load_model(info, device=self.settings.resolved_device()))
            except ModelUnavailable as err:
                self.load_errors[info.id] = str(err)
        labels: list[str] = []
        for m in sorted(self.members, key=lambda m: -self.weight_of(m)):
            labels += [l for l in (m.meta.labels or getattr(m.module, "targets", [])) if l and l not in labels]
        self.labels: tuple[str, ...] = tuple(labels) if labels else tuple(default_labels)

    # --- configuration ------------------------------------------------------------------
    def weight_of(self, model: LoadedModel) -> float:
        """Ensemble weight of a member (metadata ``ensemble_weight``; 1 when absent)."""
        w = model.meta.ensemble_weight
        return 1.0 if w is None else float(w)

    @property
    def weights(self) -> dict[str, float]:
        """Normalised ensemble weights, model id -> weight (sum 1)."""
        raw = {m.id: self.weight_of(m) for m in self.members}
        s = sum(raw.values()) or 1.0
        return {k: v / s for k, v in raw.items()}

    @property
    def primary(self) -> LoadedModel | None:
        """The member Grad-CAM explains: the largest-weight torch model (ties: id order)."""
        torch_members = [m for m in self.members if m.supports_cam]
        if not torch_members:
            return None
        return sorted(torch_members, key=lambda m: (-self.weight_of(m), m.id))[0]

    @property
    def threshold(self) -> float:
        return self.settings.threshold_for(self.name)

    def model_table(self) -> list[dict[str, Any]]:
        """Rows for the model table: every model folder of this task, loaded or why not."""
        weights = self.weights
        rows = []
        for info in self.model_infos:
            loaded = info.id in weights
            rows.append({"model": info.id, "version": info.version, "framework": info.framework,
                         "architecture": info.metadata.architecture if info.metadata else "",
                         "ensemble weight": round(weights[info.id], 3) if loaded else None,
                         "status": "loaded" if loaded else f"unavailable: {self.load_errors.get(info.id, info.reason)}",
                         "phantom-trained demo": info.demo})
        return rows

    def notices(self) -> list[str]:
        """Distinct demo notices of the loaded models (shown with every result)."""
        seen: list[str] = []
        for m in self.members:
            if m.meta.notice and m.meta.notice not in seen:
                seen.append(m.meta.notice)
        return seen

    # --- pipeline -------------------------------------------------------------------------
    def preprocess(self, scan: Scan) -> np.ndarray:
        """The displayed 2D grey image (rows, cols) the models read."""
        from core.preprocess import to_display_2d

        return to_display_2d(scan)

    def forward(self, image: np.ndarray) -> list[ModelOutput]:
        """Every member's probabilities; torch members also return Grad-CAM maps of their top classes."""
        outputs = []
        for m in self.members:
            t0 = time.perf_counter()
            x = image_to_input(image, m.meta.input)[None]
            activation = m.meta.activation
            labels = tuple(m.meta.labels or getattr(m.module, "targets", ()))
            cams: dict[str, np.ndarray] = {}
            layer = ""
            if m.module is not None:
                # one forward with grad for the top classes: logits first, then CAMs of the best k
                xt = torch.from_numpy(x).to(m.device)
                k = max(1, min(self.settings.cam_max_classes, len(labels)))
                first = grad_cam(m.module, xt, class_indices=self.cam_classes(m, xt, k), target_layer=m.meta.cam_target_layer)
                logits = first.logits
                layer = first.layer
                cams = {labels[c]: mp for c, mp in first.maps.items() if c < len(labels) and labels[c]}
            else:
                logits = m.logits(x)[0]
            probs = activate(logits, activation)
            keep = [i for i, l in enumerate(labels) if l]  # torchxrayvision leaves '' for untrained outputs
            outputs.append(ModelOutput(m.id, tuple(labels[i] for i in keep), tuple(float(probs[i]) for i in keep),
                                       tuple(float(logits[i]) for i in keep), time.perf_counter() - t0, cams, layer))
        return outputs

    def cam_classes(self, model: LoadedModel, x: torch.Tensor, k: int) -> list[int] | None:
        """Which classes get a Grad-CAM map: all when there are at most ``k``, else the top ``k`` logits."""
        n = len(model.meta.labels or getattr(model.module, "targets", ()))
        if n <= k:
            return None
        logits = model.logits(x.cpu().numpy())[0]
        return [int(i) for i in np.argsort(-logits)[:k]]

    def decide(self, labels: tuple[str, ...], probs: tuple[float, ...], outputs: list[ModelOutput]) -> Decision:
        """Single-label decision through the gates' confidence rule (:func:`core.gates.confidence.decide`):
        the top class if its probability reaches the task threshold, else "Unable to determine"."""
        from core.gates.confidence import decide

        clean = [0.0 if math.isnan(p) else float(p) for p in probs]
        d = decide(labels, clean, self.threshold)
        top = d.top_candidates[0][0]
        return Decision(d.prediction, d.confidence, d.reasons, cam_label=top,
                        extras={"top_candidates": [list(c) for c in d.top_candidates]})

    def extra_steps(self, scan: Scan, image: np.ndarray, decision: Decision,
                    timings: dict[str, float]) -> dict[str, Any]:
        """Hook for task-specific work after the decision (e.g. detection); returns Result fields."""
        return {}

    def rejected(self, scan: Scan, reasons: Sequence[str], qc: QCReport, timings: dict[str, float],
                 **fields: Any) -> Result:
        extras = dict(fields.pop("extras", {}))
        extras.setdefault("notices", self.notices())
        extras.setdefault("models", self.model_table())
        return Result(task=self.name, status="rejected", reasons=tuple(reasons), qc=qc,
                      timings_s=dict(timings), model_versions=self.model_versions(), extras=extras, **fields)

    def model_versions(self) -> dict[str, str]:
        return {m.id: m.meta.version for m in self.members}

    def __call__(self, scan: Scan) -> Result:
        """gate -> preprocess -> forward -> postprocess; never raises on bad input."""
        timings: dict[str, float] = {}
        t_all = time.perf_counter()

        t = time.perf_counter()
        qc = self.gate(scan, self.name)
        timings["gate_s"] = time.perf_counter() - t
        if not qc.accepted:
            timings["total_s"] = time.perf_counter() - t_all
            return self.rejected(scan, qc.reasons, qc, timings)
        if not self.members:
            why = "; ".join(f"{k}: {v}" for k, v in self.load_errors.items()) or f"no model folder for task {self.name!r}"
            timings["total_s"] = time.perf_counter() - t_all
            return self.rejected(scan, (f"No model is available for this task ({why}).",), qc, timings,
                                 labels=self.labels)

        t = time.perf_counter()
        try:
            image = self.preprocess(scan)
        except RejectedInput as err:
            timings["total_s"] = time.perf_counter() - t_all
            return self.rejected(scan, (str(err),), qc, timings)
        timings["preprocess_s"] = time.perf_counter() - t

        t = time.perf_counter()
        outputs = self.forward(image)
        timings["forward_s"] = time.perf_counter() - t
        for out in outputs:
            timings[f"model_{out.model_id}_s"] = out.seconds
        return self.postprocess(scan, image, outputs, qc, timings, t_all)

    def postprocess(self, scan: Scan, image: np.ndarray, outputs: list[ModelOutput], qc: QCReport,
                    timings: dict[str, float], t_all: float) -> Result:
        """Ensemble, OOD checks, decision, CAM on the scan grid, extra steps -> Result."""
        t = time.perf_counter()
        ood = [c for m, o in zip(self.members, outputs) if (c := ood_check(m, np.asarray(o.logits))) is not None]
        if ood:
            qc = qc.merged(QCReport(tuple(ood)))
        probs, per_model = ensemble(outputs, self.weights, self.labels)
        decision = self.decide(self.labels, probs, outputs)

        primary = self.primary
        cam_out = next((o for o in outputs if primary is not None and o.model_id == primary.id and o.cams), None)
        cams = dict(cam_out.cams) if cam_out is not None else {}
        cam_label = decision.cam_label if decision.cam_label in cams else next(iter(cams), None)
        cam = None
        if cam_label is not None and scan.is_2d:
            cam = cam_to_scan_grid(cams[cam_label], scan.shape[:2])
        timings["postprocess_s"] = time.perf_counter() - t

        extras: dict[str, Any] = {
            "notices": self.notices(), "models": self.model_table(), "ensemble_weights": self.weights,
            # CAMs in display orientation (rows, cols) on each network's input grid; overlay_heatmap resizes them
            "cams": cams, "cams_by_model": {o.model_id: dict(o.cams) for o in outputs if o.cams},
            "cam_layers": {o.model_id: o.cam_layer for o in outputs if o.cams},
            "cam_label": cam_label, "cam_model": cam_out.model_id if cam_out else None,
            "cam_layer": cam_out.cam_layer if cam_out else None, "threshold": self.threshold,
            "display_shape": tuple(int(s) for s in image.shape), **decision.extras,
        }
        reasons = list(decision.reasons)
        prediction = decision.prediction
        if not qc.accepted:  # an OOD refusal
            reasons = list(qc.reasons) + reasons
            prediction = None
        effective = decision if prediction is not None else Decision(None, decision.confidence, tuple(reasons),
                                                                      decision.cam_label)
        fields = dict(self.extra_steps(scan, image, effective, timings))
        extras.update(fields.pop("extras", {}))
        timings["total_s"] = time.perf_counter() - t_all
        return Result(task=self.name, status="ok" if prediction is not None else "rejected", labels=self.labels,
                      probabilities=probs, prediction=prediction, confidence=decision.confidence,
                      per_model=per_model, cam=cam, reasons=tuple(reasons), qc=qc,
                      model_versions=self.model_versions(), timings_s=dict(timings), extras=extras, **fields)


TaskFactory = Callable[[], ClassifierTask]
