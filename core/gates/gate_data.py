"""Labelled images for the learned input gate: phantoms of every kind and body part, and negatives.

One registry (:data:`SOURCES`) serves training (:mod:`core.training.input_gate`) and the
evaluation set (``python -m core.gates_eval --generate``): each source draws images from
its own seeds per split (train / val / test offsets as in :mod:`core.training.common`), so
the test split never overlaps what the gate was trained on. Photographs are split by
picture: the test split uses scikit-image photographs the gate never saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from skimage.transform import resize

from core.gates import negatives as neg

SPLIT_OFFSETS: dict[str, int] = {"train": 0, "val": 1_000_000, "test": 2_000_000}

#: Modules whose code draws each source (a training cache is named after their contents, so
#: editing one generator regenerates only its images).
SOURCE_MODULES: dict[str, tuple[str, ...]] = {
    "mri_brain_slice": ("core.synth.brain_slice", "core.synth.head"),
    "mri_brain_head": ("core.synth.head",),
    "mri_head_levels": ("core.gates.head_levels", "core.synth.head"),
    "mri_knee": ("core.gates.knee_phantom",), "xray_knee": ("core.gates.knee_phantom",),
    "xray_chest": ("core.synth.chest",), "xray_spine": ("core.synth.spine",),
    "ct_brain": ("core.gates.ct_phantom", "core.synth.head"), "ct_chest": ("core.gates.ct_phantom",),
    "xray_cspine": ("core.gates.cspine_phantom",),
    "reg_xray_chest": ("core.gates.registry_images",), "reg_xray_other": ("core.gates.registry_images",),
    "reg_mri_other": ("core.gates.registry_images",), "reg_ct_brain": ("core.gates.registry_images",),
    "reg_ct_other": ("core.gates.registry_images",), "mni_brain": ("core.gates.registry_images",),
    "reg_ultrasound": ("core.gates.registry_images",),
    "photo": ("core.gates.negatives",), "text": ("core.gates.negatives",), "noise": ("core.gates.negatives",),
    "blank": ("core.gates.negatives",), "drawing": ("core.gates.negatives",),
}


@dataclass(frozen=True)
class Source:
    """One kind of labelled image.

    Attributes:
        name: short id (``"xray_chest"``).
        kind / body_part: the gate's labels for it.
        make: ``make(seed, size, split) -> list of images`` (``(size, size)`` gray or
            ``(size, size, 3)`` RGB, 0..1); a call may return several views.
        medical: True for scans (augmented with MR contrast changes, burned-in text, ...).
    """

    name: str
    kind: str
    body_part: str
    make: Callable[[int, int, str], list[np.ndarray]]
    medical: bool = True


def _square(img: np.ndarray, size: int) -> np.ndarray:
    shape = (size, size) + img.shape[2:]
    return resize(np.asarray(img, np.float32), shape, order=1, anti_aliasing=True, preserve_range=True).astype(np.float32)


def _brain_slices(seed: int, size: int, split: str) -> list[np.ndarray]:
    from core.synth.brain_slice import brain_slice_dataset

    images, _ = brain_slice_dataset(16, seed, size, n_subjects=2)
    return list(images)


def head_volume_views(volume: np.ndarray, rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """``n`` slices of an (X, Y, Z) RAS head volume at random planes and levels, displayed upright."""
    views = []
    for _ in range(n):
        axis = int(rng.choice([2, 2, 2, 1, 0]))
        lo, hi = (0.2, 0.85) if axis == 2 else (0.3, 0.7)
        idx = int(rng.uniform(lo, hi) * volume.shape[axis])
        sl = np.take(volume, idx, axis=axis)
        views.append(np.flipud(sl.T).astype(np.float32))
    return views


def _head_views(seed: int, size: int, split: str) -> list[np.ndarray]:
    from core.synth.head import make_head_phantom

    rng = np.random.default_rng(seed)
    head = make_head_phantom(seed, shape=(96, 112, 96), spacing_mm=2.0,
                             noise_level=float(rng.uniform(0.01, 0.05)))
    vol = head.scan.array[0]
    return [_square(v / max(float(np.percentile(v, 99.5)), 1e-6), size) for v in head_volume_views(vol, rng, 8)]


def _head_levels(seed: int, size: int, split: str) -> list[np.ndarray]:
    from core.gates.head_levels import head_level_slices

    return head_level_slices(seed, size, 6)


def _knee_mri(seed: int, size: int, split: str) -> list[np.ndarray]:
    from core.gates.knee_phantom import make_knee_mri

    return [make_knee_mri(seed, size)]


def _knee_xray(seed: int, size: int, split: str) -> list[np.ndarray]:
    from core.gates.knee_phantom import make_knee_radiograph

    return [make_knee_radiograph(seed, size)]


def _chest_xray(seed: int, size: int, split: str) -> list[np.ndarray]:
    from core.synth.chest import make_chest_xray, sample_findings

    img, _ = make_chest_xray(seed, sample_findings(np.random.default_rng(seed)), size=size)
    return [img]


def _spine_xray(seed: int, size: int, split: str) -> list[np.ndarray]:
    from core.synth.spine import SPINE_LESIONS, make_spine_xray

    rng = np.random.default_rng(seed)
    lesions = [str(x) for x in rng.choice(SPINE_LESIONS, size=int(rng.integers(0, 3)), replace=False)]
    rows = int(size * rng.uniform(1.2, 2.0))
    img, _, _ = make_spine_xray(seed, lesions, size=(rows, size))
    return [_square(img, size)]


def _ct_head(seed: int, size: int, split: str) -> list[np.ndarray]:
    from core.gates.ct_phantom import head_ct_views

    return head_ct_views(seed, 6, size)


def _ct_chest(seed: int, size: int, split: str) -> list[np.ndarray]:
    from core.gates.ct_phantom import make_chest_ct

    return [make_chest_ct(seed, size)]


def _cspine(seed: int, size: int, split: str) -> list[np.ndarray]:
    from core.gates.cspine_phantom import make_cspine_xray

    return [make_cspine_xray(seed, size)]


def _registry(kind: str, part: str) -> Callable[[int, int, str], list[np.ndarray]]:
    def make(seed: int, size: int, split: str) -> list[np.ndarray]:
        from core.gates.registry_images import pydicom_images

        return pydicom_images(kind, part, seed, size)

    return make


def _mni(seed: int, size: int, split: str) -> list[np.ndarray]:
    from core.gates.registry_images import mni_slices

    return mni_slices(seed, size)


def _photo(seed: int, size: int, split: str) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    names = neg.EVAL_PHOTOS if split == "test" else neg.TRAIN_PHOTOS
    return [neg.augment_photo(neg.load_photo(str(rng.choice(names))), rng, size)]


def _text(seed: int, size: int, split: str) -> list[np.ndarray]:
    return [_square(neg.text_screenshot(seed, max(size, 160)), size)]


def _noise(seed: int, size: int, split: str) -> list[np.ndarray]:
    return [neg.noise_image(seed, size)]


def _blank(seed: int, size: int, split: str) -> list[np.ndarray]:
    return [neg.near_blank(seed, size)]


def _drawing(seed: int, size: int, split: str) -> list[np.ndarray]:
    return [neg.drawing(seed, size)]


SOURCES: dict[str, Source] = {s.name: s for s in (
    Source("mri_brain_slice", "mri", "brain", _brain_slices),
    Source("mri_brain_head", "mri", "brain", _head_views),
    Source("mri_head_levels", "mri", "brain", _head_levels),
    Source("mri_knee", "mri", "knee", _knee_mri),
    Source("xray_chest", "xray", "chest", _chest_xray),
    Source("xray_spine", "xray", "spine", _spine_xray),
    Source("xray_knee", "xray", "knee", _knee_xray),
    Source("ct_brain", "ct", "brain", _ct_head),
    Source("ct_chest", "ct", "chest", _ct_chest),
    Source("xray_cspine", "xray", "spine", _cspine),
    Source("reg_xray_chest", "xray", "chest", _registry("xray", "chest")),
    Source("reg_xray_other", "xray", "other", _registry("xray", "other")),
    Source("reg_mri_other", "mri", "other", _registry("mri", "other")),
    Source("reg_ct_brain", "ct", "brain", _registry("ct", "brain")),
    Source("reg_ct_other", "ct", "other", _registry("ct", "other")),
    Source("mni_brain", "mri", "brain", _mni),
    Source("reg_ultrasound", "other", "other", _registry("other", "other")),
    Source("photo", "photo", "other", _photo, medical=False),
    Source("text", "other", "other", _text, medical=False),
    Source("noise", "other", "other", _noise, medical=False),
    Source("blank", "other", "other", _blank, medical=False),
    Source("drawing", "other", "other", _drawing, medical=False),
)}


def generate(source: str, split: str, n: int, size: int, base_seed: int = 0) -> list[np.ndarray]:
    """``n`` images of one source and split (RGB float32 ``(size, size, 3)`` in 0..1)."""
    src = SOURCES[source]
    out: list[np.ndarray] = []
    seed = base_seed + SPLIT_OFFSETS[split]
    while len(out) < n:
        for img in src.make(seed, size, split):
            img = np.asarray(img, np.float32)
            if img.shape[:2] != (size, size):
                img = _square(img, size)
            if img.ndim == 2:
                img = np.repeat(img[:, :, None], 3, axis=2)
            out.append(np.clip(img, 0, 1))
        seed += 1
    return out[:n]


__all__ = ["SPLIT_OFFSETS", "SOURCE_MODULES", "Source", "SOURCES", "generate", "head_volume_views"]
