"""Tests of the 2D phantoms: brain tumour slices, chest and spine radiographs, DICOM bytes."""

from __future__ import annotations

import io

import numpy as np
import pytest

from core.synth.brain_slice import BRAIN_TUMOR_LABELS, brain_slice_dataset, make_brain_slice
from core.synth.chest import CHEST_FINDINGS, FINDING_ALIASES, chest_dataset, make_chest_xray
from core.synth.dicom import as_dicom_bytes
from core.synth.spine import SPINE_LESIONS, make_spine_xray, spine_dataset


# ---------------------------------------------------------------- brain tumour slices
@pytest.fixture(scope="module")
def heads():
    """A few subjects reused across slices (building a head costs ~0.3 s)."""
    from core.synth.head import HeadAnatomy

    return [HeadAnatomy(np.random.default_rng(s)) for s in range(4)]


@pytest.mark.parametrize("label", BRAIN_TUMOR_LABELS)
def test_brain_slice_deterministic_and_in_range(label):
    a, ia = make_brain_slice(7, label, 96)
    b, _ = make_brain_slice(7, label, 96)
    c, _ = make_brain_slice(8, label, 96)
    assert a.dtype == np.float32 and a.shape == (96, 96)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert 0.0 <= a.min() and a.max() <= 1.0
    assert ia["label"] == label
    assert ia["tumour_mask"].any() == (label != "notumor")


def test_tumour_classes_differ_as_real_ones_do(heads):
    info = {lab: [make_brain_slice(100 + s, lab, 96, anatomy=heads[s % 4])[1] for s in range(8)]
            for lab in ("glioma", "meningioma", "pituitary")}
    edge = {lab: np.mean([i["tumour_to_inner_skull_mm"] for i in v]) for lab, v in info.items()}
    assert edge["meningioma"] < edge["glioma"]  # extra-axial, dural-based vs deep white matter
    # pituitary masses sit on the midline near the skull base, smaller than the others
    size = {lab: np.mean([i["tumour_radius_mm"] for i in v]) for lab, v in info.items()}
    assert size["pituitary"] < size["glioma"]
    assert all(i["view"] in ("axial", "coronal", "sagittal") for v in info.values() for i in v)


def test_glioma_is_heterogeneous_meningioma_homogeneous(heads):
    def cv(label):
        out = []
        for s in range(8):
            img, info = make_brain_slice(200 + s, label, 128, anatomy=heads[s % 4])
            vals = img[info["tumour_mask"]]
            out.append(vals.std() / max(vals.mean(), 1e-3))
        return float(np.mean(out))

    assert cv("glioma") > cv("meningioma")


def test_brain_slice_dataset_balanced():
    x, y = brain_slice_dataset(12, seed=1, size=64, n_subjects=3)
    assert x.shape == (12, 64, 64) and x.dtype == np.float32
    assert np.bincount(y, minlength=4).tolist() == [3, 3, 3, 3]
    x2, y2 = brain_slice_dataset(12, seed=1, size=64, n_subjects=3)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)


def test_unknown_tumour_label_rejected():
    with pytest.raises(ValueError):
        make_brain_slice(0, "astrocytoma")


# ---------------------------------------------------------------- chest
def test_chest_deterministic_and_labels():
    a, ia = make_chest_xray(5, {"Nodule"})
    b, _ = make_chest_xray(5, {"Nodule"})
    c, _ = make_chest_xray(6, {"Nodule"})
    assert a.shape == (128, 128) and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert ia["labels"]["Nodule"] == 1 and ia["labels"]["Lung Opacity"] == 1 and ia["labels"]["No Finding"] == 0
    _, n = make_chest_xray(5, set())
    assert n["labels"]["No Finding"] == 1 and not n["findings"]
    _, e = make_chest_xray(5, {"Effusion"})  # NIH alias
    assert e["findings"] == ["Pleural Effusion"]
    assert FINDING_ALIASES["Effusion"] in CHEST_FINDINGS
    with pytest.raises(ValueError):
        make_chest_xray(0, {"Broken heart"})


def test_cardiomegaly_ctr_from_masks():
    normal = [make_chest_xray(s, set())[1]["ctr"] for s in range(6)]
    big = [make_chest_xray(s, {"Cardiomegaly"})[1]["ctr"] for s in range(6)]
    assert max(normal) < 0.5 < min(big)


def test_effusion_opacifies_the_lung_base_and_pneumothorax_is_lucent():
    eff, ptx = [], []
    for s in range(6):
        img_n, info_n = make_chest_xray(s, set())
        img_e, info_e = make_chest_xray(s, {"Pleural Effusion"})
        m = info_e["masks"]["Pleural Effusion"]
        eff.append(img_e[m].mean() - img_n[m].mean())
        img_p, info_p = make_chest_xray(s, {"Pneumothorax"})
        pm = info_p["masks"]["Pneumothorax"]
        rest = info_p["masks"]["lungs"] & ~pm
        # lucent rim without markings: darker and smoother than the lung it surrounds
        ptx.append(img_p[pm].std() < img_p[rest].std() + 0.02)
    assert np.mean(eff) > 0.1
    assert sum(ptx) >= 5


