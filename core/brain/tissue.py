"""Tissue intensities from anatomy, GM/WM/CSF segmentation and intensity-gated ROIs.

../shared/BRAIN-NOTES.md: 1-D Gaussian mixtures on intensities were unstable (merged GM and
WM on some runs, biased on pre-normalised input); estimating the tissue intensities from
anatomy was stable: CSF from the eroded warped ventricle prior, WM from the main
brain-histogram peak, GM from the eroded warped hippocampus. Gating the warped atlas
hippocampus by the GM intensity band and the ventricles by CSF intensity inside the dilated
prior (keeping parts connected to it) brought volumes within ~10 % of FreeSurfer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.signal import find_peaks


MIN_WM_CSF_CONTRAST = 0.25


@dataclass(frozen=True)
class TissueIntensities:
    """Representative T1 intensities (bias-corrected image units) and the class thresholds.

    ``csf_gm`` and ``gm_wm`` are the midpoints between neighbouring tissue intensities; a
    midpoint threshold splits a partial-volume voxel by its majority tissue, so volumes are
    unbiased along boundaries.
    """

    csf: float
    gm: float
    wm: float

    @property
    def csf_gm(self) -> float:
        return 0.5 * (self.csf + self.gm)

    @property
    def gm_wm(self) -> float:
        return 0.5 * (self.gm + self.wm)

    @property
    def contrast_ok(self) -> bool:
        """True when the intensities are ordered CSF < GM < WM with usable gaps (T1 contrast).

        Intensities are in units where the 99.5th percentile of the head is 1. Real T1s and
        phantoms gave WM - CSF of 0.5-0.6; a uniform blob gave 0.01.
        """
        span = self.wm - self.csf
        return span > MIN_WM_CSF_CONTRAST and (self.gm - self.csf) > 0.15 * span and (self.wm - self.gm) > 0.08 * span


def _eroded(mask: np.ndarray, iterations: int) -> np.ndarray:
    er = ndimage.binary_erosion(mask, iterations=iterations)
    return er if er.sum() >= 20 else mask


# A histogram peak counts as a tissue class when it is at least this fraction of the tallest peak.
WM_PEAK_MIN_RELATIVE_HEIGHT = 0.1


def wm_peak(image: np.ndarray, brain: np.ndarray) -> float:
    """Intensity of the brightest large peak of the brain histogram: white matter in T1.

    Peaks are local maxima of the smoothed histogram; small bright ones (vessels, fat, partial
    volume at the skull) are ignored by :data:`WM_PEAK_MIN_RELATIVE_HEIGHT`. (The earlier rule,
    the maximum above the median, took the upper flank of the grey-matter peak when a brain
    mask held more grey than white matter: phantom seed 12 under a second affine pass that was
    tried, WM read 0.46 against GM 0.49.)
    """
    vals = image[brain]
    hi = float(np.percentile(vals, 99.5))
    lo = float(np.percentile(vals, 0.5))
    hist, edges = np.histogram(vals, bins=200, range=(lo, hi))
    hist = ndimage.gaussian_filter1d(hist.astype(float), 2.0)
    centres = 0.5 * (edges[:-1] + edges[1:])
    # Zero-padded so a class piled against the upper end still counts as a peak.
    peaks, _ = find_peaks(np.concatenate([[0.0], hist, [0.0]]))
    peaks = peaks - 1
    large = peaks[hist[peaks] >= WM_PEAK_MIN_RELATIVE_HEIGHT * hist[peaks].max()]
    return float(centres[large.max()])


def estimate_intensities(image: np.ndarray, brain: np.ndarray, ventricle_prior: np.ndarray,
                         hippocampus_prior: np.ndarray, spacing_mm: float) -> TissueIntensities:
    """CSF/GM/WM intensities from the anatomy (see module docstring).

    Args:
        image: bias-corrected T1.
        brain: brain (intracranial) mask.
        ventricle_prior: warped lateral-ventricle prior (bool) on the same grid.
        hippocampus_prior: warped hippocampus (both sides, bool) on the same grid.
        spacing_mm: voxel size, for the erosion depth (~2 mm).
    """
    it = max(1, int(round(2.0 / spacing_mm)))
    wm = wm_peak(image, brain)
    vcore = _eroded(ventricle_prior, it)
    # The ventricle core is CSF only when the prior lies inside the ventricles; the darker
    # half of it is used so a misregistered rim of tissue does not lift the estimate.
    vvals = image[vcore]
    csf = float(np.median(vvals[vvals <= np.median(vvals)])) if vvals.size else float(np.percentile(image[brain], 2))
    hcore = _eroded(hippocampus_prior, it)
    hvals = image[hcore]
    # The eroded hippocampus can still touch WM or the temporal horn; the middle of its
    # intensity distribution is grey matter.
    gm = float(np.median(hvals[(hvals > np.percentile(hvals, 20)) & (hvals < np.percentile(hvals, 80))])) if hvals.size else 0.5 * (csf + wm)
    return TissueIntensities(csf=csf, gm=gm, wm=wm)


# Growth of the cavity beyond the warped template mask (mm): the template mask follows the
# brain surface, and with atrophy the CSF layer between brain and skull widens (phantoms:
# template mask -0.1 % of the ICV at atrophy 0, -4 to -7 % at 0.6, -15 % at 1.0).
# Six 1 mm phantoms, atrophy 0-1 (seeds 1-6, measured 2026-12-07): 8 mm +2.3 / -0.7 / +0.7 /
# -7.1 / -0.1 / +2.0 %, 9 mm +2.3 / +0.3 / +0.6 / -3.8 / +0.1 / +2.5 %, 10 mm -3.0 % (seed 4)
# to +3.0 % (seed 6); chris_t1 8 / 9 / 10 mm 1627.3 / 1628.3 / 1629.1 mL, but 12 mm 1661 mL
# (it reaches the orbits and ethmoid cells).
# The shell also sets the bone level (its 0.5th percentile): at atrophy 1.0 an 8 mm shell barely
# reaches the skull, so the level sits in noisy CSF and the growth threshold is too high.
ICV_GROW_MM = 9.0
# Growth voxels this close to bright extracranial tissue (marrow, scalp fat, muscle) are taken
# as skull: after partial-volume blur a 1.5-2 mm inner table next to bright diploe reads as
# dark as CSF, so intensity alone does not stop the growth there (phantoms: ICV +9 to +15 %
# without this rule, -0.7 to +2.3 % with it up to atrophy 0.6; see core/brain/README.md).
ICV_SKULL_MARGIN_MM = 2.0


def _connected_to(candidates: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The connected parts of ``candidates`` that hold at least one ``seeds`` voxel."""
    lab, _ = ndimage.label(candidates)
    keep = np.unique(lab[seeds & candidates])
    return np.isin(lab, keep[keep > 0])


