"""Brain tumour MRI slice classification: glioma / meningioma / pituitary / no tumour.

Labels follow the Kaggle Brain Tumor MRI dataset (Masoud Nickparvar; FACTS.md section 8: glioma,
meningioma, notumor, pituitary). Models are the folders under ``weights/`` with ``"task":
"brain-tumor"``; several folders form a weighted ensemble. A volume is read at its middle axial
slice (``core.preprocess.to_display_2d``).
"""

from __future__ import annotations

from core.tasks.base import ClassifierTask

# FACTS.md section 8 (Kaggle Brain Tumor MRI, Nickparvar): the four class folders
LABELS: tuple[str, ...] = ("glioma", "meningioma", "pituitary", "notumor")
DISPLAY_NAMES: dict[str, str] = {"glioma": "Glioma", "meningioma": "Meningioma", "pituitary": "Pituitary tumour",
                                 "notumor": "No tumour"}


class BrainTumorTask(ClassifierTask):
    """Four-class brain tumour classifier on one MRI slice."""


def build(weights_dir=None, settings=None, gate=None) -> BrainTumorTask:
    """The brain-tumor task with every available ``brain-tumor`` model folder loaded."""
    return BrainTumorTask("brain-tumor", LABELS, weights_dir=weights_dir, settings=settings, gate=gate)
