"""Real images that install with registry packages, used to make the learned gate less phantom-bound.

* pydicom-data test files (``pydicom.data.get_testdata_file``): a chest CR, an extremity CR,
  MR of the shoulder and abdomen, CT of head, neck and abdomen, an ultrasound frame.
* nilearn's MNI152 T1 template (an average brain MRI, skull-stripped), sliced in every plane.

None of them is from ../shared/samples (those are for evaluation only). Each call returns a
randomly cropped, rotated and re-windowed view, so one film yields many training images.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage
from skimage.transform import resize

#: pydicom-data file -> (kind, body part)
PYDICOM_FILES: dict[str, tuple[str, str]] = {
    "RG1_UNCI.dcm": ("xray", "chest"),
    "RG3_UNCR.dcm": ("xray", "other"),
    "MR2_UNCR.dcm": ("mri", "other"),
    "MR-SIEMENS-DICOM-WithOverlays.dcm": ("mri", "other"),
    "J2K_pixelrep_mismatch.dcm": ("ct", "brain"),
    "693_J2KI.dcm": ("ct", "brain"),
    "bad_sequence.dcm": ("ct", "other"),
    "explicit_VR-UN.dcm": ("ct", "other"),
    "CT_small.dcm": ("ct", "other"),
    "examples_rgb_color.dcm": ("other", "other"),
}


@lru_cache(maxsize=16)
def _pydicom_view(name: str) -> np.ndarray:
    from pydicom.data import get_testdata_file

    from core.gates.views import gate_views
    from core.io import load_scan

    view = gate_views(load_scan(get_testdata_file(name)))[0]
    lo, hi = np.percentile(view, [0.5, 99.5])
    out = np.clip((view - lo) / max(hi - lo, 1e-6), 0, 1).astype(np.float32)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=1)
def _mni() -> np.ndarray:
    from nilearn.datasets import load_mni152_template

    vol = np.asarray(load_mni152_template(resolution=1).dataobj, dtype=np.float32)
    vol = vol / max(float(vol.max()), 1e-6)
    vol.setflags(write=False)
    return vol


def _jitter(img: np.ndarray, rng: np.random.Generator, size: int, min_scale: float = 0.55) -> np.ndarray:
    h, w = img.shape[:2]
    scale = rng.uniform(min_scale, 1.0)
    ch, cw = max(8, int(h * scale)), max(8, int(w * scale * rng.uniform(0.85, 1.15)))
    ch, cw = min(ch, h), min(cw, w)
    r0, c0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = img[r0:r0 + ch, c0:c0 + cw]
    if rng.random() < 0.5:
        crop = ndimage.rotate(crop, rng.uniform(-12, 12), reshape=False, order=1, mode="constant")
    out = resize(crop, (size, size), order=1, anti_aliasing=True)
    lo, hi = np.percentile(out, [rng.uniform(0, 5), rng.uniform(95, 100)])
    return np.clip((out - lo) / max(hi - lo, 1e-6), 0, 1).astype(np.float32)


def pydicom_images(kind: str, body_part: str, seed: int, size: int) -> list[np.ndarray]:
    """One jittered view of a random pydicom-data file of this kind and body part."""
    rng = np.random.default_rng(seed)
    names = [n for n, lab in PYDICOM_FILES.items() if lab == (kind, body_part)]
    return [_jitter(_pydicom_view(str(rng.choice(names))), rng, size)]


def mni_slices(seed: int, size: int, n: int = 4) -> list[np.ndarray]:
    """``n`` MNI152 T1 slices (axial, coronal, sagittal at random levels), optionally with a skull ring."""
    rng = np.random.default_rng(seed)
    vol = _mni()
    out = []
    for _ in range(n):
        axis = int(rng.choice([2, 2, 1, 0]))
        idx = int(rng.uniform(0.3, 0.75) * vol.shape[axis])
        sl = np.flipud(np.take(vol, idx, axis=axis).T)
        if rng.random() < 0.6:  # add scalp and skull around the brain (the template is skull-stripped)
            brain = ndimage.binary_fill_holes(sl > 0.05)
            ring_in = ndimage.binary_dilation(brain, iterations=int(rng.integers(3, 7)))
            ring_out = ndimage.binary_dilation(ring_in, iterations=int(rng.integers(4, 9)))
            skull = ring_in & ~brain
            scalp = ring_out & ~ring_in
            sl = sl.copy()
            sl[skull] = rng.uniform(0.0, 0.15)
            sl[scalp] = rng.uniform(0.6, 1.0)
            sl = ndimage.gaussian_filter(sl, 0.7)
        sl = np.pad(sl, int(rng.integers(0, 30)))
        out.append(_jitter(sl, rng, size, min_scale=0.8))
    return out


__all__ = ["PYDICOM_FILES", "pydicom_images", "mni_slices"]
