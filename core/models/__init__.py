"""Model metadata, weight loading and network inputs.

``list_models()`` finds ``weights/<id>/metadata.json`` folders (usable or not, with the reason);
``load_model()`` verifies and loads one; ``image_to_input()`` prepares a 2D image exactly as the
trainers did. Networks are built by :func:`core.models.builders.build_network`.
"""

from core.models.inputs import image_to_input, rescale_01, resize_2d
from core.models.loading import (
    LoadedModel,
    ModelInfo,
    ModelUnavailable,
    check_model,
    list_models,
    load_model,
    load_state_dict_file,
    sha256_file,
    unwrap_state_dict,
)
from core.models.metadata import (
    FRAMEWORKS,
    InputSpec,
    MetadataError,
    ModelMetadata,
    load_metadata,
    write_metadata,
)

__all__ = [
    "FRAMEWORKS", "InputSpec", "LoadedModel", "MetadataError", "ModelInfo", "ModelMetadata", "ModelUnavailable",
    "check_model", "image_to_input", "list_models", "load_metadata", "load_model", "load_state_dict_file",
    "rescale_01", "resize_2d", "sha256_file", "unwrap_state_dict", "write_metadata",
]
