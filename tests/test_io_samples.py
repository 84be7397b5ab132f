"""Every real sample in ../shared/samples loads through load_scan with the right geometry and values."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.io import load_scan
from core.preprocess import to_display_2d
from core.types import Modality

SAMPLE_SUFFIXES = (".dcm", ".dicom", ".nii.gz", ".png", ".jpg")


def _files(samples_dir):
    return sorted(p for p in samples_dir.rglob("*") if p.is_file() and p.name.endswith(SAMPLE_SUFFIXES))


def test_every_sample_loads(samples_dir):
    files = _files(samples_dir)
    assert len(files) >= 15
    for path in files:
        scan = load_scan(path)
        assert scan.array.dtype == np.float32 and scan.array.ndim == 4, path.name
        assert np.isfinite(scan.array).all(), path.name
        assert scan.array.std() > 0, path.name
        # The display name is the file name unless that name is itself an identifier (VinDr names
        # files by their SOPInstanceUID, which PS3.15 replaces).
        assert scan.source.startswith((path.name + " sha256:", "upload")), path.name
        json.dumps(dict(scan.meta))  # plain data: storable and showable as a table
        img = to_display_2d(scan)
        assert img.ndim == 2 and img.shape[0] >= 64 and img.shape[1] >= 64, path.name


def test_vindr_jpeg2000_spine(samples_dir):
    path = next((samples_dir / "spine_xray").glob("*.dicom"))
    scan = load_scan(path.read_bytes(), filename=path.name)
    assert "JPEG 2000" in scan.meta["transfer_syntax"]
    assert scan.meta["rows"] == 1485 and scan.meta["columns"] == 1172
    # array[c, x=col, y=row, 0]: displayed image is (rows, cols)
    assert scan.array.shape == (1, 1172, 1485, 1)
    assert to_display_2d(scan).shape == (1485, 1172)
    assert scan.spacing[:2] == pytest.approx((0.143, 0.143))
    assert scan.meta["bits_stored"] == 12 and scan.array.max() <= 4095
    assert scan.meta["window_center"] is not None
    assert path.stem not in scan.source  # the file is named by its SOPInstanceUID


def test_rsna_monochrome1_pair(samples_dir):
    """Fake_MONOHR1.dcm is rsna_cr.dcm with only (0028,0004) changed to MONOCHROME1 (one byte differs):
    its stored pixels are the MONOCHROME2 image, so a correct MONOCHROME1 inversion shows it as the exact
    negative of rsna_cr. Both load; before inversion the arrays are identical (correlation 1)."""
    raw2 = (samples_dir / "chest_xray" / "rsna_cr.dcm").read_bytes()
    raw1 = (samples_dir / "chest_xray" / "Fake_MONOHR1.dcm").read_bytes()
    assert sum(a != b for a, b in zip(raw1, raw2)) == 1 and len(raw1) == len(raw2)
    mono2 = load_scan(raw2, filename="rsna_cr.dcm")
    mono1 = load_scan(raw1, filename="Fake_MONOHR1.dcm")
    assert mono1.meta["photometric_interpretation"] == "MONOCHROME1" and mono1.meta["monochrome1_inverted"]
    assert mono2.meta["monochrome1_inverted"] is False
    a, b = to_display_2d(mono1).ravel(), to_display_2d(mono2).ravel()
    # Undoing the inversion (8-bit: 255 - x) gives back rsna_cr's array: correlation > 0.99.
    assert np.corrcoef(255.0 - a, b)[0, 1] > 0.99
    np.testing.assert_array_equal(255.0 - a, b)
    assert mono1.modality is Modality.CR and mono1.meta["body_part_examined"] == "CHEST"


def test_real_monochrome1_chest_is_inverted():
    """pydicom-data RG1_UNCR.dcm is a genuine MONOCHROME1 chest CR: after inversion bone is bright and
    the lungs dark (the spine column is brighter than the lung fields)."""
    from pydicom.data import get_testdata_file

    path = get_testdata_file("RG1_UNCR.dcm")
    if path is None:
        pytest.skip("pydicom-data not installed")
    scan = load_scan(path)
    assert scan.meta["monochrome1_inverted"]
    img = to_display_2d(scan)
    rows, cols = img.shape
    band = img[rows // 3: 2 * rows // 3]
    spine = band[:, int(cols * 0.47): int(cols * 0.53)].mean()
    left = band[:, int(cols * 0.2): int(cols * 0.35)].ravel()
    lungs = np.r_[left, band[:, int(cols * 0.65): int(cols * 0.8)].ravel()]
    assert spine > lungs.mean() + 0.5 * lungs.std()


def test_brain_mri_dicom_files_form_one_sorted_volume(samples_dir):
    files = sorted((samples_dir / "brain_mri_dicom").glob("*.dcm"))
    singles = [load_scan(f) for f in files]
    scan = load_scan(list(reversed(files)))  # order of upload must not matter
    assert scan.modality is Modality.MR and scan.is_volume
    assert scan.shape == (512, 512, 3)
    assert scan.spacing == pytest.approx((0.41015625, 0.41015625, 1.5))
    assert scan.meta["sorted_by"] == "ImagePositionPatient"
    # RAS+: slice k of the volume is the k-th file in inferior -> superior order (z -92, -90.5, -89 LPS).
    # Singles are 2D, not reoriented (x=col, y=row); the LPS->RAS reorientation flips both in-plane axes.
    for k, single in enumerate(singles):
        np.testing.assert_array_equal(scan.array[0, :, :, k], single.array[0, ::-1, ::-1, 0])
    assert scan.affine[2, 3] == pytest.approx(-92.000669, abs=1e-3)


def test_brain_mri_dicom_as_zip(samples_dir, tmp_path):
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in sorted((samples_dir / "brain_mri_dicom").glob("*.dcm")):
            zf.write(f, "series/" + f.name)
    scan = load_scan(buf.getvalue(), filename="brain.zip")
    assert scan.shape == (512, 512, 3) and scan.meta["n_series_in_upload"] == 1


def test_knee_slices(samples_dir):
    for f in sorted((samples_dir / "knee_mri").glob("*.dcm")):
        scan = load_scan(f)
        assert scan.modality is Modality.MR and scan.is_2d
        assert scan.shape == (512, 512, 1)
        assert scan.spacing[:2] == pytest.approx((0.3125, 0.3125))
        assert scan.subject_pseudonym is None  # these files carry no patient identifier


def test_jpgs_and_pngs(samples_dir):
    for f in sorted((samples_dir / "brain_tumor").glob("*.jpg")):
        scan = load_scan(f)
        assert scan.meta["format"] == "jpeg" and scan.modality is Modality.UNKNOWN
        assert scan.array.shape[0] in (1, 3) and scan.shape[2] == 1
    for f in sorted((samples_dir / "chest_xray").glob("*.png")):
        scan = load_scan(f)
        assert scan.meta["format"] == "png" and scan.array.shape == (1, 512, 512, 1)


def test_nifti_t1_spacing_and_ras(samples_dir):
    import nibabel as nib

    path = samples_dir / "brain_t1" / "chris_t1.nii.gz"
    scan = load_scan(path)
    assert scan.spacing == pytest.approx((0.88, 0.88, 0.88), abs=0.01)
    assert "".join(nib.aff2axcodes(scan.affine)) == "RAS"
    assert scan.shape == (188, 256, 190)
    # Same voxels as nibabel's own closest-canonical reorientation.
    ref = nib.as_closest_canonical(nib.load(path))
    np.testing.assert_allclose(scan.affine, ref.affine, atol=1e-4)
    np.testing.assert_allclose(scan.array[0], ref.get_fdata(dtype=np.float32), atol=1e-4)