def test_chest_dataset_cooccurrence_and_normals():
    x, y = chest_dataset(120, seed=3, size=64)
    assert x.shape == (120, 64, 64) and y.shape == (120, len(CHEST_FINDINGS))
    normal_share = float((y.sum(axis=1) == 0).mean())
    assert 0.2 < normal_share < 0.55
    col = {f: i for i, f in enumerate(CHEST_FINDINGS)}
    edema = y[:, col["Edema"]] == 1
    assert edema.any()
    assert y[edema, col["Cardiomegaly"]].mean() > y[~edema, col["Cardiomegaly"]].mean()


# ---------------------------------------------------------------- spine
@pytest.mark.parametrize("lesion", SPINE_LESIONS)
def test_spine_boxes_tight_and_inside(lesion):
    img, boxes, info = make_spine_xray(11, [lesion])
    rows, cols = img.shape
    assert (rows, cols) == (256, 128)
    assert boxes and all(b[0] == lesion for b in boxes)
    mask = info["masks"][lesion]
    covered = np.zeros_like(mask)
    for _, x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= cols and 0 <= y0 < y1 <= rows
        box_mask = mask[y0:y1, x0:x1]
        # tight: every edge row/column of the box touches the lesion
        assert box_mask[0].any() and box_mask[-1].any() and box_mask[:, 0].any() and box_mask[:, -1].any()
        covered[y0:y1, x0:x1] = True
    assert not (mask & ~covered).any()


def test_spine_implant_is_bright_and_normals_have_no_boxes():
    img, boxes, _ = make_spine_xray(4, ["Surgical implant"])
    _, x0, y0, x1, y1 = boxes[0]
    assert img[y0:y1, x0:x1].max() > np.quantile(img, 0.99)
    img2, boxes2, info2 = make_spine_xray(4, [])
    assert boxes2 == [] and info2["lesions"] == []
    a, _, _ = make_spine_xray(4, [])
    assert np.array_equal(a, img2)


def test_spine_dataset():
    x, abnormal, boxes = spine_dataset(20, seed=2, abnormal_fraction=0.5, size=(128, 64))
    assert x.shape == (20, 128, 64)
    assert 3 <= abnormal.sum() <= 17
    for ab, bx in zip(abnormal, boxes):
        assert (len(bx) > 0) == bool(ab)
        assert all(lab in SPINE_LESIONS for lab, *_ in bx)


# ---------------------------------------------------------------- DICOM
@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
def test_dicom_bytes_readable_and_anonymous(photometric):
    import pydicom

    img, _, info = make_spine_xray(1, ["Osteophytes"])
    data = as_dicom_bytes(img, modality="DX", body_part="SPINE", pixel_spacing_mm=info["pixel_spacing_mm"],
                          photometric=photometric)
    ds = pydicom.dcmread(io.BytesIO(data))
    assert ds.Modality == "DX" and ds.BodyPartExamined == "SPINE"
    assert ds.PhotometricInterpretation == photometric and ds.BitsStored == 12
    for kw in ("PatientName", "PatientID", "PatientBirthDate", "StudyDate", "InstitutionName",
               "ReferringPhysicianName", "AccessionNumber"):
        assert kw not in ds, kw
    px = ds.pixel_array.astype(np.float64) / 4095.0
    if photometric == "MONOCHROME1":
        px = 1.0 - px
    assert px.shape == img.shape
    assert np.abs(px - img).max() <= 0.5 / 4095 + 1e-9
    assert float(ds.PixelSpacing[0]) == pytest.approx(info["pixel_spacing_mm"], abs=1e-4)
    assert as_dicom_bytes(img, modality="DX", body_part="SPINE", pixel_spacing_mm=info["pixel_spacing_mm"],
                          photometric=photometric) == data


def test_chest_dicom():
    import pydicom

    img, _ = make_chest_xray(2, {"Cardiomegaly"})
    ds = pydicom.dcmread(io.BytesIO(as_dicom_bytes(img, modality="CR", body_part="CHEST", pixel_spacing_mm=2.7)))
    assert ds.Modality == "CR" and ds.ViewPosition == "PA" and "PatientName" not in ds


def test_make_spine_case_matches_boxes():
    from core.synth.spine import make_spine_case

    n_abnormal = 0
    for seed in range(6):
        img, info = make_spine_case(seed)
        a, _ = make_spine_case(seed)
        assert np.array_equal(a, img)
        assert (len(info["boxes"]) > 0) == bool(info["lesions"])
        n_abnormal += bool(info["lesions"])
        for b in info["boxes"]:
            assert b["label"] in SPINE_LESIONS and 0 <= b["x0"] < b["x1"] <= img.shape[1]
    assert 0 < n_abnormal < 6
