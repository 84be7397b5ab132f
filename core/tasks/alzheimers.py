"""Alzheimer's staging from a 3D T1 volume: gate -> preprocess -> 3D CNN -> Grad-CAM -> Result.

Four classes (FACTS.md section 5, CDR 0 / 0.5 / 1 / 2): 'Non-Demented', 'Very Mild Dementia',
'Mild Dementia', 'Moderate Dementia'. The network is :class:`core.models.attention3d.AttentionCNN3D`
loaded from ``weights/alzheimers-attention3d/`` (sha256 checked by :mod:`core.models.loading`).

Preprocessing (:func:`prepare_volume`, shared with the trainer so training and inference match):

1. first channel of the RAS+ scan (core.io already reoriented it);
2. Gaussian anti-alias filter when downsampling, then :func:`core.preprocess.resample_to_spacing`
   to 3.5 mm isotropic (a 64^3 grid then spans 224 mm, a whole head);
3. head mask (voxels above 10 % of the 99th intensity percentile); crop/pad to 64^3 with the top of
   the head 4 voxels below the grid's upper edge and X/Y centred on the head's centre of mass in the
   upper 16 cm, so neck coverage does not move the brain in the grid;
4. intensities: (v - p1 of the grid) / (p99 of the head - p1), clipped to [0, 1].

Below ``settings.threshold_for('alzheimers')`` (0.60 by default) the task answers
"Unable to determine" (status ``rejected``) and keeps the probabilities for display.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from scipy import ndimage

from core.config import Settings, get_settings
from core.models.loading import LoadedModel, ModelInfo, ModelUnavailable, list_models, load_model
from core.progression import STAGES
from core.tasks.base import UNABLE, activate, ood_check, run_task_gates
from core.types import Check, QCReport, Result, Scan, Severity

TASK_NAME = "alzheimers"
MODEL_ID = "alzheimers-attention3d"
LABELS: tuple[str, ...] = STAGES
SPACING_MM = 3.5
GRID_SHAPE: tuple[int, int, int] = (64, 64, 64)
TOP_MARGIN_VOX = 4  # grid voxels left above the vertex
CENTRE_DEPTH_MM = 160.0  # X/Y centre of mass taken over the top 16 cm of the head (ignores the neck)
NORMALIZATION_TEXT = ("core.tasks.alzheimers.prepare_volume: anti-alias + resample to 3.5 mm isotropic, crop/pad "
                      "64^3 (vertex 4 voxels below the top, X/Y centred on the upper head), "
                      "(v - p1) / (p99_head - p1) clipped to [0, 1]")


@dataclass(frozen=True)
class PreparedVolume:
    """The network input and where it sits in the world.

    Attributes:
        array: float32 ``GRID_SHAPE`` in [0, 1].
        affine: 4x4 voxel -> world (mm, RAS+) of the grid.
        history: preprocessing steps, in order.
    """

    array: np.ndarray
    affine: np.ndarray
    history: tuple[str, ...]


def _head_mask(vol: np.ndarray) -> np.ndarray:
    hi = float(np.percentile(vol, 99.0))
    return vol > 0.10 * hi if hi > 0 else np.zeros(vol.shape, bool)


def prepare_volume(scan: Scan, spacing_mm: float = SPACING_MM,
                   shape: Sequence[int] = GRID_SHAPE) -> PreparedVolume:
    """Resample, crop/pad and normalise a RAS+ T1 volume for the staging network.

    Args:
        scan: a 3D scan (C, X, Y, Z) in RAS+.
        spacing_mm: isotropic output voxel size.
        shape: output grid (X, Y, Z).

    Returns:
        PreparedVolume with the network input, its affine and the steps taken.

    Raises:
        ValueError: for a 2D scan or an empty (all-zero) volume.
    """
    from core.preprocess import resample_to_spacing

    if not scan.is_volume:
        raise ValueError("staging needs a 3D volume")
    shape = tuple(int(s) for s in shape)
    steps: list[str] = []
    vol = np.asarray(scan.array[0], dtype=np.float32)
    if not np.isfinite(vol).all():
        vol = np.nan_to_num(vol, nan=0.0, posinf=0.0, neginf=0.0)
    factor = np.array([spacing_mm / s for s in scan.spacing])
    src = scan
    if np.any(factor > 1.25):
        # anti-alias before downsampling: sigma ~ 0.4 output voxel in input voxels
        sigma = [0.4 * f if f > 1.25 else 0.0 for f in factor]
        vol = ndimage.gaussian_filter(vol, sigma, truncate=2.5)
        steps.append(f"gaussian anti-alias sigma_vox={tuple(round(s, 2) for s in sigma)}")
        src = scan.with_history(steps[-1], array=vol[None])
    res = resample_to_spacing(src, spacing_mm, order=1)
    steps.append(res.history[-1])
    v = res.array[0]
    mask = _head_mask(v)
    if not mask.any():
        raise ValueError("the volume is empty (no voxel above background)")
    zs = np.nonzero(mask.any(axis=(0, 1)))[0]
    z_top = int(zs.max())
    z_lo = max(0, z_top - int(round(CENTRE_DEPTH_MM / spacing_mm)))
    xs, ys, _ = np.nonzero(mask[:, :, z_lo:z_top + 1])
    cx, cy = float(xs.mean()), float(ys.mean())
    start = np.array([int(round(cx - shape[0] / 2)), int(round(cy - shape[1] / 2)),
                      z_top + TOP_MARGIN_VOX + 1 - shape[2]])
    # crop/pad by index arithmetic: out[i] = v[start + i] where inside, background value elsewhere
    bg = float(np.percentile(v, 1.0))
    out = np.full(shape, bg, dtype=np.float32)
    src_lo = np.maximum(start, 0)
    src_hi = np.minimum(start + np.array(shape), v.shape)
    if np.all(src_hi > src_lo):
        dst_lo = src_lo - start
        dst_hi = dst_lo + (src_hi - src_lo)
        out[dst_lo[0]:dst_hi[0], dst_lo[1]:dst_hi[1], dst_lo[2]:dst_hi[2]] = \
            v[src_lo[0]:src_hi[0], src_lo[1]:src_hi[1], src_lo[2]:src_hi[2]]
    affine = res.affine.copy()
    affine[:3, 3] = res.affine[:3, :3] @ start + res.affine[:3, 3]
    steps.append(f"crop/pad to {shape} at voxel offset {tuple(int(s) for s in start)}")
    head = _head_mask(out)
    lo = float(np.percentile(out, 1.0))
    hi = float(np.percentile(out[head], 99.0)) if head.any() else float(out.max())
    out = np.clip((out - lo) / max(hi - lo, 1e-6), 0.0, 1.0).astype(np.float32)
    steps.append("intensity (v - p1) / (p99_head - p1) clipped to [0, 1]")
    return PreparedVolume(out, affine, tuple(steps))


def map_to_scan_grid(low: np.ndarray, grid_affine: np.ndarray, grid_shape: Sequence[int], scan: Scan) -> np.ndarray:
    """Resample a coarse map that tiles the network grid onto the scan's voxel grid.

    Args:
        low: ``(x', y', z')`` map whose cells evenly tile ``grid_shape`` (e.g. 8^3 over 64^3).
        grid_affine: voxel -> world of the network grid.
        grid_shape: the network grid shape.
        scan: the original scan.

    Returns:
        float32 ``scan.shape`` map (trilinear; zero outside the network grid).
    """
    low = np.asarray(low, dtype=np.float32)
    cell = np.array(grid_shape, dtype=float) / np.array(low.shape, dtype=float)
    # scan voxel -> world -> grid voxel -> low-res cell coordinate (cell centres at (i + 0.5) * cell - 0.5)
    to_grid = np.linalg.inv(grid_affine) @ scan.affine
    to_low = np.diag(list(1.0 / cell) + [1.0])
    to_low[:3, 3] = 0.5 / cell - 0.5
    m = to_low @ to_grid
    out = ndimage.affine_transform(low, m[:3, :3], offset=m[:3, 3], output_shape=scan.shape, order=1,
                                   mode="constant", cval=0.0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


class AlzheimersTask:
    """Stage a T1 brain volume into the four CDR classes with a 3D attention CNN.

    Tasks are cached and shared across Streamlit sessions and threads: no per-request state.
    """

    name = TASK_NAME

    def __init__(self, weights_dir: Any = None, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.weights_dir = weights_dir if weights_dir is not None else self.settings.weights_dir
        infos = list_models(self.weights_dir, task=TASK_NAME, role="classifier")
        self.model_info: ModelInfo | None = next((i for i in infos if i.id == MODEL_ID), infos[0] if infos else None)
        self.model: LoadedModel | None = None
        self.load_error = "" if self.model_info else f"no model folder for task {TASK_NAME!r} under {self.weights_dir}"
        if self.model_info is not None:
            if not self.model_info.available:
                self.load_error = self.model_info.reason
            else:
                try:
                    self.model = load_model(self.model_info, device=self.settings.resolved_device())
                except ModelUnavailable as err:
                    self.load_error = str(err)
        self.labels: tuple[str, ...] = tuple(self.model.meta.labels) if self.model else LABELS
        self._lock = threading.Lock()

    @property
    def threshold(self) -> float:
        return self.settings.threshold_for(TASK_NAME)

    @property
    def demo(self) -> bool:
        return bool(self.model and self.model.meta.demo)

    def notices(self) -> list[str]:
        return [self.model.meta.notice] if self.model and self.model.meta.notice else []

    def model_versions(self) -> dict[str, str]:
        return {self.model.id: self.model.meta.version} if self.model else {}

    def _extras(self, **more: Any) -> dict[str, Any]:
        meta = self.model.meta if self.model else None
        extras: dict[str, Any] = {
            "demo": bool(meta and meta.demo), "notices": self.notices(), "threshold": self.threshold,
            "model_id": meta.id if meta else None, "model_error": self.load_error or None,
            "training_data": meta.training_data if meta else "",
            "heldout_metrics": dict(meta.metrics) if meta else {},
        }
        extras.update(more)
        return extras

    def _rejected(self, reasons: Sequence[str], qc: QCReport, timings: dict[str, float], **fields: Any) -> Result:
        extras = self._extras(**fields.pop("extras", {}))
        return Result(task=TASK_NAME, status="rejected", reasons=tuple(reasons), qc=qc, timings_s=dict(timings),
                      model_versions=self.model_versions(), extras=extras, **fields)

    def __call__(self, scan: Scan) -> Result:
        """gate -> preprocess -> forward + Grad-CAM -> postprocess; never raises on bad input."""
        timings: dict[str, float] = {}
        t_all = time.perf_counter()
        t = time.perf_counter()
        qc = run_task_gates(scan, TASK_NAME)
        timings["gate_s"] = time.perf_counter() - t
        if not qc.accepted or not scan.is_volume:
            reasons = qc.reasons or ("Alzheimer's staging needs a 3D brain MRI volume (T1), not a single image.",)
            timings["total_s"] = time.perf_counter() - t_all
            return self._rejected(reasons, qc, timings, labels=self.labels)
        if self.model is None:
            timings["total_s"] = time.perf_counter() - t_all
            return self._rejected((f"The staging model is unavailable ({self.load_error}).",), qc, timings,
                                  labels=self.labels)

        t = time.perf_counter()
        try:
            prep = prepare_volume(scan)
        except ValueError as err:
            timings["total_s"] = time.perf_counter() - t_all
            return self._rejected((f"The volume cannot be prepared for staging: {err}.",), qc, timings,
                                  labels=self.labels)
        timings["preprocess_s"] = time.perf_counter() - t

        t = time.perf_counter()
        model = self.model
        assert model.module is not None
        x = torch.from_numpy(prep.array[None, None]).to(model.device)
        with self._lock:  # one explain at a time per shared module (cheap; no hooks are installed)
            out = model.module.explain(x)
        logits = out["logits"][0].float().cpu().numpy()
        probs = activate(logits, "softmax")
        gradcam = out["gradcam"][0].float().cpu().numpy()
        attention = out["attention"][0].float().cpu().numpy()
        timings["forward_s"] = time.perf_counter() - t

        t = time.perf_counter()
        ood = ood_check(model, logits)
        if ood is not None:
            # The energy check on a 4-class phantom model is advisory: shown, never a refusal on its own.
            ood = Check(ood.code, ood.passed, Severity.WARNING if not ood.passed else ood.severity, ood.message,
                        ood.value)
            qc = qc.merged(QCReport((ood,)))
        cam = map_to_scan_grid(gradcam, prep.affine, prep.array.shape, scan)
        att = attention / max(float(attention.max()), 1e-12)
        timings["cam_s"] = time.perf_counter() - t

        top = int(np.argmax(probs))
        conf = float(probs[top])
        order = np.argsort(-probs)
        extras = self._extras(
            attention_lowres=att.astype(np.float32), gradcam_lowres=gradcam.astype(np.float32),
            network_grid_affine=prep.affine, network_grid_shape=list(prep.array.shape),
            preprocessing=list(prep.history), logits=[float(v) for v in logits],
            cam_label=self.labels[top], cam_method="Grad-CAM on the last feature map (8^3 cells of 28 mm)",
        )
        timings["total_s"] = time.perf_counter() - t_all
        common = dict(labels=self.labels, probabilities=tuple(float(p) for p in probs), confidence=conf, cam=cam,
                      qc=qc, model_versions=self.model_versions(), timings_s=dict(timings),
                      per_model={model.id: tuple(float(p) for p in probs)})
        if conf < self.threshold:
            cands = ", ".join(f"{self.labels[i]} {probs[i]:.0%}" for i in order[:3])
            reason = (f"{UNABLE}: the top probability {conf:.1%} is below the {self.threshold:.0%} threshold "
                      f"(top candidates: {cands}).")
            return Result(task=TASK_NAME, status="rejected", prediction=None, reasons=(reason,), extras=extras, **common)
        return Result(task=TASK_NAME, status="ok", prediction=self.labels[top], extras=extras, **common)



def cam_on_analysis_grid(brain_report: Any) -> np.ndarray | None:
    """The staging CNN's 3D Grad-CAM on a BrainReport's analysed scan grid; None when the CNN did not run."""
    res = brain_report.cnn_result
    if res is None or res.extras.get("gradcam_lowres") is None:
        return None
    ex = res.extras
    return map_to_scan_grid(ex["gradcam_lowres"], np.asarray(ex["network_grid_affine"]), ex["network_grid_shape"],
                            brain_report.scan)


def build() -> AlzheimersTask:
    """Registry factory (``get_task('alzheimers')``)."""
    return AlzheimersTask()


__all__ = ["AlzheimersTask", "build", "prepare_volume", "map_to_scan_grid", "PreparedVolume", "LABELS", "MODEL_ID",
           "SPACING_MM", "GRID_SHAPE", "NORMALIZATION_TEXT"]
