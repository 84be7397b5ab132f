"""One Settings object for RadLens: limits, thresholds, paths, device.

Every setting has a default, help text and an environment override named
``RADLENS_<FIELD NAME IN CAPITALS>``. ``tests/test_config.py`` checks that every
setting is documented. Change values through the environment (or ``.env`` in
your shell), not by editing code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """Application settings; see each field's ``help`` metadata."""

    # --- input limits -------------------------------------------------------------------
    max_image_bytes: int = _setting(16 * 1024**2, "Largest accepted 2D image file (PNG/JPEG/single-frame DICOM), bytes.")
    max_volume_bytes: int = _setting(512 * 1024**2, "Largest accepted volume or series upload (NIfTI, MGZ, DICOM zip), bytes.")
    min_image_side_px: int = _setting(64, "Smallest accepted in-plane size of an image, pixels.")
    min_spacing_mm: float = _setting(0.01, "Smallest plausible voxel size, mm; below this the spacing is called absurd.")
    max_spacing_mm: float = _setting(20.0, "Largest plausible voxel size, mm; above this the spacing is called absurd.")
    thick_slice_warning_mm: float = _setting(3.0, "Brain volumes with a voxel side above this get a lower-reliability warning, mm.")

    # --- decisions ----------------------------------------------------------------------
    confidence_threshold: float = _setting(0.60, "Default minimum top-class probability; below it the answer is 'Unable to determine'.")
    confidence_threshold_brain_tumor: float = _setting(0.60, "Confidence threshold of the brain-tumor task.")
    confidence_threshold_chest_xray: float = _setting(0.60, "Confidence threshold of the chest-xray task (applied to the no-finding decision).")
    confidence_threshold_spine_xray: float = _setting(0.60, "Confidence threshold of the spine-xray task (distance of the ensemble score from its decision threshold, rescaled to 0.5..1).")
    confidence_threshold_alzheimers: float = _setting(0.60, "Confidence threshold of the Alzheimer's staging CNN.")
    confidence_threshold_input_gate: float = _setting(0.60, "Minimum probability of the image kind and body part chosen by the input gate.")
    progression_followup_max_risk: float = _setting(0.10, "Progression risk model: the suggested follow-up is the longest of 6 months / 1 / 2 / 3 years whose risk of progressing stays at or below this (a product rule, not a clinical guideline).")

    # --- image-quality gates (core/gates/quality.py; measured on the view resampled to 256 px, p1..p99 -> 0..1) ---
    qc_min_foreground_fraction: float = _setting(0.02, "Quality gate: an image with less than this fraction of pixels above its Otsu threshold is refused as almost empty.")
    qc_min_contrast: float = _setting(0.15, "Quality gate: smallest accepted robust Michelson contrast (p99-p1)/(|p99|+|p1|) of the raw intensities; below it the image is refused as washed out.")
    qc_min_laplacian_variance: float = _setting(2e-4, "Quality gate (blur): an image is refused as blurred when the variance of its Laplacian falls below this AND its blur effect exceeds qc_max_blur_effect.")
    qc_max_blur_effect: float = _setting(0.70, "Quality gate (blur): no-reference blur effect (Crete et al. 2007, skimage.measure.blur_effect; 0 sharp .. 1 blurred) above which, together with a low Laplacian variance, an image is refused as blurred.")
    qc_max_noise_sigma: float = _setting(0.10, "Quality gate: largest accepted noise sigma (Immerkaer estimator, image intensities scaled to 0..1); above it the image is refused as dominated by noise.")
    qc_recommended_min_side_px: int = _setting(128, "Quality gate: images whose short side is below this many pixels get a low-resolution warning.")
    qc_max_constant_border_fraction: float = _setting(0.50, "Quality gate: when more than this fraction of the image is flat padding at its edges, a warning says the anatomy fills only part of the frame.")
    qc_max_border_foreground_fraction: float = _setting(0.45, "Quality gate (brain MRI): when anatomy covers more than this fraction of the image border, a warning says the head appears cut off.")

    # --- paths and storage --------------------------------------------------------------
    weights_dir: Path = _setting(PROJECT_ROOT / "weights", "Folder holding one sub-folder per model (metadata.json + weight file).")
    store_url: str = _setting(f"sqlite:///{PROJECT_ROOT / 'data' / 'radlens.sqlite'}", "SQLAlchemy URL of the longitudinal store.")
    pseudonym_salt: str = _setting("radlens-local-salt", "Secret salt for subject pseudonyms; set your own per site so pseudonyms cannot be recomputed elsewhere.")
    samples_dir: Path = _setting(PROJECT_ROOT.parent / "shared" / "samples", "Optional folder of real sample scans offered on the pages when present.")

    xrv_cache_dir: Path = _setting(Path("~/.torchxrayvision/models_data"), "Folder where torchxrayvision pretrained weights are looked for; RadLens never downloads them, a missing file makes that model unavailable.")
    cam_max_classes: int = _setting(8, "Most classes per model for which Grad-CAM maps are computed in one prediction (the top-scoring ones).")

    # --- compute ------------------------------------------------------------------------
    device: str = _setting("auto", "Torch device: 'auto' (CUDA when available), 'cpu' or 'cuda'.")
    torch_threads: int = _setting(0, "Torch CPU threads; 0 keeps torch's default.")

    def resolved_device(self) -> str:
        """The torch device string to use now."""
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def threshold_for(self, task_name: str) -> float:
        """Confidence threshold of a task (``"brain-tumor"`` -> ``confidence_threshold_brain_tumor``)."""
        attr = "confidence_threshold_" + task_name.replace("-", "_")
        return float(getattr(self, attr, self.confidence_threshold))


def _coerce(value: str, typ: Any) -> Any:
    kind = typ if isinstance(typ, type) else {"int": int, "float": float, "str": str, "Path": Path, "bool": bool}.get(str(typ), str)
    if kind is bool:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return kind(value)


def settings_from_env(env: dict[str, str] | None = None) -> Settings:
    """Build Settings from defaults overridden by ``RADLENS_*`` environment variables."""
    env = dict(os.environ if env is None else env)
    overrides = {}
    for f in fields(Settings):
        key = "RADLENS_" + f.name.upper()
        if key in env:
            overrides[f.name] = _coerce(env[key], f.type)
    return Settings(**overrides)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings (cached); tests build their own with ``dataclasses.replace``."""
    return settings_from_env()


def describe_settings() -> list[dict[str, Any]]:
    """Rows of (name, env var, default, help) for the settings table in the UI and README."""
    s = get_settings()
    return [
        {"setting": f.name, "env": "RADLENS_" + f.name.upper(), "value": str(getattr(s, f.name)), "help": f.metadata.get("help", "")}
        for f in fields(Settings)
    ]


__all__ = ["Settings", "get_settings", "settings_from_env", "describe_settings", "PROJECT_ROOT"]
