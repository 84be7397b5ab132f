"""``analyze(scan, age_years, sex)``: brain volumetry, norms, grades and staging for a T1 volume.

Steps (each timed and recorded in the history):
reorient (RAS+) -> resample (isotropic 1 mm when far from it) -> head + rough brain mask
(low resolution) -> SimpleITK N4 -> affine to the nilearn MNI152 template (metric in the
template brain, subject roughly skull-stripped) -> plausibility gate (ICV, similarity) ->
second affine for the intracranial volume (subject mask grown through grey matter) -> SyN
(CC) in the deep-brain box -> warp template brain mask, FreeSurfer hippocampi and the
ventricle prior -> tissue intensities from anatomy, GM/WM/CSF, intensity-gated ROIs ->
thickness -> norms -> grades -> rule stage + CNN stage.

Refusals raise :class:`core.types.RejectedInput` subclasses (``NotAVolumeError``,
``NoBrainFoundError``) whose ``str()`` is the message for the user; warnings (thick slices,
missing age, weak registration) go into ``report.qc``.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
from scipy import ndimage

from core.brain import grading, norms
from core.brain import preprocess as prep
from core.brain.preprocess import NoBrainFoundError, NotAVolumeError  # noqa: F401  (documented raises)
from core.brain.report import STAGE_LABELS, UNABLE, Biomarkers, BrainReport, Stage
from core.config import get_settings
from core.types import Check, QCReport, RejectedInput, Scan, Severity

_LOG = logging.getLogger(__name__)

WORKING_SPACING_MM = 1.0
LOWRES_MM = 2.0
ICV_RANGE_L = (0.8, 2.5)
# Normalised cross-correlation of the affinely registered subject with the template inside
# the (dilated) template brain. Measured: real head chris_t1 0.73, head phantoms 0.38-0.40
# (they get the weak-registration warning), knee-like limb 0.00, noise 0.09; a uniform ball
# scored 0.61 and is caught later by the SyN-similarity and tissue-contrast checks. Below the
# refusal value the input is not a head; between the two a warning is raised.
MIN_AFFINE_SIMILARITY = 0.30
WARN_AFFINE_SIMILARITY = 0.40
# Same measure after SyN inside the deep-brain box: 0.5 (phantoms) to 0.78 (real head); a
# uniform blob that passed the affine gate gave 0.17.
MIN_SYN_SIMILARITY = 0.30
BOX_MARGIN_MM = 10.0
# The intracranial affine (grown brain mask) is used only when it stays near the first one:
# its volume scale over the first's was 0.99-1.14 on 28 phantoms and 1.02 on chris_t1; far
# outside that, the grown mask has most likely taken in scalp or neck.
MAX_ICV_AFFINE_SCALE_RATIO = 1.3
# Iterations at shrink 4/2/1 of the 2 mm box (8, 4, 2 mm). The finest level took the
# atlas-shaped phantom hippocampi from Dice 0.87 to 0.90 (errors within -6.5..+8.9 %, six
# phantoms); more iterations (100/60/20), a larger step, less smoothing, CC radius 4, a
# 1.5 mm box or a second 1 mm SyN around the hippocampi did not do better.
SYN_ITERATIONS = (60, 30, 15)
SYN_BOX_SPACING_MM = 2.0


class _Timer:
    def __init__(self) -> None:
        self.t: dict[str, float] = {}
        self._t0 = time.perf_counter()
        self._last = self._t0

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.t[name] = round(self.t.get(name, 0.0) + now - self._last, 3)
        self._last = now

    def total(self) -> dict[str, float]:
        out = dict(self.t)
        out["total"] = round(time.perf_counter() - self._t0, 3)
        return out


def _upsample_mask(mask_low: np.ndarray, low_aff: np.ndarray, shape: tuple[int, ...], aff: np.ndarray) -> np.ndarray:
    m = np.linalg.inv(low_aff) @ aff
    out = ndimage.affine_transform(mask_low.astype(np.uint8), m[:3, :3], offset=m[:3, 3], output_shape=shape, order=0)
    return out.astype(bool)


def _template_box(rois, template_1mm, margin_mm: float = BOX_MARGIN_MM):
    """Voxel slices (1 mm template grid) of the deep-brain box around hippocampi + ventricles."""
    roi = rois.hippocampus_left | rois.hippocampus_right | rois.lateral_ventricles
    idx = np.argwhere(roi)
    m = int(margin_mm)
    lo = np.maximum(idx.min(0) - m, 0)
    hi = np.minimum(idx.max(0) + m + 1, roi.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))


def _subject_box(tpl_affine: np.ndarray, box: tuple[slice, ...], matrix_ras: np.ndarray, subj_affine: np.ndarray,
                 shape: tuple[int, ...], margin_mm: float) -> tuple[slice, ...]:
    corners = np.array([[s.start if b == 0 else s.stop - 1 for s, b in zip(box, bits)]
                        for bits in np.ndindex(2, 2, 2)], dtype=float)
    ras_t = corners @ tpl_affine[:3, :3].T + tpl_affine[:3, 3]
    ras_s = ras_t @ matrix_ras[:3, :3].T + matrix_ras[:3, 3]
    inv = np.linalg.inv(subj_affine)
    vox = ras_s @ inv[:3, :3].T + inv[:3, 3]
    sp = np.linalg.norm(subj_affine[:3, :3], axis=0)
    pad = np.ceil(margin_mm / sp).astype(int)
    lo = np.maximum(np.floor(vox.min(0)).astype(int) - pad, 0)
    hi = np.minimum(np.ceil(vox.max(0)).astype(int) + pad + 1, shape)
    if np.any(hi <= lo):
        raise NoBrainFoundError("The deep-brain region maps outside the image: the field of view does not hold a brain.")
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))


def _crop_affine(affine: np.ndarray, sl: tuple[slice, ...]) -> np.ndarray:
    a = affine.copy()
    a[:3, 3] = affine[:3, :3] @ np.array([s.start for s in sl], dtype=float) + affine[:3, 3]
    return a


def _unavailable(reason: str) -> Stage:
    return Stage(label=UNABLE, probabilities={}, status="unavailable", source="cnn", reasons=(reason,))


def _run_cnn(scan: Scan) -> tuple[Stage, object]:
    """The Alzheimer's CNN task, or an 'unavailable' stage saying why it could not run."""
    try:
        from core.tasks import get_task

        task = get_task("alzheimers")
        res = task(scan)
    except RejectedInput as exc:
        return _unavailable(f"The Alzheimer's CNN refused this input: {exc}"), None
    except (KeyError, ImportError, FileNotFoundError) as exc:
        return _unavailable(f"The Alzheimer's CNN is not available: {exc}"), None
    except Exception as exc:  # noqa: BLE001 - isolate the optional CNN; logged and shown, not swallowed
        # Volumetry must not be lost because the optional CNN failed (ModelUnavailable, or a
        # bug there): the traceback goes to the log and the message is shown as the reason.
        # core.models.loading.ModelUnavailable is matched by name so that a broken import chain
        # of the CNN cannot break this handler too.
        if type(exc).__name__ == "ModelUnavailable":
            return _unavailable(f"The Alzheimer's CNN is not available: {exc}"), None
        _LOG.exception("Alzheimer's CNN failed")
        return _unavailable(f"The Alzheimer's CNN failed ({type(exc).__name__}: {exc}); see the logs."), None
    probs = {str(lab): float(p) for lab, p in zip(res.labels, res.probabilities)}
    if not probs:
        return Stage(label=UNABLE, probabilities={}, status="unavailable", source="cnn",
                     reasons=tuple(res.reasons) or ("The Alzheimer's CNN returned no probabilities.",)), res
    if res.status == "ok" and res.prediction:
        return Stage(label=str(res.prediction), probabilities=probs, status="ok", source="cnn",
                     confidence=res.confidence, reasons=tuple(res.reasons)), res
    return Stage(label=UNABLE, probabilities=probs, status="unable_to_determine", source="cnn",
                 confidence=res.confidence, reasons=tuple(res.reasons) or ("Below the CNN's confidence threshold.",)), res


