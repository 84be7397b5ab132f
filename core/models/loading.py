"""Find model folders under ``weights/``, verify them, and load them for inference.

A model is a folder ``weights/<model-id>/`` holding ``metadata.json`` (see
:mod:`core.models.metadata`) and a weight file. Supported formats:

- torch networks (``framework`` ``timm`` or ``monai``), built by
  :func:`core.models.builders.build_network` and filled from a state dict in ``.pth``/``.pt``
  (``torch.load(weights_only=True)``; checkpoints wrapping it under ``"state_dict"`` or ``"model"``
  are unwrapped, DataParallel ``"module."`` prefixes stripped) or ``.safetensors`` (fp16 stored,
  float32 in memory);
- ultralytics YOLO ``.pt`` (a local file only; ultralytics would download any other name);
- ONNX through onnxruntime (CPUExecutionProvider; CUDA first when available);
- torchxrayvision DenseNets whose pretrained weights already sit in its cache folder
  (``settings.xrv_cache_dir``). RadLens never downloads them: a missing file makes the model
  unavailable, with the path where the file is expected.

:func:`list_models` never raises for a broken folder: the folder is listed as unavailable with the
reason (bad metadata, missing file, sha256 mismatch, unknown framework), so pages can show it.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from core.config import get_settings
from core.models.metadata import MetadataError, ModelMetadata, load_metadata
from core.types import Box

SUPPORTED_SUFFIXES: dict[str, tuple[str, ...]] = {
    "timm": (".pth", ".pt", ".safetensors"),
    "monai": (".pth", ".pt", ".safetensors"),
    "ultralytics": (".pt",),
    "onnx": (".onnx",),
    "torchxrayvision": (".pt", ".pth", ".safetensors"),
}


class ModelUnavailable(RuntimeError):
    """A model cannot be used; ``str()`` says why in words for the model table."""


# --- hashing ---------------------------------------------------------------------------------
_HASH_CACHE: dict[tuple[str, int, int], str] = {}
_HASH_LOCK = threading.Lock()


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, cached by (path, size, mtime) so page re-runs do not re-hash."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    with _HASH_LOCK:
        if key in _HASH_CACHE:
            return _HASH_CACHE[key]
    h = hashlib.sha256()
    with p.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    with _HASH_LOCK:
        _HASH_CACHE[key] = digest
    return digest


# --- state dicts -----------------------------------------------------------------------------
def unwrap_state_dict(obj: Any) -> dict[str, torch.Tensor]:
    """Return the tensor dict inside a checkpoint object.

    Accepts a plain state dict, or a training checkpoint with the state dict under ``"state_dict"``
    or ``"model"`` (the keys Lightning and most training scripts use), possibly nested. Strips
    ``"module."`` prefixes left by DataParallel/DDP.

    Raises:
        ValueError: when no tensor dict is found.
    """
    for _ in range(4):  # checkpoints nest at most a few levels
        if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            break
        if isinstance(obj, Mapping):
            for key in ("state_dict", "model", "model_state_dict", "net"):
                if key in obj and isinstance(obj[key], Mapping):
                    obj = obj[key]
                    break
            else:
                raise ValueError("checkpoint holds no state dict (looked for 'state_dict' and 'model' keys)")
        else:
            raise ValueError(f"checkpoint is a {type(obj).__name__}, not a state dict")
    if not (isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values())):
        raise ValueError("checkpoint holds no tensor state dict")
    out: dict[str, torch.Tensor] = {}
    for k, v in obj.items():
        while k.startswith("module."):
            k = k[len("module."):]
        out[k] = v
    return out


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a state dict from ``.safetensors`` or ``.pth``/``.pt`` safely.

    Floating tensors come back as float32 (fp16 files are stored that way to stay small).
    ``.pth``/``.pt`` use ``torch.load(weights_only=True)``: no arbitrary code from a user's file.
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        sd = load_file(str(path), device="cpu")
    else:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
        sd = unwrap_state_dict(obj)
    sd = unwrap_state_dict(sd)
    return {k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}


# --- listing ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelInfo:
    """One folder under ``weights/`` and whether it can be used.

    Attributes:
        id: model id (metadata ``id``, or the folder name when the metadata is unreadable).
        folder: the model folder.
        available: True when metadata, weight file and sha256 are all fine.
        reason: why the model is unavailable ('' when available).
        metadata: parsed metadata, None when unreadable.
    """

    id: str
    folder: Path
    available: bool
    reason: str = ""
    metadata: ModelMetadata | None = None

    @property
    def task(self) -> str:
        return self.metadata.task if self.metadata else ""

    @property
    def framework(self) -> str:
        return self.metadata.framework if self.metadata else ""

    @property
    def role(self) -> str:
        return self.metadata.role if self.metadata else ""

    @property
    def version(self) -> str:
        return self.metadata.version if self.metadata else ""

    @property
    def demo(self) -> bool:
        return bool(self.metadata and self.metadata.demo)

    def to_row(self) -> dict[str, Any]:
        """Plain row for the model table on the pages."""
        return {"model": self.id, "task": self.task, "framework": self.framework, "role": self.role,
                "version": self.version, "available": self.available, "reason": self.reason,
                "demo (phantom-trained)": self.demo}


def xrv_weights_path(meta: ModelMetadata, cache_dir: str | Path | None = None) -> Path:
    """Where torchxrayvision keeps the pretrained file for ``meta.architecture`` (or ``meta.file``)."""
    cache = Path(cache_dir if cache_dir is not None else get_settings().xrv_cache_dir).expanduser()
    if meta.file:
        p = Path(meta.file)
        return p if p.is_absolute() else cache / p
    import os

    model_urls = _xrv().models.model_urls
    if meta.architecture not in model_urls:
        raise ModelUnavailable(f"unknown torchxrayvision weights name {meta.architecture!r}")
    return cache / os.path.basename(model_urls[meta.architecture]["weights_url"])


def check_model(meta: ModelMetadata) -> str:
    """Return '' when ``meta``'s weight file exists, has a supported suffix and the right sha256; else why not."""
    try:
        path = xrv_weights_path(meta) if meta.framework == "torchxrayvision" else meta.weight_path
    except ModelUnavailable as err:
        return str(err)
    if path is None:
        return "metadata names no weight file"
    if path.suffix not in SUPPORTED_SUFFIXES[meta.framework]:
        return f"{meta.framework} weights must end in {' or '.join(SUPPORTED_SUFFIXES[meta.framework])}, got {path.name!r}"
    if not path.is_file():
        where = "torchxrayvision cache" if meta.framework == "torchxrayvision" else "model folder"
        return f"weight file missing: {path} (expected in the {where}; RadLens never downloads weights)"
    if meta.sha256 is None:
        if meta.framework == "torchxrayvision":
            return ""
        return "metadata has no sha256"
    actual = sha256_file(path)
    if actual != meta.sha256:
        return f"sha256 mismatch for {path.name}: metadata says {meta.sha256[:12]}..., file is {actual[:12]}..."
    return ""


