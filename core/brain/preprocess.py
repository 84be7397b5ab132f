"""Brain-specific preprocessing as pure functions: reorient, resample, N4, rough masks.

Each function takes and returns plain arrays (RAS+ volume + 4x4 affine) so that the
pipeline in :mod:`core.brain.pipeline` can record every step in the scan history.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from core.types import RejectedInput, Scan

# Tissue for the rough brain mask: above this fraction of the head's Otsu level. 0.8 dropped
# grey matter where GM/WM contrast is high (phantoms: GM/WM 0.55) and left a white-matter core
# that made the first affine ill-conditioned (phantom scales 0.42-0.70); 0.6 keeps the cortex
# (core/brain/README.md, "Investigated 2026-12-04").
ROUGH_MASK_OTSU_FRACTION = 0.6


class NotAVolumeError(RejectedInput):
    """The input is a 2D image; brain volumetry needs a 3D volume."""


class NoBrainFoundError(RejectedInput):
    """No plausible brain was found in the volume (other anatomy, blank or noise)."""


def volume_from_scan(scan: Scan, min_slices: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Return the scan as one RAS+ (closest canonical) float32 volume and its affine.

    Multi-channel volumes are averaged. Raises NotAVolumeError for 2D images or volumes
    with too few slices along any axis.
    """
    import nibabel as nib

    arr = np.asarray(scan.array)
    if arr.ndim != 4:
        raise NotAVolumeError(f"Brain volumetry needs a 3D volume; this input has array shape {arr.shape}.")
    vol = arr.mean(axis=0) if arr.shape[0] > 1 else arr[0]
    if scan.is_2d or min(vol.shape) < min_slices:
        raise NotAVolumeError(
            "Brain volumetry needs a 3D T1 volume (NIfTI or a DICOM series); this input is a 2D image "
            f"or has too few slices (shape {tuple(vol.shape)})."
        )
    affine = np.asarray(scan.affine, dtype=float)
    if nib.aff2axcodes(affine) != ("R", "A", "S"):
        img = nib.as_closest_canonical(nib.Nifti1Image(vol, affine))
        vol, affine = np.asarray(img.dataobj), img.affine
    vol = np.nan_to_num(np.asarray(vol, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    return vol, affine


def needs_resampling(spacing_mm: tuple[float, ...], target_mm: float, tolerance: float = 0.2) -> bool:
    """True when any voxel side differs from ``target_mm`` by more than ``tolerance`` (relative)."""
    return any(abs(s - target_mm) > tolerance * target_mm for s in spacing_mm)


def resample_isotropic(vol: np.ndarray, affine: np.ndarray, spacing_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Linear resampling to isotropic ``spacing_mm`` voxels covering the same field of view."""
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    new_shape = np.maximum(1, np.round(np.array(vol.shape) * spacing / spacing_mm)).astype(int)
    zoom = (np.array(vol.shape) - 1) / np.maximum(new_shape - 1, 1)
    out = ndimage.affine_transform(vol, np.diag(zoom), output_shape=tuple(new_shape), order=1, mode="nearest")
    new_affine = affine.copy()
    new_affine[:3, :3] = affine[:3, :3] @ np.diag(zoom)
    return out.astype(np.float32), new_affine


def downsample(vol: np.ndarray, affine: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Block-average by an integer factor (fast low-resolution copy for masks and affine)."""
    if factor <= 1:
        return vol, affine
    sx, sy, sz = (s // factor * factor for s in vol.shape)
    v = vol[:sx, :sy, :sz].reshape(sx // factor, factor, sy // factor, factor, sz // factor, factor).mean(axis=(1, 3, 5))
    a = affine.copy()
    a[:3, :3] = affine[:3, :3] * factor
    # Centre of the first block, not the first voxel.
    a[:3, 3] = affine[:3, :3] @ np.full(3, (factor - 1) / 2.0) + affine[:3, 3]
    return v.astype(np.float32), a


def normalise_intensity(vol: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Scale so the 99.5th percentile of foreground voxels is 1 (robust to outliers)."""
    ref = vol[mask] if mask is not None and mask.any() else vol[vol > 0]
    if ref.size == 0:
        return vol.astype(np.float32)
    hi = float(np.percentile(ref, 99.5))
    return (vol / hi).astype(np.float32) if hi > 0 else vol.astype(np.float32)


def head_mask(vol: np.ndarray) -> np.ndarray:
    """Foreground (head) mask: Otsu threshold on a smoothed copy, largest component, holes filled."""
    from skimage.filters import threshold_otsu

    sm = ndimage.gaussian_filter(vol, 1.0)
    fg = sm[sm > 0]
    if fg.size < 100 or float(fg.max()) <= float(fg.min()):
        return np.zeros(vol.shape, dtype=bool)
    thr = threshold_otsu(fg)
    m = sm > 0.5 * thr
    lab, n = ndimage.label(m)
    if n == 0:
        return m
    sizes = ndimage.sum(m, lab, index=np.arange(1, n + 1))
    m = lab == (int(np.argmax(sizes)) + 1)
    m = ndimage.binary_closing(m, iterations=2)
    # Fill holes slice by slice as well: dark CSF/bone can leave gaps open to the outside
    # through the foramen magnum that a 3D fill would miss.
    m = ndimage.binary_fill_holes(m)
    filled = np.stack([ndimage.binary_fill_holes(m[:, :, k]) for k in range(m.shape[2])], axis=2)
    return filled


# The brain mask behind the intracranial affine: the rough mask's core grown through tissue
# above half the Otsu level for up to 16 mm and closed with a 6 mm ball. The rough mask (core
# dilated back 5 mm) covers only 54-78 % of a phantom's brain tissue, because grey matter lies
# below 0.6 x Otsu, so an affine fitted to it is short by up to 15 % where the core is small;
# the grown mask covers 89-98 % (core/brain/README.md, 2026-12-08). The hippocampal path keeps
# the rough-mask affine: a larger affine scale needs more compression than the box SyN gives.
GROWN_MASK_OTSU_FRACTION = 0.5
GROWN_MASK_REACH_MM = 16.0
GROWN_MASK_CLOSING_MM = 6.0


def brain_masks(vol: np.ndarray, head: np.ndarray, spacing_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Rough and grown brain masks on a low-resolution copy, from one eroded core of bright tissue.

    Bright-tissue voxels inside the head (above :data:`ROUGH_MASK_OTSU_FRACTION` x Otsu) are
    eroded ~5 mm to cut the bridges to scalp and skull, and the largest piece is kept. The
    rough mask (restricts the first affine) is that core dilated back; the grown mask
    (restricts the intracranial affine) is the core grown through grey and white matter
    (``GROWN_MASK_*``), closed and filled. Both are only rough starts.

    Args:
        vol: low-resolution head volume.
        head: its head mask.
        spacing_mm: voxel size of ``vol`` (isotropic).

    Returns:
        (rough, grown), both inside ``head``. Without a core: the bright tissue and the head.
    """
    from skimage.filters import threshold_otsu
    from skimage.morphology import ball

    if not head.any():
        return head, head
    thr = float(threshold_otsu(vol[head]))
    tissue = head & (vol > ROUGH_MASK_OTSU_FRACTION * thr)
    it = max(1, int(round(5.0 / spacing_mm)))
    core = ndimage.binary_erosion(tissue, iterations=it)
    lab, n = ndimage.label(core)
    if n == 0:
        return tissue, head
    sizes = ndimage.sum(core, lab, index=np.arange(1, n + 1))
    core = lab == (int(np.argmax(sizes)) + 1)
    rough = ndimage.binary_fill_holes(ndimage.binary_dilation(core, iterations=it) & head)
    allowed = head & (vol > GROWN_MASK_OTSU_FRACTION * thr)
    grown = ndimage.binary_dilation(core, iterations=int(round(GROWN_MASK_REACH_MM / spacing_mm)), mask=allowed)
    grown = ndimage.binary_closing(grown, structure=ball(int(round(GROWN_MASK_CLOSING_MM / spacing_mm))))
    return rough, ndimage.binary_fill_holes(grown) & head


def n4_bias_correct(vol: np.ndarray, mask: np.ndarray, spacing_mm: tuple[float, float, float], shrink: int = 4) -> np.ndarray:
    """SimpleITK N4 bias-field correction estimated at ``shrink``-times lower resolution.

    BRAIN-NOTES.md: SimpleITK N4 at shrink 4 took 2-6 s on a 1 mm head, ANTsPy's ~20 s.
    The log bias field is evaluated on the full grid and divided out.
    """
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(np.ascontiguousarray(vol.transpose(2, 1, 0)).astype(np.float32))
    img.SetSpacing(tuple(float(s) for s in spacing_mm))
    msk = sitk.GetImageFromArray(np.ascontiguousarray(mask.transpose(2, 1, 0)).astype(np.uint8))
    msk.CopyInformation(img)
    small = sitk.Shrink(img, [shrink] * 3)
    small_mask = sitk.Shrink(msk, [shrink] * 3)
    f = sitk.N4BiasFieldCorrectionImageFilter()
    f.SetMaximumNumberOfIterations([30, 30, 20])
    f.SetNumberOfThreads(2)
    f.Execute(sitk.Cast(small, sitk.sitkFloat32) + 1e-3, small_mask)
    log_bias = f.GetLogBiasFieldAsImage(img)
    bias = np.exp(sitk.GetArrayFromImage(log_bias).transpose(2, 1, 0))
    return (vol / bias).astype(np.float32)