def _combine(rule: Stage, cnn: Stage, threshold: float) -> tuple[Stage, bool | None]:
    """Average the two methods' probabilities (equal weights) when both have them."""
    have_rule = bool(rule.probabilities)
    have_cnn = bool(cnn.probabilities) and cnn.status != "unavailable"
    agreement = None
    if rule.status == "ok" and cnn.status == "ok":
        agreement = rule.label == cnn.label
    if have_rule and have_cnn:
        probs = {lab: 0.5 * (rule.probabilities.get(lab, 0.0) + cnn.probabilities.get(lab, 0.0)) for lab in STAGE_LABELS}
        src, why = "combined", "Mean of the biomarker rule's and the CNN's class probabilities (equal weights)."
    elif have_rule:
        probs, src, why = dict(rule.probabilities), "rule", "Biomarker rule only (CNN unavailable)."
    elif have_cnn:
        probs, src, why = dict(cnn.probabilities), "cnn", "CNN only (biomarker rule needs age and sex)."
    else:
        return Stage(label=UNABLE, probabilities={}, status="unable_to_determine", source="combined",
                     reasons=rule.reasons + cnn.reasons), agreement
    top_label = max(STAGE_LABELS, key=lambda k: probs.get(k, 0.0))
    top = float(probs.get(top_label, 0.0))
    if top >= threshold:
        return Stage(label=top_label, probabilities=probs, status="ok", source=src, reasons=(why,), confidence=top), agreement
    return Stage(label=UNABLE, probabilities=probs, status="unable_to_determine", source=src, confidence=top,
                 reasons=(why, f"Top probability {top:.2f} is below the threshold {threshold:.2f}.")), agreement