def list_models(weights_dir: str | Path | None = None, task: str | None = None,
                role: str | None = None) -> list[ModelInfo]:
    """Every model folder under ``weights_dir`` (default ``settings.weights_dir``), usable or not.

    Args:
        weights_dir: folder of model folders.
        task: keep only models of this task (folders with unreadable metadata are kept when
            ``task`` is None only).
        role: keep only ``"classifier"`` or ``"detector"`` models.

    Returns:
        ModelInfo per folder holding a ``metadata.json``, sorted by id. Never raises for a broken folder.
    """
    root = Path(weights_dir if weights_dir is not None else get_settings().weights_dir)
    if not root.is_dir():
        return []
    infos: list[ModelInfo] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        meta_path = folder / "metadata.json"
        if not meta_path.is_file():
            continue
        try:
            meta = load_metadata(meta_path)
        except MetadataError as err:
            if task is None and role is None:
                infos.append(ModelInfo(folder.name, folder, False, f"invalid metadata: {err}"))
            continue
        if (task is not None and meta.task != task) or (role is not None and meta.role != role):
            continue
        reason = check_model(meta)
        infos.append(ModelInfo(meta.id, folder, not reason, reason, meta))
    return sorted(infos, key=lambda i: i.id)


# --- loaded models ---------------------------------------------------------------------------
@dataclass
class LoadedModel:
    """A model ready for inference.

    ``module`` is the torch network (timm/monai/torchxrayvision; None for ONNX and YOLO);
    ``session`` the onnxruntime session; ``yolo`` the ultralytics model. ``lock`` serialises
    Grad-CAM (hooks mutate the shared module) and YOLO prediction (ultralytics keeps state in its
    predictor) across Streamlit sessions.
    """

    meta: ModelMetadata
    device: str = "cpu"
    module: torch.nn.Module | None = None
    session: Any = None
    yolo: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def supports_cam(self) -> bool:
        return self.module is not None

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Raw outputs (N, K) for a float32 batch (N, C, H, W)."""
        if self.module is not None:
            from core.explain import model_lock

            # the same lock as Grad-CAM: a hooked forward pass in another thread must not see this one
            with model_lock(self.module), torch.inference_mode():
                out = self.module(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device))
            return _as_logits(out).float().cpu().numpy()
        if self.session is not None:
            name = self.session.get_inputs()[0].name
            out = self.session.run(None, {name: np.ascontiguousarray(batch, dtype=np.float32)})[0]
            return np.asarray(out, dtype=np.float32).reshape(batch.shape[0], -1)
        raise TypeError(f"model {self.id} is a detector; call detect()")

    def detect(self, image_rgb: np.ndarray, conf: float | None = None, iou: float | None = None) -> list[Box]:
        """Run a YOLO detector on an (rows, cols, 3) uint8 image; boxes in that image's pixels."""
        if self.yolo is None:
            raise TypeError(f"model {self.id} is not a detector")
        conf = float(self.meta.thresholds.get("conf", 0.25) if conf is None else conf)
        iou = float(self.meta.thresholds.get("iou", 0.45) if iou is None else iou)
        imgsz = int(max(self.meta.input.spatial_shape))
        # ultralytics reads numpy images as BGR; our image is RGB, so flip the channel order
        bgr = np.ascontiguousarray(image_rgb[..., ::-1])
        with self.lock:
            threads = torch.get_num_threads()
            try:
                res = self.yolo.predict(bgr, conf=conf, iou=iou, imgsz=imgsz, device=self.device, verbose=False)[0]
            finally:
                # ultralytics' select_device sets torch's CPU threads to cpu_count - 1 process-wide (1 on a
                # 2-core machine), which would slow every other model down
                torch.set_num_threads(threads)
        boxes: list[Box] = []
        if res.boxes is None or len(res.boxes) == 0:
            return boxes
        names = self.meta.labels
        xyxy = res.boxes.xyxy.cpu().numpy()
        scores = res.boxes.conf.cpu().numpy()
        classes = res.boxes.cls.cpu().numpy().astype(int)
        for (x0, y0, x1, y1), s, c in zip(xyxy, scores, classes):
            label = names[c] if 0 <= c < len(names) else str(res.names.get(c, c))
            boxes.append(Box(label, float(s), float(x0), float(y0), float(x1), float(y1)))
        return sorted(boxes, key=lambda b: -b.score)


