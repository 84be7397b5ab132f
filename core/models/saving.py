"""Write a model folder (weight file + ``metadata.json`` with its sha256).

Used by the trainers and by tests; the reverse of :mod:`core.models.loading`. Torch networks are
stored as fp16 safetensors by default (half the size; loading turns them back into float32).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Mapping

import torch

from core.models.loading import sha256_file
from core.models.metadata import ModelMetadata, write_metadata

TorchFormat = Literal["safetensors", "pth", "pt-state_dict", "pt-model"]
_SUFFIX = {"safetensors": ".safetensors", "pth": ".pth", "pt-state_dict": ".pt", "pt-model": ".pt"}


def save_state_dict(module: torch.nn.Module, path: str | Path, fmt: TorchFormat = "safetensors",
                    fp16: bool = True) -> Path:
    """Save ``module``'s weights.

    Args:
        module: the network.
        path: target file (its suffix is replaced by the format's).
        fmt: ``"safetensors"``; ``"pth"`` (plain state dict); ``"pt-state_dict"`` / ``"pt-model"``
            (a training checkpoint wrapping the state dict under that key, as training scripts save them).
        fp16: store floating tensors as float16 (safetensors only).
    """
    path = Path(path).with_suffix(_SUFFIX[fmt])
    path.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    if fmt == "safetensors":
        from safetensors.torch import save_file

        if fp16:
            sd = {k: (v.half() if v.is_floating_point() else v) for k, v in sd.items()}
        save_file(sd, str(path))
    elif fmt == "pth":
        torch.save(sd, str(path))
    else:
        torch.save({fmt.split("-", 1)[1]: sd, "epoch": 0}, str(path))
    return path


def finish_folder(meta: Mapping[str, Any], weight_file: str | Path) -> ModelMetadata:
    """Record ``weight_file``'s name and sha256 in ``meta`` and write ``metadata.json`` beside it."""
    weight_file = Path(weight_file)
    data = dict(meta.to_dict() if isinstance(meta, ModelMetadata) else meta)
    data["file"] = weight_file.name
    data["sha256"] = sha256_file(weight_file)
    out = write_metadata(data, weight_file.parent)
    return ModelMetadata.from_dict(data, folder=out.parent, source=str(out))


def save_torch_model(module: torch.nn.Module, meta: Mapping[str, Any], folder: str | Path,
                     fmt: TorchFormat = "safetensors", fp16: bool = True) -> ModelMetadata:
    """Save a torch network and its metadata as ``folder/model.<ext>`` + ``folder/metadata.json``."""
    path = save_state_dict(module, Path(folder) / "model", fmt=fmt, fp16=fp16)
    return finish_folder(meta, path)