# Where the affinely placed template mask reaches past the skull base (phantoms: ~100 mL under
# the middle and posterior fossae, as dark as CSF), bright marrow or fat inside its outer rim
# that is not part of the brain marks the skull. The rim depth and the depth that counts as
# "deep" brain were set once (2026-12-08) and not tuned: the skull is 5-7.5 mm thick, and 15 mm
# inside the mask lies white matter on every head.
MARROW_RIM_MM = 10.0
DEEP_BRAIN_MM = 15.0


def cut_beyond_marrow(template_mask: np.ndarray, smoothed: np.ndarray, ti: TissueIntensities, spacing_mm: float,
                      skull_margin_mm: float = ICV_SKULL_MARGIN_MM) -> np.ndarray:
    """The template mask without what lies beyond bright marrow or fat inside its outer rim.

    Bright voxels (above the CSF/GM midpoint) within :data:`MARROW_RIM_MM` of the mask's edge
    that are not connected to the deep brain are marrow, orbital fat or scalp the mask took in.
    Voxels within ``skull_margin_mm`` of them are cut (the inner table next to the marrow), and
    only the parts of the mask still connected to the brain are kept, so the bone and tissue
    beyond the marrow go with it.

    Args:
        template_mask: the warped template brain mask (bool).
        smoothed: the (lightly smoothed) image on the same grid.
        ti: tissue intensities.
        spacing_mm: isotropic voxel size.
        skull_margin_mm: how far from the marrow the cut reaches.

    Returns:
        The trimmed mask; unchanged when no marrow lies inside it.
    """
    depth = ndimage.distance_transform_edt(template_mask, sampling=spacing_mm)
    bright = smoothed >= ti.csf_gm
    lab, _ = ndimage.label(bright & template_mask)
    ids, counts = np.unique(lab[(depth > DEEP_BRAIN_MM) & (lab > 0)], return_counts=True)
    # The brain is the bright pieces holding the deep voxels (small specks do not count).
    brain = np.isin(lab, ids[counts >= 0.01 * counts.sum()]) if ids.size else np.zeros_like(template_mask)
    marrow = bright & template_mask & ~brain & (depth <= MARROW_RIM_MM)
    if not marrow.any() or not brain.any():
        return template_mask
    kept = template_mask & (ndimage.distance_transform_edt(~marrow, sampling=spacing_mm) > skull_margin_mm)
    return _connected_to(kept, brain)