def _as_logits(out: Any) -> torch.Tensor:
    """Networks return a tensor, a tuple (aux heads) or a dict; take the main logits as (N, K)."""
    if isinstance(out, (tuple, list)):
        out = out[0]
    if isinstance(out, Mapping):
        out = out.get("logits", next(iter(out.values())))
    return out.reshape(out.shape[0], -1)


_XRV_LOCK = threading.Lock()


def _xrv():
    """Import torchxrayvision without its global ``warnings.filterwarnings('ignore')`` leaking out."""
    with _XRV_LOCK, warnings.catch_warnings():
        import torchxrayvision

    return torchxrayvision


def _build_torch(meta: ModelMetadata) -> torch.nn.Module:
    from core.models.builders import build_network

    return build_network(meta)


def _load_xrv(meta: ModelMetadata) -> torch.nn.Module:
    xrv = _xrv()
    path = xrv_weights_path(meta)
    kwargs = dict(meta.architecture_kwargs)
    n_labels = len(meta.labels) if meta.labels else len(xrv.datasets.default_pathologies)
    if meta.architecture.startswith("resnet"):
        raise ModelUnavailable("torchxrayvision ResNet autoencoders are not supported; use a DenseNet")
    net = xrv.models.DenseNet(num_classes=n_labels, weights=None, **kwargs)
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True) if path.suffix != ".safetensors" else None
        sd = load_state_dict_file(path) if obj is None else unwrap_state_dict(obj)
    except (pickle.UnpicklingError, ValueError) as err:  # a pickled full module, not a state dict
        if meta.sha256 is None:
            raise ModelUnavailable(
                f"{path.name} is a pickled model, not a state dict; add its sha256 to metadata.json to "
                "allow loading it through torchxrayvision") from err
        # sha256 already verified against metadata by check_model: this exact file was vetted
        with warnings.catch_warnings():
            net = xrv.models.DenseNet(weights=meta.architecture, cache_dir=str(path.parent) + "/")
        # without op_threshs the forward returns raw logits, like every other RadLens classifier
        net.op_threshs = None
        return net
    net.load_state_dict(sd)
    if not meta.labels:
        net.targets = list(xrv.datasets.default_pathologies)
    return net


