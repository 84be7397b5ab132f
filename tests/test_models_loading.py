"""Weight loading: every supported format and family from checkpoints written here, and broken folders."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import _image_models as im
from core.models import list_models, load_model, load_state_dict_file
from core.models.loading import ModelUnavailable, unwrap_state_dict
from core.models.saving import finish_folder

X = np.random.default_rng(0).random((1, 1, 64, 64), dtype=np.float32)


def _ref(net: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return net(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("fmt", ["safetensors", "pth", "pt-state_dict", "pt-model"])
def test_torch_formats_roundtrip(tmp_path: Path, fmt: str) -> None:
    m = im.meta("fmt-" + fmt, "brain-tumor", im.TINY_DENSENET, im.BRAIN_LABELS)
    net = im.make_torch(tmp_path, m, fmt=fmt)
    [info] = list_models(tmp_path)
    assert info.available, info.reason
    suffix = {"safetensors": ".safetensors", "pth": ".pth"}.get(fmt, ".pt")
    assert info.metadata.file == "model" + suffix
    loaded = load_model(info, device="cpu")
    tol = 5e-2 if fmt == "safetensors" else 1e-5  # fp16 storage
    np.testing.assert_allclose(loaded.logits(X), _ref(net, X), atol=tol)


def test_safetensors_fp16_becomes_float32(tmp_path: Path) -> None:
    m = im.meta("half", "brain-tumor", im.TINY_DENSENET, im.BRAIN_LABELS)
    im.make_torch(tmp_path, m)
    from safetensors.torch import load_file

    raw = load_file(str(tmp_path / "half" / "model.safetensors"))
    assert any(v.dtype == torch.float16 for v in raw.values())
    sd = load_state_dict_file(tmp_path / "half" / "model.safetensors")
    assert all(v.dtype == torch.float32 for v in sd.values() if v.is_floating_point())


def test_unwrap_strips_module_prefix_and_nesting() -> None:
    sd = {"module.conv.weight": torch.zeros(1), "module.fc.bias": torch.ones(2)}
    assert set(unwrap_state_dict({"model": {"state_dict": sd}, "epoch": 3})) == {"conv.weight", "fc.bias"}
    with pytest.raises(ValueError):
        unwrap_state_dict({"epoch": 3, "optimizer": {"lr": 0.1}})


def test_dataparallel_checkpoint_loads(tmp_path: Path) -> None:
    m = im.meta("dp", "brain-tumor", im.TINY_DENSENET, im.BRAIN_LABELS)
    net = im.make_torch(tmp_path, m, fmt="pth")
    path = tmp_path / "dp" / "model.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in net.state_dict().items()}}, path)
    finish_folder(json.loads((tmp_path / "dp" / "metadata.json").read_text()), path)
    np.testing.assert_allclose(load_model("dp", weights_dir=tmp_path, device="cpu").logits(X), _ref(net, X), atol=1e-5)


@pytest.mark.parametrize("family,channels", [(im.TINY_DENSENET, 1), (im.TINY_MOBILENET, 3), (im.TINY_RESNET, 1),
                                             (im.TINY_EFFICIENTNET, 3)])
def test_families_load(tmp_path: Path, family: dict, channels: int) -> None:
    m = im.meta("fam", "spine-xray", family, im.SPINE_LABELS, channels=channels)
    net = im.make_torch(tmp_path, m)
    x = np.repeat(X, channels, axis=1)
    np.testing.assert_allclose(load_model("fam", weights_dir=tmp_path, device="cpu").logits(x), _ref(net, x), atol=5e-2)


@pytest.mark.slow
@pytest.mark.parametrize("arch,channels", [("densenet121", 1), ("mobilenetv2_100", 3), ("resnet50", 3),
                                           ("tf_efficientnetv2_s", 3)])
def test_full_size_timm_families_load(tmp_path: Path, arch: str, channels: int) -> None:
    m = im.meta("full", "spine-xray", {"framework": "timm", "architecture": arch}, im.SPINE_LABELS, channels=channels)
    net = im.make_torch(tmp_path, m)
    x = np.repeat(X, channels, axis=1)
    np.testing.assert_allclose(load_model("full", weights_dir=tmp_path, device="cpu").logits(x), _ref(net, x), atol=5e-2)


def test_onnx_model_loads(tmp_path: Path) -> None:
    m = im.meta("onnx-src", "brain-tumor", im.TINY_DENSENET, im.BRAIN_LABELS)
    from core.models.builders import build_network

    torch.manual_seed(1)
    net = build_network(m).eval()
    folder = tmp_path / "bt-onnx"
    folder.mkdir()
    path = folder / "model.onnx"
    torch.onnx.export(net, (torch.from_numpy(X),), str(path), input_names=["x"], output_names=["logits"],
                      dynamo=False)
    finish_folder({**m, "id": "bt-onnx", "framework": "onnx", "architecture": "DenseNet121"}, path)
    loaded = load_model("bt-onnx", weights_dir=tmp_path, device="cpu")
    assert loaded.session is not None and not loaded.supports_cam
    np.testing.assert_allclose(loaded.logits(X), _ref(net, X), atol=1e-4)


def test_yolo_detector_loads_and_detects(tmp_path: Path) -> None:
    im.make_yolo(tmp_path)
    [info] = list_models(tmp_path, role="detector")
    assert info.available, info.reason
    det = load_model(info, device="cpu")
    image = np.zeros((200, 300, 3), np.uint8)
    image[50:150, 100:200] = 255
    threads = torch.get_num_threads()
    boxes = det.detect(image)
    assert torch.get_num_threads() == threads  # ultralytics must not leave torch with fewer threads
    assert isinstance(boxes, list)
    for b in boxes:
        assert 0 <= b.x0 <= b.x1 <= 300 and 0 <= b.y0 <= b.y1 <= 200 and b.label in info.metadata.labels
    with pytest.raises(TypeError):
        det.logits(np.zeros((1, 3, 64, 64), np.float32))


def _xrv_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    cache = tmp_path / "xrv-cache"
    cache.mkdir()
    monkeypatch.setenv("RADLENS_XRV_CACHE_DIR", str(cache))
    from core.config import get_settings

    get_settings.cache_clear()
    weights = tmp_path / "weights"
    (weights / "cx-xrv").mkdir(parents=True)
    (weights / "cx-xrv" / "metadata.json").write_text(json.dumps({
        "id": "cx-xrv", "task": "chest-xray", "version": "1", "framework": "torchxrayvision",
        "architecture": "densenet121-res224-all",
        "architecture_kwargs": {"growth_rate": 4, "block_config": [1, 1, 1, 1], "num_init_features": 8},
        "input": {"channels": 1, "spatial_shape": [64, 64], "value_range": [-1024, 1024]}}))
    return cache, weights


def test_torchxrayvision_from_cache_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache, weights = _xrv_setup(tmp_path, monkeypatch)
    [info] = list_models(weights)
    assert not info.available and "never downloads" in info.reason and str(cache) in info.reason

    from core.models.loading import _xrv

    xrv = _xrv()
    torch.manual_seed(0)
    net = xrv.models.DenseNet(weights=None, growth_rate=4, block_config=(1, 1, 1, 1), num_init_features=8).eval()
    name = os.path.basename(xrv.models.model_urls["densenet121-res224-all"]["weights_url"])
    torch.save(net.state_dict(), cache / name)
    [info] = list_models(weights)
    assert info.available, info.reason
    loaded = load_model(info, device="cpu")
    assert list(loaded.module.targets) == list(xrv.datasets.default_pathologies)
    x = (X * 2048 - 1024).astype(np.float32)
    np.testing.assert_allclose(loaded.logits(x), _ref(net, x), atol=1e-4)
    from core.config import get_settings

    monkeypatch.delenv("RADLENS_XRV_CACHE_DIR")
    get_settings.cache_clear()


def test_sha256_mismatch_is_unavailable(tmp_path: Path) -> None:
    m = im.meta("tampered", "brain-tumor", im.TINY_DENSENET, im.BRAIN_LABELS)
    im.make_torch(tmp_path, m)
    with (tmp_path / "tampered" / "model.safetensors").open("ab") as fh:
        fh.write(b"\0")
    [info] = list_models(tmp_path)
    assert not info.available and "sha256 mismatch" in info.reason
    with pytest.raises(ModelUnavailable, match="sha256"):
        load_model(info)


def test_broken_folders_are_listed_not_raised(tmp_path: Path) -> None:
    (tmp_path / "no-json").mkdir()
    (tmp_path / "no-json" / "metadata.json").write_text("{not json")
    (tmp_path / "odd-framework").mkdir()
    (tmp_path / "odd-framework" / "metadata.json").write_text(json.dumps({
        "id": "odd", "task": "brain-tumor", "version": "1", "framework": "keras", "architecture": "x",
        "labels": ["a"], "input": {}, "file": "m.h5", "sha256": "0" * 64}))
    m = im.meta("missing-file", "brain-tumor", im.TINY_DENSENET, im.BRAIN_LABELS)
    im.make_torch(tmp_path, m)
    (tmp_path / "missing-file" / "model.safetensors").unlink()
    rows = {i.id: i for i in list_models(tmp_path)}
    assert "not valid JSON" in rows["no-json"].reason
    assert "unknown framework 'keras'" in rows["odd-framework"].reason
    assert "weight file missing" in rows["missing-file"].reason
    assert not any(i.available for i in rows.values())
    assert list_models(tmp_path / "does-not-exist") == []


def test_wrong_architecture_is_unavailable(tmp_path: Path) -> None:
    m = im.meta("mismatch", "brain-tumor", im.TINY_DENSENET, im.BRAIN_LABELS)
    im.make_torch(tmp_path, m)
    meta = list_models(tmp_path)[0].metadata
    wrong = replace(meta, architecture_kwargs={**meta.architecture_kwargs, "growth_rate": 8})
    with pytest.raises(ModelUnavailable, match="do not fit"):
        load_model(wrong, device="cpu")


def test_torchxrayvision_pickled_file_needs_pinned_sha256(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache, weights = _xrv_setup(tmp_path, monkeypatch)
    from core.models.loading import _xrv, sha256_file

    xrv = _xrv()
    torch.manual_seed(0)
    full = xrv.models.DenseNet(weights=None).eval()  # torchxrayvision publishes whole pickled modules
    name = os.path.basename(xrv.models.model_urls["densenet121-res224-all"]["weights_url"])
    torch.save(full, cache / name)
    meta_path = weights / "cx-xrv" / "metadata.json"
    data = json.loads(meta_path.read_text())
    data.pop("architecture_kwargs")
    data["input"]["spatial_shape"] = [224, 224]
    meta_path.write_text(json.dumps(data))
    [info] = list_models(weights)
    with pytest.raises(ModelUnavailable, match="pickled model"):
        load_model(info, device="cpu")
    data["sha256"] = sha256_file(cache / name)
    meta_path.write_text(json.dumps(data))
    [info] = list_models(weights)
    loaded = load_model(info, device="cpu")
    x = np.random.default_rng(1).uniform(-1024, 1024, (1, 1, 224, 224)).astype(np.float32)
    np.testing.assert_allclose(loaded.logits(x), _ref(full, x), atol=1e-4)
    from core.config import get_settings

    monkeypatch.delenv("RADLENS_XRV_CACHE_DIR")
    get_settings.cache_clear()
