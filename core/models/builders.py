"""Build an untrained network from a weights folder's ``metadata.json``.

The metadata is the model's contract (MONAI-bundle style): ``framework``,
``architecture``, ``architecture_kwargs``, ``labels`` and ``input`` say everything needed
to rebuild the exact module whose ``state_dict`` the weight file holds. Nothing is ever
downloaded: timm and MONAI networks are created with ``pretrained=False``.

YOLO detectors are not built here: ultralytics rebuilds them from their own ``.pt``
checkpoint (``ultralytics.YOLO(path)``), which carries the architecture.
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping

import torch

SUPPORTED_FRAMEWORKS = ("timm", "monai")

# MONAI networks name their channel/class arguments differently; the first name a
# network's signature accepts is used.
_MONAI_IN_NAMES = ("in_channels", "n_input_channels")
_MONAI_OUT_NAMES = ("out_channels", "num_classes")


def num_outputs(meta: Mapping[str, Any]) -> int:
    """Number of network outputs: ``architecture_kwargs.num_classes`` if given, else ``len(labels)``.

    Args:
        meta: parsed ``metadata.json``.

    Returns:
        Output width of the classifier head (one logit per label).
    """
    kwargs = meta.get("architecture_kwargs") or {}
    if "num_classes" in kwargs:
        return int(kwargs["num_classes"])
    labels = meta.get("labels") or []
    if not labels:
        raise ValueError("metadata has no 'labels': cannot size the classifier head")
    return len(labels)


def input_channels(meta: Mapping[str, Any]) -> int:
    """Input channel count from ``meta["input"]["channels"]`` (default 1, grayscale)."""
    return int((meta.get("input") or {}).get("channels", 1))


def spatial_dims(meta: Mapping[str, Any]) -> int:
    """2 for images, 3 for volumes, from the length of ``meta["input"]["spatial_shape"]`` (default 2)."""
    shape = (meta.get("input") or {}).get("spatial_shape")
    return len(shape) if shape else 2


def _build_timm(meta: Mapping[str, Any]) -> torch.nn.Module:
    import timm

    kwargs = dict(meta.get("architecture_kwargs") or {})
    kwargs.setdefault("num_classes", num_outputs(meta))
    kwargs.setdefault("in_chans", input_channels(meta))
    # timm expects tuples for per-stage settings; JSON gives lists.
    for key, value in list(kwargs.items()):
        if isinstance(value, list):
            kwargs[key] = tuple(value)
    return timm.create_model(str(meta["architecture"]), pretrained=False, **kwargs)


# RadLens networks assembled from MONAI blocks (not in monai.networks.nets): name -> "module:class".
CUSTOM_MONAI_NETWORKS: dict[str, str] = {
    "AttentionCNN3D": "core.models.attention3d:AttentionCNN3D",  # Alzheimer's staging (core/tasks/alzheimers.py)
}


def _build_monai(meta: Mapping[str, Any]) -> torch.nn.Module:
    import monai.networks.nets as nets

    name = str(meta["architecture"])
    if name in CUSTOM_MONAI_NETWORKS:
        import importlib

        module_name, class_name = CUSTOM_MONAI_NETWORKS[name].split(":")
        factory = getattr(importlib.import_module(module_name), class_name)
    else:
        factory = getattr(nets, name, None)
    if factory is None or not callable(factory):
        raise ValueError(f"MONAI has no network called {name!r}")
    kwargs = dict(meta.get("architecture_kwargs") or {})
    params = inspect.signature(factory).parameters
    takes_var_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())

    def accepts(arg: str) -> bool:
        return arg in params or takes_var_kwargs

    if accepts("spatial_dims"):
        kwargs.setdefault("spatial_dims", spatial_dims(meta))
    in_name = next((n for n in _MONAI_IN_NAMES if n in params), None)
    if in_name and not any(n in kwargs for n in _MONAI_IN_NAMES):
        kwargs[in_name] = input_channels(meta)
    out_name = next((n for n in _MONAI_OUT_NAMES if n in params), None)
    if out_name and not any(n in kwargs for n in _MONAI_OUT_NAMES):
        kwargs[out_name] = num_outputs(meta)
    if "pretrained" in params:
        kwargs["pretrained"] = False  # never download
    return factory(**kwargs)


def build_network(meta: Mapping[str, Any]) -> torch.nn.Module:
    """Create the untrained network described by a model's metadata.

    Args:
        meta: parsed ``metadata.json`` with ``framework`` ("timm" | "monai"),
            ``architecture`` (timm model name or MONAI class/function name),
            optional ``architecture_kwargs``, ``labels`` (one output per label) and
            ``input`` (``channels``, ``spatial_shape`` ``[H, W]`` or ``[D, H, W]``).

    Returns:
        A ``torch.nn.Module`` in training mode whose ``state_dict`` keys match the
        weights the trainer saved. Input ``(N, channels, *spatial_shape)`` float32;
        output ``(N, len(labels))`` logits.

    Raises:
        ValueError: unknown framework (ultralytics/onnx/torchxrayvision models are
            loaded from their own files, not built here) or unknown architecture.
    """
    framework = str(meta.get("framework", "")).lower()
    if framework == "timm":
        return _build_timm(meta)
    if framework == "monai":
        return _build_monai(meta)
    raise ValueError(
        f"build_network supports frameworks {SUPPORTED_FRAMEWORKS}, not {framework!r}; "
        "ultralytics, onnx and torchxrayvision models load from their own files"
    )
