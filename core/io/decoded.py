"""The intermediate every decoder returns before :func:`core.io.load_scan` builds a Scan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.types import Modality


@dataclass
class Decoded:
    """Decoder output: float32 ``(C, X, Y, Z)`` array, RAS+ affine, modality, safe meta, pseudonym."""

    array: np.ndarray
    affine: np.ndarray
    modality: Modality
    meta: dict[str, Any] = field(default_factory=dict)
    subject_pseudonym: str | None = None
    history: tuple[str, ...] = ()
