"""Spine X-ray screening: normal/abnormal ensemble, then lesion boxes from a YOLO11 detector.

Ensemble: DenseNet121-, ResNet50- and EfficientNetV2-S-family classifiers (metadata ``task``
``spine-xray``). Each model gives P(abnormal) (label ``abnormal`` of a softmax, or a single sigmoid
output). The ensemble score is their weighted mean; weights come from each model's
``ensemble_weight``, else from the family defaults below; the decision threshold from metadata
``thresholds.decision``, else :data:`DEFAULT_DECISION_THRESHOLD`.

When the ensemble says abnormal, the detector (``role: detector``, task ``spine-xray`` or
``spine-detector``) draws boxes for the VinDr-SpineXR lesion classes with confidences, in pixel
coordinates of the displayed image.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from core.models.inputs import image_to_rgb_uint8
from core.models.loading import LoadedModel, ModelUnavailable, list_models, load_model
from core.tasks.base import UNABLE, ClassifierTask, Decision, ModelOutput
from core.types import Scan

LABELS: tuple[str, ...] = ("normal", "abnormal")
# FACTS.md section 6: the 7 classes VinDr-SpineXR's official detector config detects (dataset spelling).
VINDR_DETECTION_CLASSES: tuple[str, ...] = (
    "Osteophytes", "Surgical implant", "Spondylolysthesis", "Foraminal stenosis", "Disc space narrowing",
    "Vertebral collapse", "Other lesions",
)
# Issue 4 defaults (from the pronad1/Spinal_Lesion seed system; FACTS.md section 6 records them as
# unreviewed secondary claims). Used only when a model's metadata does not set its own.
DEFAULT_FAMILY_WEIGHTS: dict[str, float] = {"densenet": 0.42, "resnet": 0.26, "efficientnet": 0.32}
DEFAULT_DECISION_THRESHOLD = 0.449
THRESHOLD_NOTE = ("Decision threshold 0.449 is the seed system's value; FACTS.md marks it UNVERIFIED "
                  "(no published source). Set thresholds.decision in a model's metadata to override it.")


def family_of(architecture: str) -> str | None:
    a = architecture.lower()
    return next((f for f in DEFAULT_FAMILY_WEIGHTS if f in a), None)


def abnormal_probability(out: ModelOutput) -> float:
    """P(abnormal) from a model's own labels: 'abnormal', else 1 - 'normal'."""
    lookup = dict(zip(out.labels, out.probabilities))
    if "abnormal" in lookup:
        return float(lookup["abnormal"])
    if "normal" in lookup:
        return 1.0 - float(lookup["normal"])
    raise ValueError(f"spine model {out.model_id} has neither an 'abnormal' nor a 'normal' label: {out.labels}")


def decision_confidence(score: float, threshold: float) -> float:
    """Distance of the score from the threshold, rescaled to 0.5 (at the threshold) .. 1 (at 0 or 1)."""
    span = threshold if score < threshold else 1.0 - threshold
    return 0.5 + 0.5 * abs(score - threshold) / max(span, 1e-9)


