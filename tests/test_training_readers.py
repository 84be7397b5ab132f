"""Real-dataset readers on tiny fake layouts (Kaggle folders, CheXpert/NIH CSVs, VinDr-SpineXR)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.training.readers import (
    LesionBox, find_split_dir, index_dicoms, load_image, read_chexpert_csv, read_class_folders, read_nih_csv,
    read_vindr_annotations, vindr_normal_abnormal, yolo_label_lines,
)

BRAIN_LABELS = ["glioma", "meningioma", "notumor", "pituitary"]


def _png(path, value=128, size=(20, 16)):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.full(size[::-1], value, np.uint8)
    arr[2:6, 3:9] = 255 - value
    Image.fromarray(arr).save(path)
    return path


def test_kaggle_class_folders(tmp_path):
    for split in ("Training", "Testing"):
        for i, cls in enumerate(["glioma", "meningioma", "notumor", "pituitary"]):
            _png(tmp_path / split / cls / f"{cls}_{i}.jpg".replace(".jpg", ".png"))
    _png(tmp_path / "Training" / "glioma" / "Tr-gl_0002.png")
    (tmp_path / "Training" / "glioma" / "notes.txt").write_text("not an image")
    train = read_class_folders(find_split_dir(tmp_path, ["training", "train"]), BRAIN_LABELS)
    assert len(train) == 5
    assert sorted({lab for _, lab in train}) == [0, 1, 2, 3]
    assert sum(1 for _, lab in train if lab == 0) == 2
    assert find_split_dir(tmp_path, ["testing", "test"]).name == "Testing"
    img = load_image(train[0][0])
    assert img.shape == (16, 20) and img.dtype == np.float32


def test_class_folder_aliases_and_unknown(tmp_path):
    _png(tmp_path / "Training" / "no_tumor" / "a.png")
    _png(tmp_path / "Training" / "glioma_tumor" / "b.png")
    recs = read_class_folders(tmp_path / "Training", BRAIN_LABELS)
    assert {lab for _, lab in recs} == {0, 2}
    _png(tmp_path / "Training" / "astrocytoma" / "c.png")
    with pytest.raises(ValueError, match="astrocytoma"):
        read_class_folders(tmp_path / "Training", BRAIN_LABELS)
    with pytest.raises(FileNotFoundError):
        read_class_folders(tmp_path / "missing", BRAIN_LABELS)


CHEXPERT_CSV = """Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Cardiomegaly,Edema,Pleural Effusion
CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.png,F,68,Frontal,AP,1.0,,0.0,
CheXpert-v1.0-small/train/patient00002/study1/view1_frontal.png,M,87,Frontal,AP,,-1.0,1.0,-1.0
CheXpert-v1.0-small/train/patient00003/study1/view1_frontal.png,M,40,Frontal,PA,,1.0,-1.0,1.0
CheXpert-v1.0-small/train/patient00004/study1/view1_frontal.png,M,40,Frontal,PA,,1.0,,
"""


@pytest.mark.parametrize("policy,expected_t,expected_m", [
    ("U-Ignore", [0, 0, 1, 0], [1, 0, 1, 0]),
    ("U-Zeros", [0, 0, 1, 0], [1, 1, 1, 1]),
    ("U-Ones", [0, 1, 1, 1], [1, 1, 1, 1]),
])
def test_chexpert_uncertain_policies(tmp_path, policy, expected_t, expected_m):
    root = tmp_path / "CheXpert-v1.0-small"
    for i in (1, 2, 3):  # patient 4's image is missing on disk
        _png(root / "train" / f"patient0000{i}" / "study1" / "view1_frontal.png")
    (root / "train.csv").write_text(CHEXPERT_CSV)
    labels = ["No Finding", "Cardiomegaly", "Edema", "Pleural Effusion"]
    recs = read_chexpert_csv(root / "train.csv", labels, policy=policy)
    assert len(recs) == 3
    assert recs[0].targets.tolist() == [1, 0, 0, 0]
    assert recs[1].targets.tolist() == expected_t
    assert recs[1].mask.tolist() == expected_m
    assert recs[2].targets[[0, 1, 3]].tolist() == [0, 1, 1]  # Edema there is uncertain
    assert recs[2].path.exists()
    assert len(read_chexpert_csv(root / "train.csv", labels, policy=policy, require_exists=False)) == 4


def test_chexpert_bad_policy_and_missing_column(tmp_path):
    (tmp_path / "t.csv").write_text(CHEXPERT_CSV)
    with pytest.raises(ValueError, match="policy"):
        read_chexpert_csv(tmp_path / "t.csv", ["Edema"], policy="U-Maybe")
    with pytest.raises(ValueError, match="Hernia"):
        read_chexpert_csv(tmp_path / "t.csv", ["Hernia"])


def test_nih_csv(tmp_path):
    _png(tmp_path / "images_001" / "images" / "00000001_000.png")
    _png(tmp_path / "images_002" / "images" / "00000002_000.png")
    (tmp_path / "Data_Entry_2017.csv").write_text(
        "Image Index,Finding Labels,Follow-up #,Patient ID\n"
        "00000001_000.png,Cardiomegaly|Effusion,0,1\n"
        "00000002_000.png,No Finding,0,2\n"
        "00000003_000.png,Mass,0,3\n")
    labels = ["Cardiomegaly", "Effusion", "Mass", "No Finding"]
    recs = read_nih_csv(tmp_path / "Data_Entry_2017.csv", labels)
    assert [r.targets.tolist() for r in recs] == [[1, 1, 0, 0], [0, 0, 0, 1]]
    assert recs[1].path.parent.parent.name == "images_002"
    assert all(r.mask.all() for r in recs)


def test_vindr_annotations_labels_and_yolo(tmp_path):
    (tmp_path / "train.csv").write_text(
        "image_id,study_id,series_id,rad_id,lesion_type,xmin,ymin,xmax,ymax\n"
        "img1,s1,r1,rad1,Osteophytes,10,20,30,60\n"
        "img1,s1,r1,rad1,Ankylosis,0,0,5,5\n"
        "img1,s1,r1,rad1,Disc space narrowing,90,90,130,120\n"
        "img2,s2,r2,rad2,No finding,,,,\n"
        "img3,s3,r3,rad1,Other lesions,,,,\n")
    ann = read_vindr_annotations(tmp_path / "train.csv")
    assert vindr_normal_abnormal(ann) == {"img1": 1, "img2": 0, "img3": 1}
    classes = ["Osteophytes", "Surgical implant", "Spondylolysthesis", "Foraminal stenosis",
               "Disc space narrowing", "Vertebral collapse", "Other lesions"]
    lines = yolo_label_lines(ann["img1"], classes, width_px=100, height_px=100)
    assert len(lines) == 2  # Ankylosis is not a detection class
    cls, cx, cy, w, h = lines[0].split()
    assert cls == "0" and float(cx) == pytest.approx(0.2) and float(cy) == pytest.approx(0.4)
    assert float(w) == pytest.approx(0.2) and float(h) == pytest.approx(0.4)
    cls, cx, cy, w, h = lines[1].split()  # clipped to the 100x100 image
    assert cls == "4" and float(w) == pytest.approx(0.1) and float(h) == pytest.approx(0.1)
    assert yolo_label_lines(ann["img3"], classes, 100, 100) == []  # no coordinates
    assert yolo_label_lines([LesionBox("Osteophytes", 5, 5, 5.5, 9)], classes, 100, 100) == []


def test_index_dicoms(tmp_path):
    (tmp_path / "s1" / "r1").mkdir(parents=True)
    (tmp_path / "s1" / "r1" / "img1.dicom").write_bytes(b"x")
    (tmp_path / "s2").mkdir()
    (tmp_path / "s2" / "img2.dcm").write_bytes(b"x")
    (tmp_path / "s2" / "readme.txt").write_text("x")
    assert sorted(index_dicoms(tmp_path)) == ["img1", "img2"]
