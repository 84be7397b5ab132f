"""Registration of a subject T1 to the nilearn MNI152 template with ANTsPy.

Affine registration (metric restricted to the dilated template brain, the subject roughly
skull-stripped; the pipeline runs it twice, with two subject masks, see core/brain/README.md),
then SyN with the cross-correlation metric restricted to a
deep-brain box around the hippocampi and lateral ventricles. ../shared/BRAIN-NOTES.md
(feasibility study): CC gave FreeSurfer-like hippocampi where mutual information inflated
them by 30-40 %, and the box made SyN ~4x faster with the same result.

Arrays handed in and out are RAS+ numpy volumes with a 4x4 voxel -> RAS mm affine;
conversion to ANTs' LPS images lives here only.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

# ANTs/ITK read the thread count when their first filter runs; two threads matches the
# machine, and a fixed count keeps the metric's summation order (and thus results) fixed.
os.environ.setdefault("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", "2")

import ants  # noqa: E402

ANTS_SEED = 20240611
_LPS = np.diag([-1.0, -1.0, 1.0])


# ANTs writes its transforms to files; they live in one temporary folder per analysis,
# removed when the analysis ends so nothing is left in /tmp.
_WORKDIR: contextvars.ContextVar[str | None] = contextvars.ContextVar("radlens_ants_workdir", default=None)


@contextlib.contextmanager
def workspace() -> Iterator[str]:
    """Temporary folder for ANTs transform files, deleted on exit with everything in it."""
    path = tempfile.mkdtemp(prefix="radlens_ants_")
    token = _WORKDIR.set(path)
    try:
        yield path
    finally:
        _WORKDIR.reset(token)
        shutil.rmtree(path)


def _outprefix(step: str) -> str:
    base = _WORKDIR.get()
    if base is None:
        raise RuntimeError("ANTs registration must run inside core.brain.register.workspace()")
    return tempfile.mkdtemp(prefix=f"{step}_", dir=base) + "/"


def _seed_ants() -> None:
    # antspy appends --random-seed to every registration call when this is set; setting it
    # through set_ants_deterministic(True) would also force one ITK thread (2x slower).
    ants.config._random_seed = ANTS_SEED


def to_ants(array: np.ndarray, affine: np.ndarray) -> "ants.ANTsImage":
    """RAS+ numpy volume + affine -> ANTs image (LPS physical space)."""
    m = _LPS @ affine[:3, :3]
    spacing = np.linalg.norm(m, axis=0)
    direction = m / spacing
    origin = _LPS @ affine[:3, 3]
    return ants.from_numpy(
        np.ascontiguousarray(array, dtype=np.float32),
        origin=tuple(float(v) for v in origin),
        spacing=tuple(float(v) for v in spacing),
        direction=direction,
    )


def ants_affine(img: "ants.ANTsImage") -> np.ndarray:
    """4x4 voxel -> RAS mm affine of an ANTs image."""
    d = np.asarray(img.direction, dtype=float) * np.asarray(img.spacing, dtype=float)
    aff = np.eye(4)
    aff[:3, :3] = _LPS @ d
    aff[:3, 3] = _LPS @ np.asarray(img.origin, dtype=float)
    return aff


@dataclass(frozen=True)
class AffineResult:
    """Affine mapping between template and subject.

    Attributes:
        transform_file: ANTs transform file mapping template points to subject points
            (the ``fwdtransforms`` of a registration with fixed=template, moving=subject).
        matrix_ras: 4x4 matrix mapping template RAS mm to subject RAS mm.
        similarity: normalised cross-correlation between template and warped subject inside
            the template brain (quality check; a head gives ~0.8-0.95, other anatomy much less).
    """

    transform_file: str
    matrix_ras: np.ndarray
    similarity: float

    @property
    def scale(self) -> float:
        """Volume scaling template -> subject (determinant of the linear part)."""
        return float(abs(np.linalg.det(self.matrix_ras[:3, :3])))


def _matrix_ras(transform_file: str) -> np.ndarray:
    """4x4 RAS matrix (template -> subject points) of an ANTs affine transform file."""
    tx = ants.read_transform(transform_file)
    params = np.asarray(tx.parameters, dtype=float)
    fixed = np.asarray(tx.fixed_parameters, dtype=float)
    a = params[:9].reshape(3, 3)
    t = params[9:12]
    # ITK: y = A (x - c) + t + c, in LPS; the transform maps fixed (template) points to
    # moving (subject) points.
    lps = np.eye(4)
    lps[:3, :3] = a
    lps[:3, 3] = t + fixed - a @ fixed
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    return flip @ lps @ flip


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


def affine_register(
    subject: "ants.ANTsImage",
    template_img: "ants.ANTsImage",
    template_mask: "ants.ANTsImage",
    initial_transform: str | None = None,
    moving_mask: "ants.ANTsImage | None" = None,
) -> AffineResult:
    """Affine registration (global correlation), fixed = template (metric inside its brain), moving = subject.

    Args:
        subject: subject T1 (bias corrected), any resolution.
        template_img: template T1 (usually 2 mm for speed).
        template_mask: template brain mask restricting the metric.
        initial_transform: optional previous affine to start from; when None the images
            are first aligned by their centres of mass (``ants.registration`` default).
        moving_mask: optional subject brain mask (e.g. the first pass's result).
    """
    _seed_ants()
    kwargs = dict(
        fixed=template_img,
        moving=subject,
        type_of_transform="Affine",
        mask=template_mask,
        # Global correlation, not Mattes MI: with 2 ITK threads Mattes gave run-to-run
        # differences (~0.01 in the matrix); GC was bit-identical (it is also what antspy's
        # reproducible mode uses) and T1-to-T1 needs no mutual information.
        aff_metric="GC",
        aff_sampling=32,
        aff_random_sampling_rate=0.25,
        aff_iterations=(200, 200, 100) if initial_transform is None else (100, 50),
        aff_shrink_factors=(4, 2, 1) if initial_transform is None else (2, 1),
        aff_smoothing_sigmas=(2, 1, 0) if initial_transform is None else (1, 0),
        outprefix=_outprefix("aff"),
    )
    if initial_transform is not None:
        kwargs["initial_transform"] = initial_transform
    if moving_mask is not None:
        kwargs["moving_mask"] = moving_mask
    reg = ants.registration(**kwargs)
    tfile = reg["fwdtransforms"][0]
    warped = reg["warpedmovout"].numpy()
    fixed = template_img.numpy()
    inside = template_mask.numpy() > 0.5
    sim = _ncc(warped[inside], fixed[inside])
    return AffineResult(transform_file=tfile, matrix_ras=_matrix_ras(tfile), similarity=sim)


@dataclass(frozen=True)
class DeformableResult:
    """SyN result inside the deep-brain box.

    Attributes:
        inverse_transforms: transform list taking template-space images onto the subject
            (use with :func:`warp_to_subject`).
        whichtoinvert: flags matching ``inverse_transforms``.
        similarity: normalised cross-correlation inside the box after SyN.
    """

    inverse_transforms: tuple[str, ...]
    whichtoinvert: tuple[bool, ...]
    similarity: float


def syn_register_box(
    subject: "ants.ANTsImage",
    template_box: "ants.ANTsImage",
    affine: AffineResult,
    iterations: tuple[int, ...] = (60, 30, 15),
) -> DeformableResult:
    """SyN (CC metric, radius 2) from the subject to the template deep-brain box.

    Args:
        subject: subject T1, bias corrected.
        template_box: the template cropped to the deep-brain box (fixed image; its extent
            restricts where the metric is evaluated and the warp is estimated).
        affine: the affine result to start from.
        iterations: SyN iterations per level (coarse to fine, shrink 4/2/1).
    """
    _seed_ants()
    reg = ants.registration(
        fixed=template_box,
        moving=subject,
        type_of_transform="SyNOnly",
        initial_transform=affine.transform_file,
        syn_metric="CC",
        syn_sampling=2,
        reg_iterations=iterations,
        grad_step=0.2,
        flow_sigma=3,
        total_sigma=0,
        outprefix=_outprefix("syn"),
    )
    inv = tuple(reg["invtransforms"])
    which = tuple(f.endswith(".mat") for f in inv)
    sim = _ncc(reg["warpedmovout"].numpy().ravel(), template_box.numpy().ravel())
    return DeformableResult(inverse_transforms=inv, whichtoinvert=which, similarity=sim)


def warp_to_subject(
    image: "ants.ANTsImage",
    reference: "ants.ANTsImage",
    transforms: tuple[str, ...],
    whichtoinvert: tuple[bool, ...],
    interpolator: str = "linear",
) -> np.ndarray:
    """Resample a template-space image onto the subject reference grid; returns numpy."""
    out = ants.apply_transforms(
        fixed=reference,
        moving=image,
        transformlist=list(transforms),
        whichtoinvert=list(whichtoinvert),
        interpolator=interpolator,
    )
    return out.numpy()