class SpineXrayTask(ClassifierTask):
    """Normal/abnormal spine radiograph ensemble plus lesion detection."""

    def __init__(self, name: str, default_labels, weights_dir=None, settings=None, gate=None) -> None:
        super().__init__(name, default_labels, weights_dir=weights_dir, settings=settings, gate=gate)
        self.labels = LABELS
        self.detector: LoadedModel | None = None
        self.detector_infos = [i for t in ("spine-xray", "spine-detector")
                               for i in list_models(self.weights_dir, task=t, role="detector")]
        for info in self.detector_infos:
            if not info.available:
                self.load_errors[info.id] = info.reason
                continue
            try:
                self.detector = load_model(info, device=self.settings.resolved_device())
                break
            except ModelUnavailable as err:
                self.load_errors[info.id] = str(err)

    def weight_of(self, model: LoadedModel) -> float:
        if model.meta.ensemble_weight is not None:
            return float(model.meta.ensemble_weight)
        family = family_of(model.meta.architecture)
        return DEFAULT_FAMILY_WEIGHTS[family] if family else 1.0 / 3.0

    @property
    def decision_threshold(self) -> tuple[float, str]:
        """(threshold, where it came from) — the primary model's metadata, else the UNVERIFIED default."""
        for m in sorted(self.members, key=lambda m: (-self.weight_of(m), m.id)):
            if "decision" in m.meta.thresholds:
                return float(m.meta.thresholds["decision"]), f"metadata of {m.id}"
        return DEFAULT_DECISION_THRESHOLD, THRESHOLD_NOTE

    def model_table(self) -> list[dict[str, Any]]:
        rows = super().model_table()
        for info in self.detector_infos:
            loaded = self.detector is not None and self.detector.id == info.id
            rows.append({"model": info.id, "version": info.version, "framework": info.framework,
                         "architecture": info.metadata.architecture if info.metadata else "", "ensemble weight": None,
                         "status": "loaded (detector)" if loaded else
                         f"unavailable: {self.load_errors.get(info.id, info.reason)}", "phantom-trained demo": info.demo})
        return rows

    def notices(self) -> list[str]:
        seen = super().notices()
        if self.detector is not None and self.detector.meta.notice and self.detector.meta.notice not in seen:
            seen.append(self.detector.meta.notice)
        return seen

    def model_versions(self) -> dict[str, str]:
        versions = super().model_versions()
        if self.detector is not None:
            versions[self.detector.id] = self.detector.meta.version
        return versions

    def forward(self, image: np.ndarray) -> list[ModelOutput]:
        outs = super().forward(image)
        converted = []
        for o in outs:
            p = abnormal_probability(o)
            cams = dict(o.cams)
            if "abnormal" not in cams and "normal" in cams:
                cams.pop("normal")  # a 'normal' map does not show where the abnormality is
            converted.append(ModelOutput(o.model_id, LABELS, (1.0 - p, p), o.logits, o.seconds, cams, o.cam_layer))
        return converted

    def cam_classes(self, model, x, k):
        labels = list(model.meta.labels)
        return [labels.index("abnormal")] if "abnormal" in labels else None

    def decide(self, labels, probs, outputs) -> Decision:
        score = float(probs[1])
        threshold, source = self.decision_threshold
        confidence = decision_confidence(score, threshold)
        prediction = "abnormal" if score >= threshold else "normal"
        extras = {"ensemble_score": score, "decision_threshold": threshold, "decision_threshold_source": source,
                  # 0.449 is UNVERIFIED wherever it comes from (default or copied into metadata by a trainer)
                  "threshold_unverified": abs(threshold - DEFAULT_DECISION_THRESHOLD) < 1e-9,
                  "threshold_note": THRESHOLD_NOTE,
                  "model_scores": {o.model_id: float(o.probabilities[1]) for o in outputs}}
        if confidence < self.threshold:
            return Decision(None, confidence, (f"{UNABLE}: the ensemble score {score:.3f} is too close to the decision "
                                               f"threshold {threshold:.3f} (confidence {confidence:.0%} < "
                                               f"{self.threshold:.0%}); leaning {prediction}.",),
                            cam_label="abnormal", extras=extras)
        return Decision(prediction, confidence, cam_label="abnormal", extras=extras)

    def extra_steps(self, scan: Scan, image: np.ndarray, decision: Decision, timings: dict[str, float]) -> dict[str, Any]:
        extras: dict[str, Any] = {"dicom_meta": {k: v for k, v in dict(scan.meta).items()
                                                 if isinstance(v, (str, int, float, bool))}}
        if decision.prediction != "abnormal":
            return {"extras": extras}
        if self.detector is None:
            extras["detector_note"] = "No lesion detector is available; boxes cannot be drawn."
            return {"extras": extras}
        t = time.perf_counter()
        boxes = self.detector.detect(image_to_rgb_uint8(image))
        timings["detect_s"] = time.perf_counter() - t
        extras["detector"] = self.detector.id
        return {"boxes": tuple(boxes), "extras": extras}


def build(weights_dir=None, settings=None, gate=None) -> SpineXrayTask:
    """The spine-xray task: every available ``spine-xray`` classifier plus the first available detector."""
    return SpineXrayTask("spine-xray", LABELS, weights_dir=weights_dir, settings=settings, gate=gate)
