"""Catalogue of sample cases a new user can pick without their own data.

Each case's ``loader()`` returns ``(bytes, filename)`` so that the app feeds it through
``core.io.load_scan`` exactly like an upload. Phantoms are generated on demand
(deterministic); the real images come from packages installed from the registry and are read
offline: pydicom-data's chest CR, pydicom's small MR and CT test slices, nilearn's MNI152 T1
template, and scikit-image's photographs (non-medical negatives for the input gate).
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from typing import Callable

import numpy as np

# kinds: what a page can expect from the file
KIND_BRAIN_VOLUME = "brain-mri-volume"
KIND_BRAIN_SLICE = "brain-mri-slice"
KIND_CHEST = "chest-xray"
KIND_SPINE = "spine-xray"
KIND_OTHER_MEDICAL = "other-medical"
KIND_PHOTO = "photo (non-medical)"


@dataclass(frozen=True)
class SampleCase:
    """One pickable sample.

    Attributes:
        name: short unique display name.
        description: one sentence: what it is, where it comes from, what it shows.
        kind: one of the ``KIND_*`` constants (used to filter per page).
        loader: returns ``(file bytes, filename)``; filename suffix tells the format.
        synthetic: True for generated phantoms.
        source: provenance (generator call, or package and file).
    """

    name: str
    description: str
    kind: str
    loader: Callable[[], tuple[bytes, str]]
    synthetic: bool
    source: str


def _png_bytes(image01: np.ndarray) -> bytes:
    from PIL import Image

    arr = np.clip(np.asarray(image01, dtype=np.float64), 0, 1)
    buf = io.BytesIO()
    Image.fromarray((arr * 255).round().astype(np.uint8), mode="L").save(buf, format="PNG")
    return buf.getvalue()


def _rgb_png_bytes(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgb, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _head(atrophy: float, seed: int) -> Callable[[], tuple[bytes, str]]:
    def load() -> tuple[bytes, str]:
        from core.synth.head import as_nifti_bytes, make_head_phantom

        ph = make_head_phantom(seed=seed, atrophy=atrophy, intensity_scale=1000.0)
        tag = "normal" if atrophy == 0 else f"atrophy{int(round(atrophy * 100)):02d}"
        return as_nifti_bytes(ph.scan, int16=True), f"phantom_head_t1_{tag}_seed{seed}.nii.gz"

    return load


def _slice(label: str, seed: int) -> Callable[[], tuple[bytes, str]]:
    def load() -> tuple[bytes, str]:
        from core.synth.brain_slice import make_brain_slice

        img, _ = make_brain_slice(seed, label, size=256)
        return _png_bytes(img), f"phantom_brain_slice_{label}_seed{seed}.png"

    return load


def _chest(findings: tuple[str, ...], seed: int, as_dicom: bool) -> Callable[[], tuple[bytes, str]]:
    def load() -> tuple[bytes, str]:
        from core.synth.chest import make_chest_xray
        from core.synth.dicom import as_dicom_bytes

        img, _ = make_chest_xray(seed, set(findings), size=512)
        tag = "_".join(f.lower().replace(" ", "-") for f in findings) or "normal"
        if as_dicom:
            return (as_dicom_bytes(img, modality="DX", body_part="CHEST", pixel_spacing_mm=0.7),
                    f"phantom_chest_pa_{tag}_seed{seed}.dcm")
        return _png_bytes(img), f"phantom_chest_pa_{tag}_seed{seed}.png"

    return load


def _spine(lesions: tuple[str, ...], seed: int) -> Callable[[], tuple[bytes, str]]:
    def load() -> tuple[bytes, str]:
        from core.synth.dicom import as_dicom_bytes
        from core.synth.spine import make_spine_xray

        img, _, info = make_spine_xray(seed, list(lesions), size=(512, 256))
        tag = "_".join(lesion.lower().replace(" ", "-") for lesion in lesions) or "normal"
        return (as_dicom_bytes(img, modality="DX", body_part="SPINE", pixel_spacing_mm=info["pixel_spacing_mm"]),
                f"phantom_spine_lateral_{tag}_seed{seed}.dcm")

    return load


def _pydicom_file(name: str) -> Callable[[], tuple[bytes, str]]:
    def load() -> tuple[bytes, str]:
        from pydicom.data import get_testdata_file

        path = get_testdata_file(name)
        if path is None:
            raise FileNotFoundError(f"pydicom test file {name} is not installed (package pydicom-data)")
        with open(path, "rb") as fh:
            return fh.read(), name

    return load


def _mni152() -> tuple[bytes, str]:
    from nilearn.datasets import load_mni152_template

    img = load_mni152_template(resolution=1)
    raw = img.to_bytes()
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        gz.write(raw)
    return buf.getvalue(), "mni152_t1_1mm_template.nii.gz"


def _skimage_photo(fn_name: str) -> Callable[[], tuple[bytes, str]]:
    def load() -> tuple[bytes, str]:
        from skimage import data

        arr = getattr(data, fn_name)()
        if arr.ndim == 2:
            return _png_bytes(arr / 255.0), f"photo_{fn_name}.png"
        return _rgb_png_bytes(arr[..., :3]), f"photo_{fn_name}.png"

    return load


def list_sample_cases() -> list[SampleCase]:
    """All sample cases, phantoms first, then real images, then non-medical photos."""
    cases = [
        SampleCase("Phantom head T1 (normal)", "Synthetic 1 mm T1 head (160x192x160) with no atrophy; ground-truth "
                   "volumes known.", KIND_BRAIN_VOLUME, _head(0.0, 11), True,
                   "core.synth.head.make_head_phantom(seed=11, atrophy=0.0)"),
        SampleCase("Phantom head T1 (atrophic)", "The same synthetic subject with strong phantom atrophy: enlarged "
                   "ventricles, smaller hippocampi, thinner cortex, wider sulci.", KIND_BRAIN_VOLUME, _head(0.85, 11),
                   True, "core.synth.head.make_head_phantom(seed=11, atrophy=0.85)"),
    ]
    for label, seed in (("glioma", 21), ("meningioma", 22), ("pituitary", 23), ("notumor", 24)):
        cases.append(SampleCase(f"Phantom brain slice: {label}", f"Synthetic T1 post-contrast slice, class {label}.",
                                KIND_BRAIN_SLICE, _slice(label, seed), True,
                                f"core.synth.brain_slice.make_brain_slice({seed}, {label!r}, size=256)"))
    cases += [
        SampleCase("Phantom chest PA (normal, DICOM)", "Synthetic PA chest radiograph without findings, as DICOM DX.",
                   KIND_CHEST, _chest((), 31, True), True, "core.synth.chest.make_chest_xray(31, set(), size=512)"),
        SampleCase("Phantom chest PA (cardiomegaly + effusion, PNG)", "Synthetic PA chest radiograph with an enlarged "
                   "heart and a pleural effusion.", KIND_CHEST, _chest(("Cardiomegaly", "Pleural Effusion"), 32, False),
                   True, "core.synth.chest.make_chest_xray(32, {'Cardiomegaly', 'Pleural Effusion'}, size=512)"),
        SampleCase("Phantom lumbar spine lateral (normal, DICOM)", "Synthetic lateral lumbar radiograph, no lesion.",
                   KIND_SPINE, _spine((), 41), True, "core.synth.spine.make_spine_xray(41, [], size=(512, 256))"),
        SampleCase("Phantom lumbar spine lateral (lesions, DICOM)", "Synthetic lateral lumbar radiograph with "
                   "osteophytes and a vertebral collapse.", KIND_SPINE, _spine(("Osteophytes", "Vertebral collapse"), 42),
                   True, "core.synth.spine.make_spine_xray(42, ['Osteophytes', 'Vertebral collapse'], size=(512, 256))"),
        SampleCase("Real chest CR (pydicom-data RG1_UNCR)", "Real computed radiograph of a chest from the "
                   "pydicom-data test files (MONOCHROME1, 1955x1841).", KIND_CHEST, _pydicom_file("RG1_UNCR.dcm"), False,
                   "pydicom-data: pydicom.data.get_testdata_file('RG1_UNCR.dcm')"),
        SampleCase("Real MNI152 T1 template (nilearn)", "The MNI152 1 mm T1 template that nilearn installs (an "
                   "average of many brains, skull-stripped).", KIND_BRAIN_VOLUME, _mni152, False,
                   "nilearn.datasets.load_mni152_template(resolution=1)"),
        SampleCase("Real MR slice (pydicom MR_small)", "A small real MR slice (64x64) from pydicom's test files.",
                   KIND_OTHER_MEDICAL, _pydicom_file("MR_small.dcm"), False,
                   "pydicom: pydicom.data.get_testdata_file('MR_small.dcm')"),
        SampleCase("Real CT slice (pydicom CT_small)", "A small real CT slice (128x128) from pydicom's test files.",
                   KIND_OTHER_MEDICAL, _pydicom_file("CT_small.dcm"), False,
                   "pydicom: pydicom.data.get_testdata_file('CT_small.dcm')"),
        SampleCase("Real extremity CR (pydicom-data RG3_UNCR)", "Real radiograph of a distal tibia (not a "
                   "chest or spine: the gates should refuse it on those pages).", KIND_OTHER_MEDICAL,
                   _pydicom_file("RG3_UNCR.dcm"), False, "pydicom-data: pydicom.data.get_testdata_file('RG3_UNCR.dcm')"),
    ]
    for fn, desc in (("astronaut", "astronaut portrait"), ("camera", "cameraman"), ("coffee", "cup of coffee"),
                     ("chelsea", "cat")):
        cases.append(SampleCase(f"Photo (non-medical): {desc}", f"scikit-image sample photograph ({desc}); a "
                                "non-medical input the gates must refuse.", KIND_PHOTO, _skimage_photo(fn), False,
                                f"scikit-image: skimage.data.{fn}()"))
    return cases


def get_sample_case(name: str) -> SampleCase:
    """The case called ``name``; KeyError lists the available names."""
    for case in list_sample_cases():
        if case.name == name:
            return case
    raise KeyError(f"no sample case {name!r}; available: {[c.name for c in list_sample_cases()]}")
