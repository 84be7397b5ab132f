"""Readers for the real dataset layouts users may train on.

- Kaggle Brain Tumor MRI (Nickparvar): ``<root>/Training/<class>/*.jpg`` and ``<root>/Testing/<class>/*.jpg``
  with class folders glioma, meningioma, notumor, pituitary (older SARTAJ-style names such as
  ``glioma_tumor`` / ``no_tumor`` are accepted too).
- CheXpert: a CSV with a ``Path`` column and one column per finding holding 1 / 0 / -1 (uncertain) /
  blank (not mentioned). The uncertain policy is selectable (Irvin et al. 2019, FACTS.md section 7):
  ``U-Ignore`` masks -1 out of the loss, ``U-Zeros`` maps -1 -> 0, ``U-Ones`` maps -1 -> 1. Blank is
  treated as 0 (not mentioned), as the CheXpert baselines do.
- NIH ChestX-ray14: ``Data_Entry_2017.csv`` with ``Image Index`` and pipe-separated ``Finding Labels``
  (``"No Finding"`` for none); images anywhere under the images folder (``images_001/images/...``).
- VinDr-SpineXR: an annotations CSV (``image_id, lesion_type, xmin, ymin, xmax, ymax``; ``"No finding"``
  rows mark normal images) and a DICOM folder (``<study>/<series>/<image_id>.dicom``). Gives
  normal/abnormal labels for the classifiers and YOLO-format labels for the detector.

All readers return plain records (paths, targets); images are read later by :func:`load_image`.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".dcm", ".dicom")

# --- brain tumour class folders ------------------------------------------------------------
BRAIN_TUMOR_FOLDER_ALIASES: Mapping[str, str] = {
    "glioma": "glioma", "glioma_tumor": "glioma", "glioma_tumour": "glioma",
    "meningioma": "meningioma", "meningioma_tumor": "meningioma", "meningioma_tumour": "meningioma",
    "pituitary": "pituitary", "pituitary_tumor": "pituitary", "pituitary_tumour": "pituitary",
    "notumor": "notumor", "no_tumor": "notumor", "no_tumour": "notumor", "no tumor": "notumor",
    "notumour": "notumor", "normal": "notumor",
}


def read_class_folders(split_dir: str | Path, labels: Sequence[str],
                       aliases: Mapping[str, str] = BRAIN_TUMOR_FOLDER_ALIASES) -> list[tuple[Path, int]]:
    """Images in ``split_dir/<class folder>/`` as ``(path, label index)``, sorted by path.

    Args:
        split_dir: e.g. ``<root>/Training``.
        labels: the model's label order; each class folder must map onto one of them.
        aliases: lower-case folder name -> label.

    Raises:
        FileNotFoundError: ``split_dir`` missing or holding no class folders.
        ValueError: a folder name that maps to no label (so typos are not silently dropped).
    """
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {split_dir}")
    index = {name: i for i, name in enumerate(labels)}
    records: list[tuple[Path, int]] = []
    folders = sorted(p for p in split_dir.iterdir() if p.is_dir())
    if not folders:
        raise FileNotFoundError(f"{split_dir} holds no class folders (expected e.g. {', '.join(labels)})")
    for folder in folders:
        key = folder.name.lower()
        label = aliases.get(key, key)
        if label not in index:
            raise ValueError(f"class folder {folder.name!r} matches none of the labels {list(labels)}")
        for f in sorted(folder.rglob("*")):
            if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES:
                records.append((f, index[label]))
    return records


def find_split_dir(root: str | Path, names: Iterable[str]) -> Path | None:
    """First existing ``root/<name>`` (case-insensitive), e.g. Training / training / train."""
    root = Path(root)
    wanted = [n.lower() for n in names]
    for child in sorted(root.iterdir()) if root.is_dir() else []:
        if child.is_dir() and child.name.lower() in wanted:
            return child
    return None


# --- chest X-ray CSVs ----------------------------------------------------------------------
UNCERTAIN_POLICIES = ("U-Ignore", "U-Zeros", "U-Ones")


@dataclass(frozen=True)
class MultiLabelRecord:
    """One image of a multi-label dataset.

    Attributes:
        path: image file.
        targets: ``(K,)`` float32 0/1 aligned with the requested labels.
        mask: ``(K,)`` float32, 0 where the target is unknown (U-Ignore) and must not count.
    """

    path: Path
    targets: np.ndarray
    mask: np.ndarray


def _resolve_image(root: Path, rel: str) -> Path:
    """CheXpert paths start with the archive folder (``CheXpert-v1.0-small/train/...``); accept
    them relative to the root, to its parent, or with that first component dropped."""
    rel_path = Path(rel)
    candidates = [root / rel_path, root.parent / rel_path]
    if len(rel_path.parts) > 1:
        candidates.append(root / Path(*rel_path.parts[1:]))
    for c in candidates:
        if c.exists():
            return c
    return candidates[0]


def read_chexpert_csv(csv_path: str | Path, labels: Sequence[str], policy: str = "U-Ignore",
                      image_root: str | Path | None = None, require_exists: bool = True) -> list[MultiLabelRecord]:
    """Read a CheXpert ``train.csv`` / ``valid.csv``.

    Args:
        csv_path: the CSV file.
        labels: finding columns to use, in model order (each must be a column of the CSV).
        policy: uncertain (-1) handling: ``"U-Ignore"`` (masked), ``"U-Zeros"`` or ``"U-Ones"``.
        image_root: folder the ``Path`` column is relative to (default: the CSV's folder).
        require_exists: skip rows whose image file is missing (True) or keep them.

    Raises:
        ValueError: unknown policy, or a label that is not a CSV column.
    """
    if policy not in UNCERTAIN_POLICIES:
        raise ValueError(f"uncertain policy must be one of {UNCERTAIN_POLICIES}, not {policy!r}")
    csv_path = Path(csv_path)
    root = Path(image_root) if image_root is not None else csv_path.parent
    records: list[MultiLabelRecord] = []
    with csv_path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [lab for lab in labels if lab not in (reader.fieldnames or [])]
        if "Path" not in (reader.fieldnames or []) or missing:
            raise ValueError(f"{csv_path.name}: needs a 'Path' column and the label columns; missing: "
                             f"{(['Path'] if 'Path' not in (reader.fieldnames or []) else []) + missing}")
        for row in reader:
            targets = np.zeros(len(labels), np.float32)
            mask = np.ones(len(labels), np.float32)
            for j, lab in enumerate(labels):
                raw = (row.get(lab) or "").strip()
                value = float(raw) if raw else 0.0  # blank = not mentioned = negative
                if math.isclose(value, -1.0):
                    if policy == "U-Ignore":
                        mask[j] = 0.0
                    elif policy == "U-Ones":
                        targets[j] = 1.0
                elif value > 0.5:
                    targets[j] = 1.0
            path = _resolve_image(root, row["Path"])
            if require_exists and not path.exists():
                continue
            records.append(MultiLabelRecord(path, targets, mask))
    return records


def read_nih_csv(csv_path: str | Path, labels: Sequence[str], images_dir: str | Path | None = None,
                 require_exists: bool = True) -> list[MultiLabelRecord]:
    """Read NIH ChestX-ray14 ``Data_Entry_2017.csv`` (``Image Index``, ``Finding Labels`` "A|B").

    Labels absent from a row are negatives; ``"No Finding"`` may itself be one of ``labels``.
    Images are found by file name anywhere under ``images_dir`` (default: the CSV's folder).
    """
    csv_path = Path(csv_path)
    images_dir = Path(images_dir) if images_dir is not None else csv_path.parent
    by_name = {p.name: p for p in images_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES}
    index = {lab: j for j, lab in enumerate(labels)}
    records: list[MultiLabelRecord] = []
    with csv_path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if not {"Image Index", "Finding Labels"} <= set(reader.fieldnames or []):
            raise ValueError(f"{csv_path.name}: needs 'Image Index' and 'Finding Labels' columns")
        for row in reader:
            targets = np.zeros(len(labels), np.float32)
            for finding in (row["Finding Labels"] or "").split("|"):
                finding = finding.strip()
                if finding in index:
                    targets[index[finding]] = 1.0
            path = by_name.get(row["Image Index"].strip(), images_dir / row["Image Index"].strip())
            if require_exists and not path.exists():
                continue
            records.append(MultiLabelRecord(path, targets, np.ones(len(labels), np.float32)))
    return records


# --- VinDr-SpineXR -------------------------------------------------------------------------
VINDR_NO_FINDING = "No finding"


@dataclass(frozen=True)
class LesionBox:
    """One annotated lesion in image pixels (columns x, rows y)."""

    lesion_type: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float


def read_vindr_annotations(csv_path: str | Path) -> dict[str, list[LesionBox]]:
    """``image_id -> boxes`` from a VinDr-SpineXR annotations CSV.

    Images annotated only with ``"No finding"`` map to an empty list (normal). Rows with a
    lesion type but no coordinates (whole-image labels) are kept with NaN coordinates so the
    image still counts as abnormal.
    """
    out: dict[str, list[LesionBox]] = {}
    with Path(csv_path).open(newline="") as fh:
        reader = csv.DictReader(fh)
        need = {"image_id", "lesion_type"}
        if not need <= set(reader.fieldnames or []):
            raise ValueError(f"{Path(csv_path).name}: needs columns {sorted(need)} (+ xmin, ymin, xmax, ymax)")
        for row in reader:
            image_id = row["image_id"].strip()
            boxes = out.setdefault(image_id, [])
            lesion = (row["lesion_type"] or "").strip()
            if not lesion or lesion.lower() == VINDR_NO_FINDING.lower():
                continue

            def num(key: str) -> float:
                raw = (row.get(key) or "").strip()
                return float(raw) if raw else float("nan")

            boxes.append(LesionBox(lesion, num("xmin"), num("ymin"), num("xmax"), num("ymax")))
    return out


def vindr_normal_abnormal(annotations: Mapping[str, list[LesionBox]]) -> dict[str, int]:
    """``image_id -> 1`` when any lesion is annotated (abnormal), else 0 (normal)."""
    return {image_id: int(bool(boxes)) for image_id, boxes in annotations.items()}


def index_dicoms(folder: str | Path) -> dict[str, Path]:
    """``image_id -> path`` for every ``*.dicom`` / ``*.dcm`` file under ``folder`` (stem = image_id)."""
    out: dict[str, Path] = {}
    for p in sorted(Path(folder).rglob("*")):
        if p.is_file() and p.suffix.lower() in (".dicom", ".dcm"):
            out[p.stem] = p
    return out


def yolo_label_lines(boxes: Sequence[LesionBox], classes: Sequence[str], width_px: int, height_px: int) -> list[str]:
    """YOLO label lines ``"cls cx cy w h"`` (normalised to [0, 1]) for the boxes of known classes.

    Boxes of other lesion types or without coordinates are dropped; coordinates are clipped
    to the image.
    """
    index = {c.lower(): i for i, c in enumerate(classes)}
    lines = []
    for b in boxes:
        cls = index.get(b.lesion_type.lower())
        if cls is None or any(math.isnan(v) for v in (b.xmin, b.ymin, b.xmax, b.ymax)):
            continue
        x0, x1 = sorted((min(max(b.xmin, 0.0), width_px), min(max(b.xmax, 0.0), width_px)))
        y0, y1 = sorted((min(max(b.ymin, 0.0), height_px), min(max(b.ymax, 0.0), height_px)))
        if x1 - x0 < 1 or y1 - y0 < 1:
            continue
        lines.append(f"{cls} {(x0 + x1) / 2 / width_px:.6f} {(y0 + y1) / 2 / height_px:.6f} "
                     f"{(x1 - x0) / width_px:.6f} {(y1 - y0) / height_px:.6f}")
    return lines


# --- images --------------------------------------------------------------------------------
def load_image(path: str | Path) -> np.ndarray:
    """A dataset image as the displayed float32 (rows, cols) grayscale, through core.io.

    DICOM MONOCHROME1 is inverted and rescale slope/intercept applied by core.io, exactly
    as at inference.
    """
    from core.io import load_scan
    from core.preprocess import to_display_2d

    return to_display_2d(load_scan(Path(path)))
