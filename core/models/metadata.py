"""The ``metadata.json`` of a model folder: schema, validation and access.

Every model lives in ``weights/<model-id>/`` with a ``metadata.json`` beside its weight file
(the MONAI bundle idea: the metadata is the model's input/output contract). The keys below are
required or have a default; unknown keys are kept in :attr:`ModelMetadata.extra` so a folder can
carry more than RadLens reads.

Required keys: ``id``, ``task``, ``version``, ``framework``, ``architecture``, ``labels``
(except for torchxrayvision, whose labels default to the pretrained model's targets), ``input``,
and ``file`` + ``sha256`` for every framework except torchxrayvision (whose weights live in its
cache folder; see :mod:`core.models.loading`).

Optional keys read by RadLens (besides the schema in CONTEXT.md):

- ``role``: ``"classifier"`` or ``"detector"`` (default: detector for ultralytics, else classifier).
- ``activation``: ``"softmax"`` (one label per image) or ``"sigmoid"`` (multi-label findings);
  default sigmoid for ``chest-xray``, softmax otherwise.
- ``cam_target_layer``: dotted module name for Grad-CAM; default: the last module that outputs a
  spatial feature map (found by a probe forward pass).
- ``input.mean`` / ``input.std``: per-channel normalisation applied after mapping to ``value_range``.
- ``thresholds``: task-specific numbers, e.g. ``{"decision": 0.449}`` for the spine ensemble or
  ``{"conf": 0.25, "iou": 0.45}`` for a detector.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterator, Mapping

FRAMEWORKS: tuple[str, ...] = ("timm", "monai", "ultralytics", "onnx", "torchxrayvision")
ROLES: tuple[str, ...] = ("classifier", "detector")
ACTIVATIONS: tuple[str, ...] = ("softmax", "sigmoid")
DEFAULT_DEMO_NOTICE = (
    "Trained on synthetic phantoms from core/synth; shows the workflow, not evidence about real patients."
)


class MetadataError(ValueError):
    """metadata.json is missing, unreadable or breaks the schema; ``str()`` names the file and key."""


@dataclass(frozen=True)
class InputSpec:
    """What a network expects as input (``network_data_format`` in MONAI's words).

    Attributes:
        modality: accepted modalities as free text codes, e.g. ``["MR"]`` or ``["CR", "DX"]``.
        channels: input channels (1 grayscale; 3 repeats the grayscale image).
        spatial_shape: ``[H, W]`` for 2D nets, ``[D, H, W]`` for 3D nets, pixels/voxels.
        value_range: the [0, 1]-normalised image is mapped linearly onto this range.
        normalization: human-readable description of the preprocessing.
        mean: optional per-channel mean subtracted after mapping to ``value_range``.
        std: optional per-channel std divided after subtracting ``mean``.
    """

    modality: tuple[str, ...] = ()
    channels: int = 1
    spatial_shape: tuple[int, ...] = (128, 128)
    value_range: tuple[float, float] = (0.0, 1.0)
    normalization: str = ""
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "modality": list(self.modality), "channels": self.channels,
            "spatial_shape": list(self.spatial_shape), "value_range": list(self.value_range),
            "normalization": self.normalization,
        }
        if self.mean is not None:
            d["mean"] = list(self.mean)
        if self.std is not None:
            d["std"] = list(self.std)
        return d


@dataclass(frozen=True)
class ModelMetadata(Mapping[str, Any]):
    """Parsed, validated ``metadata.json``.

    Also readable as a mapping (``meta["architecture"]``, ``meta.get("labels")``) with the original
    JSON keys, so code written against the raw dict keeps working.
    """

    id: str
    task: str
    version: str
    framework: str
    architecture: str
    labels: tuple[str, ...]
    input: InputSpec
    file: str | None = None
    sha256: str | None = None
    architecture_kwargs: Mapping[str, Any] = field(default_factory=dict)
    role: str = "classifier"
    activation: str = "softmax"
    thresholds: Mapping[str, float] = field(default_factory=dict)
    ensemble_weight: float | None = None
    ood: Mapping[str, Any] | None = None
    cam_target_layer: str | None = None
    training_data: str = ""
    demo: bool = False
    demo_notice: str = ""
    seed: int | None = None
    command: str = ""
    metrics: Mapping[str, Any] = field(default_factory=dict)
    licence: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    folder: Path | None = None

    # --- mapping view ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON object this metadata was read from (normalised), without ``folder``."""
        d: dict[str, Any] = dict(self.extra)
        for f in fields(self):
            if f.name in ("extra", "folder"):
                continue
            v = getattr(self, f.name)
            if f.name == "input":
                v = v.to_dict()
            elif f.name == "labels":
                v = list(v)
            elif isinstance(v, Mapping):
                v = dict(v)
            d[f.name] = v
        return d

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    # --- convenience ----------------------------------------------------------------------
    @property
    def weight_path(self) -> Path | None:
        """Absolute path of the weight file, or None when the framework needs none."""
        if self.file is None:
            return None
        p = Path(self.file)
        return p if p.is_absolute() or self.folder is None else self.folder / p

    @property
    def version_string(self) -> str:
        """``"<id>@<version>"`` for result records."""
        return f"{self.id}@{self.version}"

    @property
    def notice(self) -> str:
        """The phantom-trained notice to show with every result of a demo model ('' otherwise)."""
        if not self.demo:
            return ""
        return self.demo_notice or DEFAULT_DEMO_NOTICE

    # --- construction ---------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], folder: Path | None = None, source: str = "metadata") -> "ModelMetadata":
        """Validate ``data`` and build the metadata.

        Raises:
            MetadataError: naming ``source`` and the offending key.
        """
        if not isinstance(data, Mapping):
            raise MetadataError(f"{source}: expected a JSON object, got {type(data).__name__}")

        def req(key: str, typ: type | tuple[type, ...]) -> Any:
            if key not in data or data[key] is None:
                raise MetadataError(f"{source}: required key {key!r} is missing")
            if not isinstance(data[key], typ):
                raise MetadataError(f"{source}: key {key!r} must be {_tname(typ)}, got {type(data[key]).__name__}")
            return data[key]

        def opt(key: str, typ: type | tuple[type, ...], default: Any) -> Any:
            if data.get(key) is None:
                return default
            if not isinstance(data[key], typ):
                raise MetadataError(f"{source}: key {key!r} must be {_tname(typ)}, got {type(data[key]).__name__}")
            return data[key]

        model_id = str(req("id", (str,)))
        task = str(req("task", (str,)))
        version = str(req("version", (str, int, float)))
        framework = str(req("framework", (str,)))
        if framework not in FRAMEWORKS:
            raise MetadataError(f"{source}: unknown framework {framework!r}; supported: {', '.join(FRAMEWORKS)}")
        architecture = str(req("architecture", (str,)))

        if framework == "torchxrayvision":
            labels_raw = opt("labels", (list, tuple), [])
        else:
            labels_raw = req("labels", (list, tuple))
            if not labels_raw:
                raise MetadataError(f"{source}: 'labels' must list at least one label")
        if not all(isinstance(x, str) for x in labels_raw):
            raise MetadataError(f"{source}: every entry of 'labels' must be a string")

        file = opt("file", (str,), None)
        sha = opt("sha256", (str,), None)
        if framework != "torchxrayvision":
            if file is None:
                raise MetadataError(f"{source}: required key 'file' is missing")
            if sha is None:
                raise MetadataError(f"{source}: required key 'sha256' is missing")
        if sha is not None and (len(sha) != 64 or any(c not in "0123456789abcdefABCDEF" for c in sha)):
            raise MetadataError(f"{source}: 'sha256' must be 64 hexadecimal characters")

        spec = _input_spec(req("input", (dict,)), source)
        role = opt("role", (str,), "detector" if framework == "ultralytics" else "classifier")
        if role not in ROLES:
            raise MetadataError(f"{source}: 'role' must be one of {ROLES}, got {role!r}")
        activation = opt("activation", (str,), "sigmoid" if task == "chest-xray" else "softmax")
        if activation not in ACTIVATIONS:
            raise MetadataError(f"{source}: 'activation' must be one of {ACTIVATIONS}, got {activation!r}")
        thresholds = opt("thresholds", (dict,), {})
        for k, v in thresholds.items():
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise MetadataError(f"{source}: thresholds[{k!r}] must be a number")
        weight = opt("ensemble_weight", (int, float), None)
        if weight is not None and weight < 0:
            raise MetadataError(f"{source}: 'ensemble_weight' must be >= 0")
        ood = opt("ood", (dict,), None)
        if ood is not None and not isinstance(ood.get("threshold"), (int, float)):
            raise MetadataError(f"{source}: 'ood' needs a numeric 'threshold'")

        known = {f.name for f in fields(cls)} - {"extra", "folder"}
        return cls(
            id=model_id, task=task, version=version, framework=framework, architecture=architecture,
            labels=tuple(labels_raw), input=spec, file=file, sha256=None if sha is None else sha.lower(),
            architecture_kwargs=dict(opt("architecture_kwargs", (dict,), {})), role=role, activation=activation,
            thresholds={k: float(v) for k, v in thresholds.items()},
            ensemble_weight=None if weight is None else float(weight), ood=ood,
            cam_target_layer=opt("cam_target_layer", (str,), None),
            training_data=str(opt("training_data", (str,), "")), demo=bool(opt("demo", (bool,), False)),
            demo_notice=str(opt("demo_notice", (str,), "")), seed=opt("seed", (int,), None),
            command=str(opt("command", (str,), "")), metrics=dict(opt("metrics", (dict,), {})),
            licence=str(opt("licence", (str,), "")),
            extra={k: v for k, v in data.items() if k not in known}, folder=folder,
        )


def _tname(typ: type | tuple[type, ...]) -> str:
    types = typ if isinstance(typ, tuple) else (typ,)
    return " or ".join({"str": "a string", "dict": "an object", "list": "a list", "tuple": "a list",
                        "int": "a number", "float": "a number", "bool": "true/false"}.get(t.__name__, t.__name__)
                       for t in types)


def _input_spec(d: Mapping[str, Any], source: str) -> InputSpec:
    def numbers(key: str, n: int | None) -> tuple[float, ...] | None:
        v = d.get(key)
        if v is None:
            return None
        if not isinstance(v, (list, tuple)) or not all(isinstance(x, (int, float)) for x in v):
            raise MetadataError(f"{source}: input.{key} must be a list of numbers")
        if n is not None and len(v) != n:
            raise MetadataError(f"{source}: input.{key} must have {n} entries, got {len(v)}")
        return tuple(float(x) for x in v)

    channels = d.get("channels", 1)
    if not isinstance(channels, int) or channels not in (1, 3):
        raise MetadataError(f"{source}: input.channels must be 1 or 3, got {channels!r}")
    shape = numbers("spatial_shape", None) or (128.0, 128.0)
    if len(shape) not in (2, 3) or any(s < 8 or s != int(s) for s in shape):
        raise MetadataError(f"{source}: input.spatial_shape must be [H, W] or [D, H, W] integers >= 8")
    value_range = numbers("value_range", 2) or (0.0, 1.0)
    if value_range[1] <= value_range[0]:
        raise MetadataError(f"{source}: input.value_range must be increasing")
    mean, std = numbers("mean", channels), numbers("std", channels)
    if std is not None and any(s <= 0 for s in std):
        raise MetadataError(f"{source}: input.std must be positive")
    modality = d.get("modality", [])
    if isinstance(modality, str):
        modality = [modality]
    return InputSpec(modality=tuple(str(m) for m in modality), channels=channels,
                     spatial_shape=tuple(int(s) for s in shape), value_range=(value_range[0], value_range[1]),
                     normalization=str(d.get("normalization", "")), mean=mean, std=std)


def load_metadata(path: str | Path) -> ModelMetadata:
    """Read and validate ``metadata.json`` (``path`` is the file or its folder).

    Raises:
        MetadataError: the file is missing, is not JSON, or breaks the schema.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "metadata.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise MetadataError(f"{path}: metadata.json not found") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise MetadataError(f"{path}: not valid JSON ({err})") from err
    return ModelMetadata.from_dict(data, folder=path.parent, source=str(path))


def write_metadata(meta: Mapping[str, Any], folder: str | Path) -> Path:
    """Write ``meta`` (a dict or :class:`ModelMetadata`) to ``folder/metadata.json`` after validating it."""
    folder = Path(folder)
    data = meta.to_dict() if isinstance(meta, ModelMetadata) else dict(meta)
    ModelMetadata.from_dict(data, folder=folder, source=str(folder / "metadata.json"))
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "metadata.json"
    out.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return out
