"""The learned input gate: a small CNN that tells image kind and body part from pixels.

One timm network with 10 outputs: logits 0-4 are the image kind (:data:`KINDS`) and 5-9
the body part (:data:`BODY_PARTS`), each read through its own softmax. It is consulted
only for what the metadata rules leave open (PNG/JPEG, DICOMs without Modality or
BodyPartExamined). Weights live in ``weights/input-gate/`` and are trained by
``python -m core.train input-gate`` on phantoms, scikit-image photographs and generated
negatives (see :mod:`core.training.input_gate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from skimage.transform import resize

from core.gates.expectations import BODY_PARTS, KINDS
from core.gates.ood import energy_score
from core.types import Scan

MODEL_ID = "input-gate"
#: Network input side, pixels (square; views are resized without keeping the aspect ratio).
INPUT_SIDE_PX = 96
#: Output layout of the network: kind logits first, body-part logits second.
LABELS: tuple[str, ...] = tuple(f"kind:{k}" for k in KINDS) + tuple(f"part:{p}" for p in BODY_PARTS)


def to_gate_input(view: np.ndarray, side_px: int = INPUT_SIDE_PX) -> np.ndarray:
    """One view -> the network's input ``(3, side, side)`` float32 in 0..1.

    Args:
        view: ``(rows, cols)`` grayscale or ``(rows, cols, 3)`` RGB image in any units.

    The 1st..99th intensity percentiles (over all channels) map to 0..1, so bit depth and
    scanner units do not matter; grayscale is repeated into three channels so colour stays
    visible to the network (photographs are usually colourful, scans never).
    """
    img = np.nan_to_num(np.asarray(view, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if img.ndim == 2:
        img = img[:, :, None]
    lo, hi = np.percentile(img, [1.0, 99.0])
    img = np.clip((img - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.zeros_like(img)
    img = resize(img, (side_px, side_px, img.shape[2]), order=1, anti_aliasing=True, preserve_range=True)
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class GateOutput:
    """What the learned gate says about one scan (probabilities averaged over its views).

    Attributes:
        kind: image kind -> probability.
        body_part: body part -> probability.
        energy: energy score of the kind head (higher = less like the training data).
        ood_threshold: the calibrated energy threshold from the model's metadata (None if absent).
        model_version: ``"input-gate vX"`` for records.
        known_pairs: kind -> body parts the network was trained on together (from its metadata).
    """

    kind: dict[str, float]
    body_part: dict[str, float]
    energy: float
    ood_threshold: float | None
    model_version: str
    known_pairs: dict[str, tuple[str, ...]] | None = None

    @property
    def out_of_distribution(self) -> bool:
        return self.ood_threshold is not None and self.energy > self.ood_threshold


class LearnedGate:
    """Loaded gate network; stateless per call, safe to share across threads."""

    def __init__(self, loaded) -> None:  # core.models.LoadedModel
        self._model = loaded
        self.meta = loaded.meta

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Raw ``(N, 10)`` logits for ``(N, 3, H, W)`` inputs."""
        return self._model.logits(batch)

    def predict_views(self, views: list[np.ndarray]) -> GateOutput:
        """Run the network on views (whole and 90 % centre crop, each also mirrored); average the probabilities."""
        side = int(self.meta.input.spatial_shape[0]) if self.meta.input.spatial_shape else INPUT_SIDE_PX
        inputs = []
        for v in views:
            inputs.append(to_gate_input(v, side))
            # test-time augmentation: a central crop (90 %) besides the whole view, each mirrored
            r, c = v.shape[:2]
            dr, dc = int(r * 0.05), int(c * 0.05)
            inputs.append(to_gate_input(v[dr:r - dr, dc:c - dc], side))
        batch = np.stack(inputs)
        batch = np.concatenate([batch, batch[:, :, :, ::-1]], axis=0)
        logits = self.logits(np.ascontiguousarray(batch))
        kind_p = _softmax(logits[:, :len(KINDS)]).mean(axis=0)
        part_p = _softmax(logits[:, len(KINDS):]).mean(axis=0)
        energy = float(energy_score(logits[:, :len(KINDS)]).mean())
        ood = self.meta.ood or {}
        thr = ood.get("threshold")
        return GateOutput(
            kind={k: float(p) for k, p in zip(KINDS, kind_p)},
            body_part={b: float(p) for b, p in zip(BODY_PARTS, part_p)},
            energy=energy,
            ood_threshold=None if thr is None else float(thr),
            model_version=f"{self.meta.id} v{self.meta.version}",
            known_pairs=self.known_pairs,
        )

    @property
    def known_pairs(self) -> dict[str, tuple[str, ...]] | None:
        """Kind -> body parts seen together in training (``known_pairs`` in metadata.json), if recorded."""
        pairs = self.meta.extra.get("known_pairs")
        return None if not pairs else {str(k): tuple(v) for k, v in pairs.items()}

    def predict_scan(self, scan: Scan) -> GateOutput:
        """Learned kind and body part of a scan (a volume is judged on its three central views)."""
        from core.gates.views import gate_views, rgb_display

        rgb = rgb_display(scan)
        views = [rgb] if rgb is not None else gate_views(scan)
        return self.predict_views(views)


@lru_cache(maxsize=2)
def _load(weights_dir: str) -> LearnedGate:
    from core.models import load_model

    return LearnedGate(load_model(MODEL_ID, device="cpu", weights_dir=weights_dir))


def get_learned_gate(weights_dir: str | None = None) -> LearnedGate:
    """The learned gate from ``weights/input-gate`` (loaded once per process).

    Raises:
        core.models.ModelUnavailable: when the weights are missing or do not verify.
    """
    from core.config import get_settings

    return _load(str(weights_dir or get_settings().weights_dir))


def clear_cache() -> None:
    """Forget the loaded gate (after retraining, or in tests)."""
    _load.cache_clear()


__all__ = ["MODEL_ID", "INPUT_SIDE_PX", "LABELS", "to_gate_input", "GateOutput", "LearnedGate",
           "get_learned_gate", "clear_cache"]
