"""Grad-CAM for every torch classifier RadLens loads.

Grad-CAM (Selvaraju et al., ICCV 2017): weight the target layer's feature maps by the spatially
averaged gradient of a class logit, keep the positive part, upsample to the input grid, scale to
[0, 1]. One forward pass gives the logits and the maps of every requested class.

Models are cached by Streamlit and shared across sessions and threads, and a forward hook on a
shared module would see other threads' forward passes. So every use of a module for Grad-CAM holds
that module's lock (:func:`model_lock`; plain predictions in :mod:`core.models.loading` take the
same lock), and hooks are removed in ``finally`` whatever happens.

Overlays are drawn by :func:`core.viz.slices.overlay_heatmap`; :func:`cam_to_scan_grid` maps a CAM
computed on the network input back to the scan's (X, Y) grid.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

_LOCKS: "weakref.WeakKeyDictionary[torch.nn.Module, threading.Lock]" = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()
_AUTO_LAYER: "weakref.WeakKeyDictionary[torch.nn.Module, dict[tuple[int, ...], str]]" = weakref.WeakKeyDictionary()


def model_lock(module: torch.nn.Module) -> threading.Lock:
    """The one lock that guards ``module`` against concurrent hooked/unhooked forward passes."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(module)
        if lock is None:
            lock = threading.Lock()
            _LOCKS[module] = lock
        return lock


def _last_conv_name(module: torch.nn.Module) -> str:
    name = ""
    for n, m in module.named_modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d)):
            name = n
    if not name:
        raise ValueError("the network has no convolution layer for Grad-CAM")
    return name


def find_target_layer(module: torch.nn.Module, example: torch.Tensor) -> str:
    """The default Grad-CAM layer: the last module, in execution order, that outputs a spatial map.

    That is the final feature map before global pooling (e.g. ``features.norm5`` of a DenseNet,
    ``layer4`` of a ResNet), more informative than the last convolution of a DenseNet's last dense
    layer. Falls back to the last convolution. Found once per (module, input shape) by a probe
    forward pass; call with :func:`model_lock` held.
    """
    key = tuple(example.shape[1:])
    cache = _AUTO_LAYER.setdefault(module, {})
    if key in cache:
        return cache[key]
    spatial = example.dim() - 2
    order: list[str] = []
    handles = []

    def make_hook(name: str):
        def hook(_m, _inp, out):
            if isinstance(out, torch.Tensor) and out.dim() == spatial + 2 and min(out.shape[2:]) >= 2:
                order.append(name)
        return hook

    try:
        for name, m in module.named_modules():
            if name and not any(True for _ in m.children()):
                handles.append(m.register_forward_hook(make_hook(name)))
        with torch.inference_mode():
            module(example)
    finally:
        for h in handles:
            h.remove()
    # a ReLU/identity after the final map is as good as the map; a pooled 1x1 output is excluded above
    name = order[-1] if order else _last_conv_name(module)
    cache[key] = name
    return name


@dataclass(frozen=True)
class CamOutput:
    """Logits of one input and Grad-CAM maps of the requested classes.

    Attributes:
        logits: (K,) raw network outputs.
        maps: class index -> map in [0, 1] with the network input's spatial shape (H, W) or (D, H, W).
        layer: name of the module the maps come from.
    """

    logits: np.ndarray
    maps: dict[int, np.ndarray]
    layer: str


def grad_cam(module: torch.nn.Module, x: torch.Tensor, class_indices: Sequence[int] | None = None,
             target_layer: str | None = None) -> CamOutput:
    """Logits and Grad-CAM maps for one input.

    Args:
        module: a torch classifier in eval mode; outputs (1, K) logits.
        x: input batch of one, (1, C, H, W) or (1, C, D, H, W), on the module's device.
        class_indices: classes to explain; default all K.
        target_layer: dotted module name; default :func:`find_target_layer`.

    Returns:
        CamOutput with maps in [0, 1] on the input grid (an all-zero map when the class has no
        positive evidence in that layer).

    Hooks are always removed and the module's lock is held for the whole call, so concurrent
    sessions sharing the module are safe.
    """
    if x.shape[0] != 1:
        raise ValueError(f"grad_cam explains one input at a time, got a batch of {x.shape[0]}")
    with model_lock(module):
        layer_name = target_layer or find_target_layer(module, x)
        try:
            layer = module.get_submodule(layer_name)
        except AttributeError as err:
            raise ValueError(f"Grad-CAM target layer {layer_name!r} not found in the network") from err
        captured: list[torch.Tensor] = []
        handle = layer.register_forward_hook(lambda _m, _i, out: captured.append(out))
        try:
            with torch.enable_grad():
                xi = x.detach().clone().requires_grad_(True)  # builds a graph even if weights are frozen
                out = module(xi)
                if isinstance(out, (tuple, list)):
                    out = out[0]
                logits = out.reshape(1, -1)
                if not captured:
                    raise ValueError(f"Grad-CAM layer {layer_name!r} did not run in the forward pass")
                act = captured[-1]
                classes = list(range(logits.shape[1])) if class_indices is None else [int(c) for c in class_indices]
                maps: dict[int, np.ndarray] = {}
                for i, c in enumerate(classes):
                    grad = torch.autograd.grad(logits[0, c], act, retain_graph=i < len(classes) - 1)[0]
                    maps[c] = _cam_from(act.detach(), grad, tuple(x.shape[2:]))
        finally:
            handle.remove()
        return CamOutput(logits=logits.detach().float().cpu().numpy()[0], maps=maps, layer=layer_name)


def _cam_from(act: torch.Tensor, grad: torch.Tensor, out_shape: tuple[int, ...]) -> np.ndarray:
    dims = tuple(range(2, act.dim()))
    weights = grad.mean(dim=dims, keepdim=True)
    cam = torch.relu((weights * act).sum(dim=1, keepdim=True)).float()
    mode = "bilinear" if len(out_shape) == 2 else "trilinear"
    cam = F.interpolate(cam, size=out_shape, mode=mode, align_corners=False)[0, 0]
    peak = float(cam.max())
    if not np.isfinite(peak) or peak <= 0:
        return np.zeros(out_shape, dtype=np.float32)
    return (cam / peak).clamp(0, 1).cpu().numpy().astype(np.float32)


def cam_to_display(cam: np.ndarray, shape_rows_cols: tuple[int, int]) -> np.ndarray:
    """Resize a 2D CAM (rows, cols on the network grid) to the displayed image's (rows, cols)."""
    t = torch.from_numpy(np.ascontiguousarray(cam, dtype=np.float32))[None, None]
    out = F.interpolate(t, size=tuple(int(s) for s in shape_rows_cols), mode="bilinear", align_corners=False)[0, 0]
    return out.clamp(0, 1).numpy()


def cam_to_scan_grid(cam: np.ndarray, scan_shape_xy: tuple[int, int]) -> np.ndarray:
    """A 2D CAM on the network grid (rows, cols) -> the scan grid (X, Y), the layout of ``Result.cam``.

    2D scans are displayed as ``array[c, :, :, 0].T`` (rows = Y, cols = X), so the CAM is resized to
    (Y, X) and transposed.
    """
    x_size, y_size = scan_shape_xy
    return np.ascontiguousarray(cam_to_display(cam, (y_size, x_size)).T)


__all__ = ["CamOutput", "grad_cam", "find_target_layer", "model_lock", "cam_to_display", "cam_to_scan_grid"]