def intracranial_mask(image: np.ndarray, template_mask: np.ndarray, ti: TissueIntensities,
                      spacing_mm: float, grow_mm: float = ICV_GROW_MM,
                      skull_margin_mm: float = ICV_SKULL_MARGIN_MM) -> tuple[np.ndarray, float, float]:
    """Intracranial cavity: the warped template brain mask plus CSF-like voxels out to the skull.

    The template mask carried by the registration follows the brain surface as well as the
    registration does; where the subject has a wider CSF layer than the template (atrophy,
    a head shaped unlike MNI) it stops short of the skull. It is therefore extended by at
    most ``grow_mm`` through voxels whose intensity lies between the bone level and the
    CSF/GM midpoint: in T1 cortical bone has (almost) no signal, CSF is dim but above it,
    and scalp, marrow and muscle are brighter than the midpoint. Growth voxels within
    ``skull_margin_mm`` of bright tissue more than 2 mm outside the template mask are left
    out: the inner table, blurred by its bright marrow, reads like CSF. Before growing, the
    template mask is cut back where it reaches past marrow (:func:`cut_beyond_marrow`). (A fully
    intensity-driven cavity leaked into the neck and the diploe on a real head; anchoring on
    the template mask keeps it in place.)

    Returns:
        (mask, bone_level, volume_voxels): the binary cavity, the intensity used for bone, and
        the cavity volume in voxels with partial-volume weighting at the CSF/bone border.
    """
    # Work in the bounding box of the search region only (the head is much smaller than the grid).
    r = int(np.ceil(grow_mm / spacing_mm)) + 2
    idx = np.argwhere(template_mask)
    if idx.size == 0:
        return template_mask.copy(), 0.0, 0.0
    lo = np.maximum(idx.min(0) - r, 0)
    # No growth below the template mask's lowest slice (RAS+: axis 2 is inferior->superior):
    # below the foramen magnum the spinal canal and neck hold CSF-like voxels that are not
    # intracranial.
    lo[2] = idx.min(0)[2]
    hi = np.minimum(idx.max(0) + r + 1, template_mask.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
    sm = ndimage.gaussian_filter(image[box], 0.7)
    base = cut_beyond_marrow(template_mask[box], sm, ti, spacing_mm, skull_margin_mm)
    dist = ndimage.distance_transform_edt(~base, sampling=spacing_mm)
    shell = (dist > 0) & (dist <= grow_mm)
    vals = sm[shell]
    bone = float(np.percentile(vals, 0.5)) if vals.size else 0.0
    thr = 0.5 * (bone + ti.csf)
    grow = shell & (sm > thr) & (sm < ti.csf_gm)
    # Bright voxels well outside the template brain are extracranial (the cortex lies at the
    # template mask's edge, within 2 mm); dark voxels next to them are skull, not CSF.
    bright_outside = shell & (sm >= ti.csf_gm) & (dist > 2.0)
    if bright_outside.any():
        grow &= ndimage.distance_transform_edt(~bright_outside, sampling=spacing_mm) > skull_margin_mm
    icv_box = _fill_holes_2d3d(_connected_to(grow | base, base))
    # Partial volume at the CSF/bone border: a voxel's CSF fraction is read from its
    # intensity between the bone and CSF levels (brighter voxels, dura included, count 1).
    f = np.clip((sm - bone) / max(ti.csf - bone, 1e-6), 0.0, 1.0)
    grown = icv_box & ~base
    outer = ndimage.binary_dilation(icv_box) & ~icv_box & (sm <= thr)  # dark voxels just outside: part CSF
    volume_voxels = float(base.sum() + np.where(sm[grown] < ti.csf, f[grown], 1.0).sum() + f[outer].sum())
    icv = np.zeros(template_mask.shape, dtype=bool)
    icv[box] = icv_box
    return icv, bone, volume_voxels


def _largest(mask: np.ndarray) -> np.ndarray:
    lab, n = ndimage.label(mask)
    if n <= 1:
        return mask
    sizes = ndimage.sum(mask, lab, index=np.arange(1, n + 1))
    return lab == (int(np.argmax(sizes)) + 1)


def _fill_holes_2d3d(mask: np.ndarray) -> np.ndarray:
    m = ndimage.binary_fill_holes(mask)
    return np.stack([ndimage.binary_fill_holes(m[:, :, k]) for k in range(m.shape[2])], axis=2)


@dataclass(frozen=True)
class Segmentation:
    """Hard GM/WM/CSF classes inside the intracranial mask (bool arrays, same grid)."""

    gm: np.ndarray
    wm: np.ndarray
    csf: np.ndarray


def segment(image: np.ndarray, icv: np.ndarray, ti: TissueIntensities) -> Segmentation:
    """Midpoint-threshold classification of intracranial voxels (light smoothing against noise)."""
    sm = ndimage.gaussian_filter(image, 0.5)
    csf = icv & (sm < ti.csf_gm)
    wm = icv & (sm >= ti.gm_wm)
    gm = icv & ~csf & ~wm
    return Segmentation(gm=gm, wm=wm, csf=csf)


def gate_hippocampus(image: np.ndarray, prior_prob: np.ndarray, ti: TissueIntensities,
                     threshold: float = 0.5) -> np.ndarray:
    """Warped atlas hippocampus (probability >= threshold) kept where the intensity is GM-like.

    Holes (single dark/bright voxels from noise) are filled and only the largest
    connected piece is kept, so the mask stays one structure.
    """
    sm = ndimage.gaussian_filter(image, 0.5)
    m = (prior_prob >= threshold) & (sm >= ti.csf_gm) & (sm < ti.gm_wm)
    if not m.any():
        return m
    lab, n = ndimage.label(m)
    sizes = ndimage.sum(m, lab, index=np.arange(1, n + 1))
    m = lab == (int(np.argmax(sizes)) + 1)
    return ndimage.binary_fill_holes(m) & (prior_prob >= threshold)


# How far beyond the warped ventricle prior the ventricles may reach (mm). The prior comes from
# a young-adult template; larger ventricles extend past it at the frontal and occipital horn
# tips. Phantoms (FreeSurfer definition, atrophy 0 / 0.6): 6 mm -1.8 / -8.9 %, 10 mm +1.9 /
# +1.7 %, 12 mm about +6 % (it starts to take in partial-volume caudate and cisterns).
# The reach is in steps of 6-connected dilation, a city-block distance: 10 mm along the axes,
# 5.8 mm along the diagonals. A Euclidean ball of the same radius (about three times the
# volume) leaked into the interhemispheric fissure above the corpus callosum and into sulci by
# the frontal horn tips: six phantoms +0.6..+10.6 % (8 mm -6.7..+5.1 %, 12 mm up to +37 %;
# measured 2026-12-07).
VENTRICLE_SEARCH_MM = 10.0
# ... but not within this distance of the warped hippocampi (outside the prior itself).
# Phantoms, FreeSurfer definition, six subjects: +0.4..+7.4 % without it, -1.0..+4.8 % with
# it up to atrophy 0.6 (-5.7 -> -6.7 % at atrophy 1.0, where the enlarged horn tips reach
# past the search distance).
VENTRICLE_HIPPOCAMPUS_MARGIN_MM = 5.0


def ventricle_search_allowed(above_floor: np.ndarray, hippocampus: np.ndarray, spacing_mm: float,
                             margin_mm: float = VENTRICLE_HIPPOCAMPUS_MARGIN_MM) -> np.ndarray:
    """Where the ventricle search may go: above the prior's floor and away from the hippocampi.

    CSF beside the hippocampus outside the ventricle prior is hippocampal fissure, ambient
    cistern or temporal horn, not FreeSurfer's Lateral-Ventricle; it often touches the atrium,
    so connectivity alone would take it in. The margin is ``margin_mm`` of 6-connected
    dilation steps.
    """
    steps = max(1, int(round(margin_mm / spacing_mm)))
    return above_floor & ~ndimage.binary_dilation(hippocampus, iterations=steps)


# Enlarged ventricles beyond the search: the share of the found ventricles' surface that the
# search limit cuts with CSF going on beyond it. Above this, the ventricles are wider than the
# prior + 10 mm along their length and the volume is less reliable (the pipeline warns). Phantoms
# (2026-12-08): 0.099 and 0.167 at atrophy 1.0 (development seed 4 / validation seed 21:
# ventricles -6.7 / -8.4 %), 0.020-0.068 on fourteen others. Searching three steps further
# above it read those two +1.8 / +2.0 %, but seed 16 (atrophy 0.9) +12.0 -> +25.3 %: the
# enlarged ventricles there touch cisterns and fissures; not kept (core/brain/README.md).
VENTRICLE_TRUNCATED_FRACTION = 0.08


@dataclass(frozen=True)
class VentricleGate:
    """The ventricle mask and how the search ended.

    Attributes:
        mask: lateral ventricles (bool).
        truncated_fraction: share of the found ventricles' surface that the search limit cut
            with CSF going on beyond it (above VENTRICLE_TRUNCATED_FRACTION: less reliable).
    """

    mask: np.ndarray
    truncated_fraction: float

    @property
    def truncated(self) -> bool:
        """True when the ventricles reach past the search broadly (their volume is less reliable)."""
        return self.truncated_fraction > VENTRICLE_TRUNCATED_FRACTION


def gate_ventricles(image: np.ndarray, prior_prob: np.ndarray, ti: TissueIntensities, icv: np.ndarray,
                    spacing_mm: float, dilate_mm: float = VENTRICLE_SEARCH_MM,
                    allowed: np.ndarray | None = None) -> VentricleGate:
    """Lateral ventricles: CSF-intensity voxels inside the dilated prior, connected to its core.

    Enlarged ventricles grow beyond the template prior, so the search region is the prior
    dilated by ``dilate_mm``; only components touching the prior's CSF voxels are kept,
    which leaves out sulcal CSF that the dilation reaches. ``allowed`` (same grid) limits the
    region further: the pipeline passes the warped space above the prior's floor, so the
    dilation does not follow the temporal horns down (FreeSurfer's separate Inf-Lat-Vent).
    How much of the result the search limit cut is measured (VENTRICLE_TRUNCATED_FRACTION).
    """
    sm = ndimage.gaussian_filter(image, 0.5)
    prior = prior_prob >= 0.5
    it = max(1, int(round(dilate_mm / spacing_mm)))
    reachable = icv if allowed is None else icv & (allowed | prior)
    region = ndimage.binary_dilation(prior, iterations=it) & reachable
    dark = sm < ti.csf_gm
    seeds = dark & prior & region
    if not seeds.any():
        return VentricleGate(np.zeros(image.shape, bool), 0.0)
    core = _connected_to(dark & region, seeds)
    cut = core & ndimage.binary_dilation(dark & reachable & ~region)
    surface = core & ~ndimage.binary_erosion(core)
    truncated = float(cut.sum()) / max(1, int(surface.sum()))
    # Partial-volume rim: most of the ventricle wall is white matter, where the unbiased
    # threshold is the CSF/WM midpoint, not the CSF/GM one used above (which shrank the
    # ventricles by a fraction of a voxel all round, ~10-15 % of their volume). One voxel of
    # rim below the CSF/WM midpoint is added; grey-matter walls (caudate) stay above it.
    rim = ndimage.binary_dilation(core) & ~core & region & (sm < 0.5 * (ti.csf + ti.wm))
    return VentricleGate(core | rim, truncated)
