"""Grad-CAM: maps in [0, 1] on the input grid, localisation, hooks removed, thread safety."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

import _image_models as im
from core.explain import cam_to_scan_grid, find_target_layer, grad_cam, model_lock
from core.models.builders import build_network


class Spotter(torch.nn.Module):
    """Class 0 = brightness (anywhere); class 1 = brightness weighted toward the top-left corner."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 1)
        with torch.no_grad():
            self.conv.weight.fill_(1.0)
            self.conv.bias.zero_()
        self.relu = torch.nn.ReLU()
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(2, 2)
        with torch.no_grad():
            self.fc.weight.copy_(torch.eye(2))
            self.fc.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.relu(self.conv(x))).flatten(1))


def _all_hooks(module: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in module.modules())


def test_cam_localises_the_bright_square() -> None:
    net = Spotter().eval()
    x = torch.zeros(1, 1, 32, 32)
    x[0, 0, 4:12, 20:28] = 1.0  # rows 4..11, cols 20..27
    out = grad_cam(net, x, target_layer="relu")
    cam = out.maps[0]
    assert cam.shape == (32, 32) and cam.dtype == np.float32
    assert cam.min() >= 0.0 and cam.max() == pytest.approx(1.0)
    assert cam[4:12, 20:28].mean() > 0.9 and cam[20:, :10].mean() < 0.05
    np.testing.assert_allclose(out.logits, net(x).detach().numpy()[0], atol=1e-6)


def test_maps_for_every_class_on_input_grid_and_hooks_removed() -> None:
    m = im.meta("cam", "brain-tumor", im.TINY_DENSENET, im.BRAIN_LABELS)
    torch.manual_seed(0)
    net = build_network(m).eval()
    x = torch.rand(1, 1, 64, 48)
    before = _all_hooks(net)
    out = grad_cam(net, x)
    assert sorted(out.maps) == [0, 1, 2, 3]
    for cam in out.maps.values():
        assert cam.shape == (64, 48) and 0.0 <= cam.min() and cam.max() <= 1.0
    assert out.layer == find_target_layer(net, x)
    assert _all_hooks(net) == before == 0
    assert not net.get_submodule(out.layer)._forward_hooks


def test_hooks_removed_after_an_error() -> None:
    net = Spotter().eval()
    with pytest.raises(ValueError, match="not found"):
        grad_cam(net, torch.rand(1, 1, 8, 8), target_layer="no.such.layer")
    with pytest.raises(IndexError):
        grad_cam(net, torch.rand(1, 1, 8, 8), class_indices=[5], target_layer="relu")
    assert _all_hooks(net) == 0
    assert not model_lock(net).locked()


def test_concurrent_cams_match_serial_ones() -> None:
    m = im.meta("cam", "brain-tumor", im.TINY_DENSENET, im.BRAIN_LABELS)
    torch.manual_seed(0)
    net = build_network(m).eval()
    inputs = [torch.rand(1, 1, 48, 48, generator=torch.Generator().manual_seed(i)) for i in range(6)]
    serial = [grad_cam(net, x) for x in inputs]
    results: dict[int, object] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = grad_cam(net, inputs[i])
            with model_lock(net), torch.inference_mode():  # plain predictions interleaved with CAMs
                net(inputs[i])
        except BaseException as err:  # noqa: BLE001  re-raised in the main thread below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i, ref in enumerate(serial):
        got = results[i]
        np.testing.assert_allclose(got.logits, ref.logits, atol=1e-5)
        for c in ref.maps:
            np.testing.assert_allclose(got.maps[c], ref.maps[c], atol=1e-4)
    assert _all_hooks(net) == 0


def test_cam_to_scan_grid_is_transposed_display() -> None:
    cam = np.zeros((10, 20), np.float32)  # rows, cols
    cam[0:2, 15:20] = 1.0  # top-right of the displayed image
    grid = cam_to_scan_grid(cam, (40, 20))  # scan X=40 columns, Y=20 rows
    assert grid.shape == (40, 20)
    assert grid[35, 1] > 0.5 and grid[5, 18] < 0.1
