"""Tests of the sample-case catalogue."""

from __future__ import annotations

import io

import pytest

from core.synth.samples import (
    KIND_BRAIN_SLICE, KIND_BRAIN_VOLUME, KIND_CHEST, KIND_OTHER_MEDICAL, KIND_PHOTO, KIND_SPINE, get_sample_case,
    list_sample_cases,
)

KINDS = {KIND_BRAIN_VOLUME, KIND_BRAIN_SLICE, KIND_CHEST, KIND_SPINE, KIND_OTHER_MEDICAL, KIND_PHOTO}


def test_catalogue_shape():
    cases = list_sample_cases()
    names = [c.name for c in cases]
    assert len(names) == len(set(names))
    assert {c.kind for c in cases} == KINDS
    assert any(c.synthetic for c in cases) and any(not c.synthetic for c in cases)
    assert all(c.description and c.source for c in cases)
    with pytest.raises(KeyError):
        get_sample_case("no such case")


@pytest.mark.parametrize("name, suffix", [
    ("Phantom brain slice: glioma", ".png"),
    ("Phantom chest PA (normal, DICOM)", ".dcm"),
    ("Phantom lumbar spine lateral (lesions, DICOM)", ".dcm"),
    ("Photo (non-medical): cat", ".png"),
])
def test_loaders_return_bytes_and_filename(name, suffix):
    data, filename = get_sample_case(name).loader()
    assert isinstance(data, bytes) and len(data) > 1000
    assert filename.endswith(suffix)
    if suffix == ".png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert data[128:132] == b"DICM"


def test_real_chest_cr_ships_offline():
    pytest.importorskip("pydicom")
    import pydicom

    data, filename = get_sample_case("Real chest CR (pydicom-data RG1_UNCR)").loader()
    ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    assert filename == "RG1_UNCR.dcm" and ds.Modality == "CR" and ds.BodyPartExamined == "CHEST"


def test_phantom_cases_load_through_core_io_when_available():
    io_mod = pytest.importorskip("core.io")
    load_scan = getattr(io_mod, "load_scan", None)
    if load_scan is None:
        pytest.skip("core.io.load_scan not available yet")
    data, filename = get_sample_case("Phantom lumbar spine lateral (normal, DICOM)").loader()
    scan = load_scan(data, filename=filename)
    assert scan.is_2d and scan.array.shape[1:3] == (256, 512)  # (C, X=cols, Y=rows, 1)
    data, filename = get_sample_case("Phantom brain slice: notumor").loader()
    assert load_scan(data, filename=filename).is_2d
