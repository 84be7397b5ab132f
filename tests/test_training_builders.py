"""core.models.builders: every supported family builds from metadata with the right shapes."""

from __future__ import annotations

import pytest
import torch

from core.models.builders import build_network, num_outputs


def _meta(framework, architecture, labels, n_channels=1, shape=(64, 64), **kwargs):
    return {"framework": framework, "architecture": architecture, "architecture_kwargs": kwargs,
            "labels": list(labels), "input": {"channels": n_channels, "spatial_shape": list(shape)}}


@pytest.mark.parametrize(
    "architecture,kwargs,shape",
    [
        ("densenet121", {"growth_rate": 8}, (64, 64)),                 # DenseNet-121 family, reduced width
        ("mobilenetv2_050", {}, (64, 64)),                             # MobileNetV2 family
        ("resnet26", {"channels": [16, 32, 64, 128]}, (96, 48)),       # bottleneck ResNet (ResNet-50 family)
        ("tf_efficientnetv2_b0", {}, (96, 48)),                        # EfficientNetV2 family
        ("resnet18", {"channels": [16, 32, 64, 128]}, (64, 64)),
    ],
)
def test_timm_families_output_shape(architecture, kwargs, shape):
    meta = _meta("timm", architecture, ["a", "b", "c"], shape=shape, **kwargs)
    net = build_network(meta).eval()
    with torch.no_grad():
        out = net(torch.zeros(2, 1, *shape))
    assert out.shape == (2, 3)


def test_timm_json_lists_become_tuples_and_channels_respected():
    meta = _meta("timm", "densenet121", ["x"], n_channels=3, growth_rate=8, block_config=[2, 2, 2, 2])
    net = build_network(meta).eval()
    with torch.no_grad():
        assert net(torch.zeros(1, 3, 64, 64)).shape == (1, 1)
    with pytest.raises(RuntimeError):
        net(torch.zeros(1, 1, 64, 64))  # built for 3 channels


def test_monai_densenet_2d_and_3d():
    meta2 = _meta("monai", "DenseNet121", ["n", "a"], shape=(64, 64), init_features=8, growth_rate=4,
                  block_config=[2, 2, 2, 2])
    with torch.no_grad():
        assert build_network(meta2).eval()(torch.zeros(2, 1, 64, 64)).shape == (2, 2)
    meta3 = _meta("monai", "DenseNet121", ["0", "1", "2", "3"], shape=(32, 32, 32), init_features=8,
                  growth_rate=4, block_config=[2, 2, 2, 2])
    with torch.no_grad():
        assert build_network(meta3).eval()(torch.zeros(1, 1, 32, 32, 32)).shape == (1, 4)


def test_same_metadata_gives_same_state_dict_keys():
    meta = _meta("timm", "mobilenetv2_050", ["a", "b"])
    assert list(build_network(meta).state_dict()) == list(build_network(meta).state_dict())


def test_num_classes_override_and_errors():
    assert num_outputs({"labels": ["a"], "architecture_kwargs": {"num_classes": 5}}) == 5
    with pytest.raises(ValueError):
        num_outputs({"labels": []})
    with pytest.raises(ValueError):
        build_network({"framework": "ultralytics", "architecture": "yolo11n", "labels": ["a"]})
    with pytest.raises(ValueError):
        build_network(_meta("monai", "NoSuchNet", ["a"]))
