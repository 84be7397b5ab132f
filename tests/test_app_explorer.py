"""AppTest of the Scan Explorer: uploads, QC report, slices, 3D view, metadata, refusals, no PHI."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from core.io.deid import IDENTIFYING_KEYWORDS
from core.validation import check
from tests.apptest_utils import assert_clean, elements, page_text, pick_sample, run_page, upload
from tests.scan_fixtures import head_nifti_bytes, png_bytes

PAGE = "pages/1_Scan_Explorer.py"


def test_empty_page_invites_an_upload():
    at = run_page(PAGE)
    assert_clean(at)
    assert at.file_uploader and at.radio[0].options == ["Upload", "Sample case"]
    assert any("Upload a scan" in i.value for i in at.info)


def test_volume_upload_shows_qc_slices_3d_and_metadata():
    at = upload(run_page(PAGE), [("head.nii.gz", head_nifti_bytes())])
    assert_clean(at)
    assert any(s.value.startswith("Input accepted") for s in at.success)
    labels = [s.label for s in at.slider]
    assert labels == ["Window level (centre)", "Window width", "Axial slice", "Coronal slice", "Sagittal slice"]
    assert at.slider[2].value == 32 and at.slider[2].max == 63
    assert len(elements(at, "bidi_component")) == 1  # the stpyvista 3D view
    assert len(at.image) == 3  # axial, coronal, sagittal
    meta = at.dataframe[-1].value
    values = dict(zip(meta["field"], meta["value"]))
    assert values["shape (X, Y, Z)"] == "64 x 64 x 64" and values["voxel size (mm)"] == "3 x 3 x 3"
    assert "subject pseudonym" in values
    at.slider[2].set_value(5).run()  # moving a slice slider keeps the page healthy
    assert_clean(at)
    at.toggle(key="explorer_volrender").set_value(True).run()  # volume rendering on
    assert_clean(at)
    assert len(elements(at, "bidi_component")) == 1


def test_2d_image_shows_a_height_field():
    at = upload(run_page(PAGE), [("slice.png", png_bytes())])
    assert_clean(at)
    assert any(s.value.startswith("Input accepted") for s in at.success)
    assert [s.label for s in at.slider] == ["Window level (centre)", "Window width"]
    assert len(elements(at, "bidi_component")) == 1
    assert "height field" in page_text(at)


@pytest.mark.parametrize(
    "name,data",
    [
        ("notes.dcm", b"Patient notes, not an image.\n" * 20),
        ("tiny.png", None),  # 1x1 PNG, filled below
        ("empty.zip", None),
    ],
)
def test_bad_input_gets_its_own_message_and_no_crash(name, data):
    if name == "tiny.png":
        buf = io.BytesIO()
        Image.fromarray(np.zeros((1, 1), np.uint8)).save(buf, format="PNG")
        data = buf.getvalue()
    elif name == "empty.zip":
        buf = io.BytesIO()
        zipfile.ZipFile(buf, "w").close()
        data = buf.getvalue()
    expected = check(data, filename=name)
    assert not expected.accepted
    at = upload(run_page(PAGE), [(name, data)])
    assert_clean(at)
    shown = [e.value for e in at.error]
    assert expected.reasons[0] in shown
    assert not elements(at, "bidi_component") and not at.slider  # refused: nothing else rendered


def _phi_dicom() -> tuple[bytes, list[str]]:
    """A real CT slice carrying fake identifiers in every identifying text attribute."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    fakes = {
        "PatientName": "Fakeperson^Zebulon",
        "PatientID": "PID-TEST-77231",
        "InstitutionName": "Saint Nowhere Clinic",
        "ReferringPhysicianName": "Quackenbush^Doctor",
        "AccessionNumber": "ACC99887766",
        "StudyDescription": "Zebulon head study",
        "SeriesDescription": "Saint Nowhere axial",
        "PatientBirthDate": "19230417",
        "InstitutionAddress": "12 Imaginary Lane",
        "StationName": "NOWHERE-CT-01",
    }
    assert set(fakes) <= IDENTIFYING_KEYWORDS
    for keyword, value in fakes.items():
        setattr(ds, keyword, value)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    needles = [v for v in fakes.values()] + ["Fakeperson", "Zebulon", "Quackenbush"]
    return buf.getvalue(), needles


def test_metadata_page_shows_no_identifying_values():
    data, needles = _phi_dicom()
    at = upload(run_page(PAGE), [("ct.dcm", data)])
    assert_clean(at)
    assert at.dataframe, "the metadata table must render for this test to mean anything"
    meta = at.dataframe[-1].value
    values = dict(zip(meta["field"], meta["value"]))
    assert values["modality"] == "CT" and values["subject pseudonym"].startswith("sub-")
    text = page_text(at).lower()
    assert values["subject pseudonym"].lower() in text  # the flattened text does include table cells
    leaked = [n for n in needles if n.lower() in text]
    assert not leaked, f"identifying values reached the page: {leaked}"


def _series_zip() -> bytes:
    """Two 3-slice MR series in one zip."""
    base = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for series_number, uid in ((1, "1.2.826.0.1.3680043.8.498.1"), (2, "1.2.826.0.1.3680043.8.498.2")):
            for k in range(3):
                ds = base.copy()
                ds.SeriesInstanceUID = uid
                ds.SeriesNumber = series_number
                ds.InstanceNumber = k + 1
                ds.SOPInstanceUID = f"{uid}.{k + 1}"
                ds.ImagePositionPatient = [0.0, 0.0, float(5 * k)]
                ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
                out = io.BytesIO()
                ds.save_as(out, enforce_file_format=True)
                zf.writestr(f"s{series_number}/img{k}.dcm", out.getvalue())
    return buf.getvalue()


def test_several_series_offer_a_choice():
    at = upload(run_page(PAGE), [("two_series.zip", _series_zip())])
    assert_clean(at)
    series_box = at.selectbox(key="explorer_series")
    assert len(series_box.options) == 2
    series_box.set_value(series_box.options[1]).run()
    assert_clean(at)
    assert any(s.value.startswith("Input accepted") for s in at.success)
    assert len(elements(at, "bidi_component")) == 1


def test_sample_case_can_be_picked():
    at = run_page(PAGE)
    at = pick_sample(at, "CT slice", key="explorer")
    assert_clean(at)
    assert any(s.value.startswith("Input accepted") for s in at.success)
    assert "real image" in page_text(at)  # provenance caption
    assert len(elements(at, "bidi_component")) == 1 and at.dataframe