def load_model(model: ModelInfo | ModelMetadata | str, device: str | None = None,
               weights_dir: str | Path | None = None) -> LoadedModel:
    """Load a model for inference (eval mode, on ``device``).

    Args:
        model: a ModelInfo, ModelMetadata, or a model id looked up under ``weights_dir``.
        device: torch device; default ``settings.resolved_device()``.
        weights_dir: where to look an id up.

    Raises:
        ModelUnavailable: missing/corrupt file, sha256 mismatch, unknown framework, or a state dict
            that does not fit the architecture; the message says which.
    """
    if isinstance(model, str):
        matches = [i for i in list_models(weights_dir) if i.id == model]
        if not matches:
            raise ModelUnavailable(f"no model folder with id {model!r}")
        model = matches[0]
    if isinstance(model, ModelInfo):
        if model.metadata is None or not model.available:
            raise ModelUnavailable(model.reason or "model unavailable")
        meta = model.metadata
    else:
        meta = model
        reason = check_model(meta)
        if reason:
            raise ModelUnavailable(reason)
    settings = get_settings()
    device = device or settings.resolved_device()
    if settings.torch_threads > 0:
        torch.set_num_threads(settings.torch_threads)

    if meta.framework in ("timm", "monai"):
        path = meta.weight_path
        assert path is not None
        try:
            sd = load_state_dict_file(path)
        except (ValueError, RuntimeError, OSError) as err:
            raise ModelUnavailable(f"cannot read {path.name}: {err}") from err
        try:
            net = _build_torch(meta)
            net.load_state_dict(sd, strict=True)
        except (RuntimeError, KeyError, TypeError, ValueError) as err:
            raise ModelUnavailable(f"weights do not fit {meta.framework} {meta.architecture}: {str(err)[:300]}") from err
        return LoadedModel(meta, device, module=net.eval().to(device))
    if meta.framework == "torchxrayvision":
        try:
            net = _load_xrv(meta)
        except (RuntimeError, KeyError, ValueError, OSError) as err:
            raise ModelUnavailable(f"cannot load torchxrayvision {meta.architecture}: {str(err)[:300]}") from err
        return LoadedModel(meta, device, module=net.eval().to(device))
    if meta.framework == "onnx":
        import onnxruntime as ort

        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        opts = ort.SessionOptions()
        if settings.torch_threads > 0:
            opts.intra_op_num_threads = settings.torch_threads
        try:
            sess = ort.InferenceSession(str(meta.weight_path), sess_options=opts, providers=providers)
        except Exception as err:  # noqa: BLE001  onnxruntime raises its own untyped errors for bad files
            raise ModelUnavailable(f"onnxruntime cannot open {meta.file}: {str(err)[:300]}") from err
        return LoadedModel(meta, device, session=sess)
    if meta.framework == "ultralytics":
        from ultralytics import YOLO

        path = meta.weight_path
        assert path is not None and path.is_file()  # check_model verified it; a bare name would download
        try:
            # ultralytics unpickles its .pt checkpoints; the sha256 pinned in metadata was verified above
            yolo = YOLO(str(path.resolve()), task="detect")
        except Exception as err:  # noqa: BLE001  ultralytics raises many error types for bad files
            raise ModelUnavailable(f"ultralytics cannot open {path.name}: {str(err)[:300]}") from err
        return LoadedModel(meta, device, yolo=yolo)
    raise ModelUnavailable(f"unknown framework {meta.framework!r}")