def analyze(scan: Scan, age_years: float | None = None, sex: str | None = None, *, run_cnn: bool = True) -> BrainReport:
    """Brain volumetry of a T1 volume against published norms, with grades and staging.

    Args:
        scan: a 3D T1-weighted head volume (any orientation; RAS+ from core.io).
        age_years: age in years; without it (or sex) percentiles are unavailable.
        sex: "F"/"M" (female/male accepted).
        run_cnn: also run the Alzheimer's CNN task (``get_task("alzheimers")``). That task must
            not call ``analyze`` with ``run_cnn=True`` itself.

    Returns:
        A :class:`BrainReport`.

    Raises:
        NotAVolumeError: a 2D image or too few slices.
        NoBrainFoundError: blank/noise volume or anatomy that does not register as a head.
    """
    from core.brain import register as reg

    with reg.workspace():
        return _analyze(scan, age_years, sex, run_cnn=run_cnn)


def warm_up() -> None:
    """Load what every analysis needs once per process: ANTsPy, the MNI templates and the atlas.

    About 5 s on the 2-core machine (the ``templates`` step of the first analysis). The app calls it
    while the Brain MRI page waits for a scan, so the first analysis does not pay it; it is cached,
    so calling it again costs nothing.
    """
    from core.brain import register as reg  # noqa: F401  (imports ANTsPy)
    from core.brain.atlas import template_rois
    from core.mni import load_template

    load_template(2)
    load_template(1)
    template_rois()


