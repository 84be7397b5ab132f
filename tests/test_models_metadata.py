"""metadata.json schema: validation errors name the file and key; mapping view; notices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.models.metadata import DEFAULT_DEMO_NOTICE, MetadataError, ModelMetadata, load_metadata, write_metadata

GOOD = {"id": "m", "task": "brain-tumor", "version": "1.0", "framework": "timm", "architecture": "resnet18",
        "labels": ["a", "b"], "input": {"channels": 1, "spatial_shape": [128, 128]}, "file": "model.safetensors",
        "sha256": "ab" * 32, "demo": True, "custom_key": {"kept": 1}}


def test_good_metadata_parses_and_reads_as_mapping(tmp_path: Path) -> None:
    write_metadata(GOOD, tmp_path)
    meta = load_metadata(tmp_path)
    assert meta.labels == ("a", "b") and meta.input.spatial_shape == (128, 128)
    assert meta["architecture"] == "resnet18" and meta.get("custom_key") == {"kept": 1}
    assert meta.role == "classifier" and meta.activation == "softmax"
    assert meta.weight_path == tmp_path / "model.safetensors"
    assert meta.notice == DEFAULT_DEMO_NOTICE
    assert ModelMetadata.from_dict(meta.to_dict()).to_dict() == meta.to_dict()


@pytest.mark.parametrize("change,message", [
    ({"id": None}, "'id' is missing"),
    ({"framework": "keras"}, "unknown framework"),
    ({"labels": []}, "at least one label"),
    ({"labels": "ab"}, "'labels' must be"),
    ({"sha256": "xyz"}, "64 hexadecimal"),
    ({"input": {"channels": 2}}, "channels must be 1 or 3"),
    ({"input": {"spatial_shape": [4, 4]}}, "spatial_shape"),
    ({"input": {"value_range": [1, 0]}}, "increasing"),
    ({"ood": {"method": "energy"}}, "numeric 'threshold'"),
    ({"thresholds": {"decision": "high"}}, "thresholds"),
    ({"role": "segmenter"}, "'role'"),
])
def test_bad_metadata_names_the_key(change: dict, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        ModelMetadata.from_dict({**GOOD, **change}, source="x/metadata.json")


def test_chest_defaults_to_sigmoid_and_yolo_to_detector() -> None:
    assert ModelMetadata.from_dict({**GOOD, "task": "chest-xray"}).activation == "sigmoid"
    assert ModelMetadata.from_dict({**GOOD, "framework": "ultralytics"}).role == "detector"


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="not found"):
        load_metadata(tmp_path)
    (tmp_path / "metadata.json").write_text(json.dumps([1, 2]))
    with pytest.raises(MetadataError, match="JSON object"):
        load_metadata(tmp_path)