def _analyze(scan: Scan, age_years: float | None, sex: str | None, *, run_cnn: bool) -> BrainReport:
    from core.brain import register as reg
    from core.brain.atlas import template_rois
    from core.mni import load_template
    from core.brain import tissue as tis
    from core.brain.thickness import cortical_thickness_mm

    settings = get_settings()
    timer = _Timer()
    history: list[str] = list(scan.history)
    checks: list[Check] = []

    # --- input -------------------------------------------------------------------------------
    vol, affine = prep.volume_from_scan(scan)
    orig_spacing = tuple(float(s) for s in np.linalg.norm(affine[:3, :3], axis=0))
    history.append("brain: reoriented to RAS+ (closest canonical)")
    if max(orig_spacing) >= settings.thick_slice_warning_mm:
        checks.append(Check("thick_slices", False, Severity.WARNING,
                            f"Voxel size {max(orig_spacing):.1f} mm >= {settings.thick_slice_warning_mm:g} mm (thick slices): "
                            "volumes have lower reliability.", value=max(orig_spacing)))
    if float(vol.max()) <= float(vol.min()) or np.count_nonzero(vol > vol.min()) < 0.01 * vol.size:
        raise NoBrainFoundError("The volume is blank (no signal): no brain to measure.")
    if prep.needs_resampling(orig_spacing, WORKING_SPACING_MM):
        vol, affine = prep.resample_isotropic(vol, affine, WORKING_SPACING_MM)
        history.append(f"brain: resampled to {WORKING_SPACING_MM:g} mm isotropic (linear)")
    spacing = tuple(float(s) for s in np.linalg.norm(affine[:3, :3], axis=0))
    voxel_ml = float(np.prod(spacing)) / 1000.0
    timer.lap("reorient_resample")

    # --- masks and bias correction ----------------------------------------------------------
    factor = max(1, int(round(LOWRES_MM / spacing[0])))
    low, low_aff = prep.downsample(vol, affine, factor)
    low_sp = float(np.linalg.norm(low_aff[:3, 0]))
    head_low = prep.head_mask(low)
    if head_low.sum() * low_sp ** 3 / 1e6 < 0.3:
        raise NoBrainFoundError("No head-sized object was found in the volume (foreground under 0.3 L).")
    brain_low, brain_grown_low = prep.brain_masks(low, head_low, low_sp)
    head = _upsample_mask(head_low, low_aff, vol.shape, affine)
    timer.lap("rough_masks")
    n4 = prep.n4_bias_correct(vol, head, spacing, shrink=4)
    n4 = prep.normalise_intensity(n4, head)
    history.append("brain: SimpleITK N4 bias-field correction (shrink 4, head mask)")
    timer.lap("n4")

    # --- affine registration ----------------------------------------------------------------
    tpl2 = load_template(2)
    tpl1 = load_template(1)
    rois = template_rois()
    timer.lap("templates")
    t_img = reg.to_ants(tpl2.t1, tpl2.affine)
    n4_low, _ = prep.downsample(n4, affine, factor)
    # Metric inside the template brain dilated by 4 mm so the brain's outer edge (dark CSF
    # and bone beyond it) takes part; the subject is roughly skull-stripped so scalp fat
    # cannot pull the fit outward.
    t_mask = reg.to_ants(ndimage.binary_dilation(tpl2.brain_mask, iterations=2).astype(np.float32), tpl2.affine)
    aff = reg.affine_register(reg.to_ants(n4_low * brain_low, low_aff), t_img, t_mask)
    tmask1 = reg.to_ants(tpl1.brain_mask.astype(np.float32), tpl1.affine)
    history.append("brain: affine registration to MNI152 (nilearn 2009c template, ANTs global correlation)")
    timer.lap("affine")

    icv_affine_l = aff.scale * float(tpl1.brain_mask.sum()) * tpl1.voxel_ml / 1000.0
    if aff.similarity < MIN_AFFINE_SIMILARITY or not (ICV_RANGE_L[0] <= icv_affine_l <= ICV_RANGE_L[1]):
        raise NoBrainFoundError(
            "No brain was found: the volume does not register to a brain template "
            f"(similarity {aff.similarity:.2f}, implied intracranial volume {icv_affine_l:.2f} L; "
            f"a head gives >= {MIN_AFFINE_SIMILARITY:.2f} and {ICV_RANGE_L[0]}-{ICV_RANGE_L[1]} L). "
            "Upload a T1-weighted head MRI volume."
        )
    if aff.similarity < WARN_AFFINE_SIMILARITY:
        checks.append(Check("registration_quality", False, Severity.WARNING,
                            f"Registration to the brain template is weak (similarity {aff.similarity:.2f}): check the overlays.",
                            value=round(aff.similarity, 3)))

    # A second affine, for the intracranial volume only, with the subject's grey matter in the
    # mask (prep.GROWN_MASK_*): the first one fits the white-matter core and can leave the
    # template brain short of the skull (phantoms: ICV -11 %).
    aff_icv = reg.affine_register(reg.to_ants(n4_low * brain_grown_low, low_aff), t_img, t_mask)
    icv_affine_ok, icv_affine_why = icv_affine_usable(aff.scale, aff_icv.scale, aff_icv.similarity)
    if icv_affine_ok:
        history.append("brain: second affine for the intracranial volume (subject mask grown through grey matter)")
    else:
        history.append(f"brain: second affine for the intracranial volume not used ({icv_affine_why})")
        checks.append(Check("icv_affine", False, Severity.WARNING,
                            f"The intracranial volume uses the first registration only ({icv_affine_why}); "
                            "it may read low where the template brain stops short of the skull.",
                            value=round(aff_icv.scale / aff.scale, 3)))
    timer.lap("icv_affine")

    # --- deformable registration in the deep-brain box ---------------------------------------
    tbox = _template_box(rois, tpl1)
    box_img, box_aff = tpl1.t1[tbox], _crop_affine(tpl1.affine, tbox)
    if SYN_BOX_SPACING_MM != 1.0:
        box_img, box_aff = prep.resample_isotropic(box_img, box_aff, SYN_BOX_SPACING_MM)
    subj = reg.to_ants(n4, affine)
    syn = reg.syn_register_box(subj, reg.to_ants(box_img, box_aff), aff, iterations=SYN_ITERATIONS)
    history.append(f"brain: SyN (CC, radius 2) in the deep-brain box, {SYN_BOX_SPACING_MM:g} mm")
    if syn.similarity < MIN_SYN_SIMILARITY:
        raise NoBrainFoundError(
            "No brain was found: the deep brain structures (ventricles, hippocampi) do not match the template "
            f"(similarity {syn.similarity:.2f}; heads give >= {MIN_SYN_SIMILARITY:.2f}). Upload a T1-weighted head MRI volume.")
    timer.lap("syn")

    # --- warp template maps onto the subject --------------------------------------------------
    sbox = _subject_box(tpl1.affine, tbox, aff.matrix_ras, affine, vol.shape, BOX_MARGIN_MM)
    ref_box = reg.to_ants(n4[sbox], _crop_affine(affine, sbox))

    def warp_box(mask: np.ndarray) -> np.ndarray:
        img = reg.to_ants(mask.astype(np.float32), tpl1.affine)
        return reg.warp_to_subject(img, ref_box, syn.inverse_transforms, syn.whichtoinvert)

    p_hl = warp_box(rois.hippocampus_left)
    p_hr = warp_box(rois.hippocampus_right)
    p_lv = warp_box(rois.lateral_ventricles)
    above_floor = warp_box(rois.above_ventricle_floor) >= 0.5
    tmpl_brain = reg.warp_to_subject(tmask1, subj, syn.inverse_transforms, syn.whichtoinvert) >= 0.5
    icv_template = (reg.warp_to_subject(tmask1, subj, (aff_icv.transform_file,), (True,)) >= 0.5
                    if icv_affine_ok else tmpl_brain)
    history.append("brain: warped template brain mask, FreeSurfer aseg hippocampi (17/53), ventricle prior")
    timer.lap("warp")

    # --- tissues and ROIs ---------------------------------------------------------------------
    img_box = n4[sbox]
    hippocampi_prior = (p_hl >= 0.5) | (p_hr >= 0.5)
    ti = tis.estimate_intensities(n4, tmpl_brain, _embed(p_lv >= 0.5, sbox, vol.shape),
                                  _embed(hippocampi_prior, sbox, vol.shape), spacing[0])
    if not ti.contrast_ok:
        raise NoBrainFoundError(
            "No brain tissue contrast was found: cerebrospinal fluid, grey and white matter are not in "
            f"T1-weighted order or not separated (CSF {ti.csf:.2f}, GM {ti.gm:.2f}, WM {ti.wm:.2f} of the "
            "head's bright end). Upload a T1-weighted head MRI volume.")
    icv, bone_level, icv_voxels = tis.intracranial_mask(n4, icv_template, ti, spacing[0])
    seg = tis.segment(n4, icv, ti)
    hl = _embed(tis.gate_hippocampus(img_box, p_hl, ti), sbox, vol.shape)
    hr = _embed(tis.gate_hippocampus(img_box, p_hr, ti), sbox, vol.shape)
    lv_allowed = tis.ventricle_search_allowed(above_floor, hippocampi_prior, spacing[0])
    lv_gate = tis.gate_ventricles(img_box, p_lv, ti, icv[sbox], spacing[0], allowed=lv_allowed)
    lv = _embed(lv_gate.mask, sbox, vol.shape)
    if lv_gate.truncated:
        checks.append(Check("ventricles_beyond_search", False, Severity.WARNING,
                            f"The lateral ventricles reach past the search region (the template's ventricles + "
                            f"{tis.VENTRICLE_SEARCH_MM:g} mm) along {100 * lv_gate.truncated_fraction:.0f} % of their "
                            "surface: they are much larger than the template's, and their volume is less reliable "
                            "(low where they extend beyond the search, high where CSF beside them is taken in).",
                            value=round(lv_gate.truncated_fraction, 3)))
    history.append("brain: tissue intensities from anatomy; GM/WM/CSF by midpoint thresholds; intensity-gated ROIs")
    timer.lap("tissue")

    # Cortex only: leave out the deep-brain box (deep GM, hippocampi, ventricle walls).
    exclude = np.zeros(vol.shape, dtype=bool)
    exclude[sbox] = True
    thickness = cortical_thickness_mm(seg.gm, seg.wm, icv, spacing, exclude=exclude)
    timer.lap("thickness")

    # --- volumes -------------------------------------------------------------------------------
    lv_left, lv_right = _split_lr(lv, affine, aff.matrix_ras)
    vols = {
        "icv": icv_voxels * voxel_ml,
        "brain": (seg.gm.sum() + seg.wm.sum()) * voxel_ml,
        "gm": seg.gm.sum() * voxel_ml,
        "wm": seg.wm.sum() * voxel_ml,
        "csf": seg.csf.sum() * voxel_ml,
        "hippocampus_left": hl.sum() * voxel_ml,
        "hippocampus_right": hr.sum() * voxel_ml,
        "lateral_ventricles": lv.sum() * voxel_ml,
        "lateral_ventricle_left": lv_left.sum() * voxel_ml,
        "lateral_ventricle_right": lv_right.sum() * voxel_ml,
    }
    vols["hippocampus_total"] = vols["hippocampus_left"] + vols["hippocampus_right"]
    vols = {k: round(float(v), 3) for k, v in vols.items()}
    fractions = {k: v / vols["icv"] for k, v in vols.items() if k != "icv"}
    if not (ICV_RANGE_L[0] * 1000 <= vols["icv"] <= ICV_RANGE_L[1] * 1000):
        raise NoBrainFoundError(f"The intracranial volume found ({vols['icv'] / 1000:.2f} L) is outside "
                                f"{ICV_RANGE_L[0]}-{ICV_RANGE_L[1]} L: this does not look like an adult head.")

    # --- norms, grades, stages --------------------------------------------------------------------
    biomarkers, hippo_z, vent_z, vent_dz = _biomarkers(vols, thickness, age_years, sex, checks)
    timer.lap("norms")
    threshold = settings.threshold_for("alzheimers")
    rule = grading.rule_stage(
        hippo_z[0], hippo_z[1], (vols["hippocampus_left"], vols["hippocampus_right"]), _hippo_rmse_ml(sex),
        vent_z, vent_dz, thickness, age_years, threshold)
    out_scan = Scan(array=n4[None].astype(np.float32), affine=affine, modality=scan.modality, meta=scan.meta,
                    source=scan.source, history=tuple(history), subject_pseudonym=scan.subject_pseudonym)
    cnn_result = None
    if run_cnn:
        cnn, cnn_result = _run_cnn(scan)
    else:
        cnn = Stage(label=UNABLE, probabilities={}, status="unavailable", source="cnn", reasons=("CNN not requested (run_cnn=False).",))
    timer.lap("staging")
    stage, agreement = _combine(rule, cnn, threshold)

    masks = {
        "brain": seg.gm | seg.wm, "icv": icv, "gm": seg.gm, "wm": seg.wm, "csf": seg.csf,
        "hippocampus_left": hl, "hippocampus_right": hr, "lateral_ventricles": lv,
    }
    details = {
        "tissue_intensities": {"csf": ti.csf, "gm": ti.gm, "wm": ti.wm, "bone": bone_level},
        "affine_similarity": aff.similarity, "syn_similarity": syn.similarity,
        "icv_affine_ml": icv_affine_l * 1000.0, "affine_scale": aff.scale,
        "second_affine_scale": aff_icv.scale, "second_affine_similarity": aff_icv.similarity, "original_spacing_mm": orig_spacing,
        "working_spacing_mm": spacing,
        "ventricle_search_truncated_fraction": lv_gate.truncated_fraction,
    }
    return BrainReport(
        volumes_ml=vols, volumes_icv_fraction=fractions, biomarkers=biomarkers, stage=stage, stage_rule=rule,
        stage_cnn=cnn, stage_agreement=agreement, masks=masks, timings_s=timer.total(), qc=QCReport(tuple(checks)),
        scan=out_scan, history=tuple(history), age_years=age_years, sex=sex, cnn_result=cnn_result, details=details,
    )


def icv_affine_usable(first_scale: float, icv_scale: float, icv_similarity: float) -> tuple[bool, str]:
    """Whether the intracranial affine may place the template brain for the ICV, and why not.

    Args:
        first_scale: volume scale (determinant) of the first affine.
        icv_scale: volume scale of the intracranial affine.
        icv_similarity: its similarity to the template inside the template brain.

    Returns:
        (usable, reason): reason is empty when usable.
    """
    ratio = icv_scale / first_scale if first_scale > 0 else float("inf")
    if icv_similarity < MIN_AFFINE_SIMILARITY:
        return False, f"its similarity {icv_similarity:.2f} is below {MIN_AFFINE_SIMILARITY:.2f}"
    if not (1.0 / MAX_ICV_AFFINE_SCALE_RATIO <= ratio <= MAX_ICV_AFFINE_SCALE_RATIO):
        return False, (f"its volume scale is {ratio:.2f} x the first registration's "
                       f"(accepted {1.0 / MAX_ICV_AFFINE_SCALE_RATIO:.2f}-{MAX_ICV_AFFINE_SCALE_RATIO:.2f})")
    return True, ""


def _embed(sub: np.ndarray, sl: tuple[slice, ...], shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, dtype=bool)
    out[sl] = sub
    return out


def _split_lr(mask: np.ndarray, affine: np.ndarray, matrix_ras: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left/right parts of a mask by the template's mid-sagittal plane (template x < 0 = left).

    ``matrix_ras`` maps template RAS mm to subject RAS mm (the affine registration), so the
    split follows the subject's own midline even when the head is tilted or off-centre.
    """
    if not mask.any():
        return mask, mask
    idx = np.argwhere(mask)
    ras = idx @ affine[:3, :3].T + affine[:3, 3]
    inv = np.linalg.inv(matrix_ras)
    x_t = ras @ inv[0, :3] + inv[0, 3]
    left = np.zeros_like(mask)
    right = np.zeros_like(mask)
    sel = x_t < 0
    left[tuple(idx[sel].T)] = True
    right[tuple(idx[~sel].T)] = True
    return left, right


def _hippo_rmse_ml(sex: str | None) -> tuple[float, float]:
    """CentileBrain RMSE (mL) per hemisphere for the stage's error model (female when unknown)."""
    s = norms._sex_code(sex) if _valid_sex(sex) else "F"
    return tuple(norms.centilebrain_predicted_mm3(h, 60.0, s, 1.5e6)[1] / 1000.0 for h in ("L", "R"))  # type: ignore[return-value]


def _valid_sex(sex: str | None) -> bool:
    if sex is None:
        return False
    try:
        norms._sex_code(sex)
    except ValueError:
        return False
    return True


def _biomarkers(vols: dict[str, float], thickness: float, age_years: float | None, sex: str | None,
                checks: list[Check]) -> tuple[Biomarkers, tuple[float | None, float | None], float, float]:
    notes: list[str] = []
    basis = {
        "ventricle_enlargement": "PCN braincharts lateral-ventricle centiles (mean L/R z): none <P90, mild P90-97.5, "
                                 "moderate P97.5-99.5, severe >P99.5 (RadLens convention on published centiles); "
                                 "without age/sex: Yamada 2023 22.6+-11.6 mL, same z bands.",
        "cortical_thinning": "Deficit vs 2.5 mm (Fischl & Dale 2000) aged at -0.35 %/y (Storsve 2014) from 50 y: "
                             "none <8 %, mild 8-15 %, moderate 15-25 %, severe >=25 % (RadLens convention).",
        "hippocampus": "CentileBrain ICV-adjusted z per hemisphere, summary = mean z (RadLens convention).",
    }
    if age_years is None or not _valid_sex(sex):
        missing = [n for n, ok in (("age", age_years is not None), ("sex", _valid_sex(sex))) if not ok]
        reason = f"Percentiles need age and sex ({' and '.join(missing)} missing)."
        checks.append(Check("percentiles_unavailable", False, Severity.WARNING, reason + " Volumes and grades are still reported."))
        vz = grading.ventricle_z_agefree(vols["lateral_ventricles"], sex if _valid_sex(sex) else None)
        mean_sd = grading.YAMADA_LV_ML["all"]
        bm = Biomarkers(
            hippocampal_volume_percentile=None, hippocampus_left_percentile=None, hippocampus_right_percentile=None,
            ventricle_percentile=None, ventricle_left_percentile=None, ventricle_right_percentile=None,
            ventricle_enlargement=grading.ventricle_grade_from_z(vz),
            cortical_thinning=grading.thinning_grade(thickness, age_years),
            cortical_thickness_mm=round(float(thickness), 3),
            norm_source="none (age/sex missing); ventricle grade vs Yamada 2023 age-free reference",
            ventricle_z=vz, percentile_unavailable_reason=reason, grading_basis=basis,
            notes=("Ventricle grade uses an age-free reference: low specificity in older adults.",),
        )
        # d z / d log V for the error model: z = (V - m)/sd -> dz = V/sd * dlogV
        return bm, (None, None), vz, vols["lateral_ventricles"] / mean_sd[1]
    age = float(age_years)
    hl = norms.centilebrain_percentile("L", vols["hippocampus_left"], age, sex, vols["icv"])
    hr = norms.centilebrain_percentile("R", vols["hippocampus_right"], age, sex, vols["icv"])
    pl = norms.pcn_percentile("Left-Hippocampus", vols["hippocampus_left"], age, sex)
    pr = norms.pcn_percentile("Right-Hippocampus", vols["hippocampus_right"], age, sex)
    vl = norms.pcn_percentile("Left-Lateral-Ventricle", max(vols["lateral_ventricle_left"], 1e-3), age, sex)
    vr = norms.pcn_percentile("Right-Lateral-Ventricle", max(vols["lateral_ventricle_right"], 1e-3), age, sex)
    vt = norms.braincharts_ventricles_percentile(max(vols["lateral_ventricles"], 1e-3), age, sex)
    for r in (hl, hr, vl, vr):
        if r.note and r.note not in notes:
            notes.append(r.note)
    hz = norms.combine_z(hl.z, hr.z)
    vz = norms.combine_z(vl.z, vr.z)
    # Local slope of z against log volume of the PCN ventricle norm (for the stage error model).
    vz_up = norms.combine_z(norms.pcn_percentile("Left-Lateral-Ventricle", max(vols["lateral_ventricle_left"], 1e-3) * 1.1, age, sex).z,
                            norms.pcn_percentile("Right-Lateral-Ventricle", max(vols["lateral_ventricle_right"], 1e-3) * 1.1, age, sex).z)
    dz = max((vz_up - vz) / math.log(1.1), 0.0)
    bm = Biomarkers(
        hippocampal_volume_percentile=round(norms.percentile_from_z(hz), 2),
        hippocampus_left_percentile=round(hl.percentile, 2), hippocampus_right_percentile=round(hr.percentile, 2),
        ventricle_percentile=round(norms.percentile_from_z(vz), 2),
        ventricle_left_percentile=round(vl.percentile, 2), ventricle_right_percentile=round(vr.percentile, 2),
        ventricle_enlargement=grading.ventricle_grade_from_z(vz),
        cortical_thinning=grading.thinning_grade(thickness, age),
        cortical_thickness_mm=round(float(thickness), 3),
        norm_source=f"Hippocampus: {norms.CENTILEBRAIN_SOURCE} (RadLens ICV in place of eTIV); "
                    f"lateral ventricles: {norms.PCN_SOURCE}",
        hippocampal_volume_z=round(hz, 3), ventricle_z=round(vz, 3),
        hippocampus_raw_percentile_pcn=round(norms.percentile_from_z(norms.combine_z(pl.z, pr.z)), 2),
        ventricles_total_percentile_braincharts=round(vt.percentile, 2),
        grading_basis=basis,
        notes=tuple(notes) + (f"Brain Charts total-ventricle percentile {vt.percentile:.1f} "
                              f"(information only; {vt.note}).",),
    )
    return bm, (hl.z, hr.z), vz, dz
