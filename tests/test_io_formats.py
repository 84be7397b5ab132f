"""load_scan on generated inputs: every format, transfer syntax, orientation and source kind."""

from __future__ import annotations

import gzip
import io

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

import dicom_factory as fac
from core.io import MultipleSeriesError, UnknownSeriesError, list_series, load_scan
from core.preprocess import to_display_2d
from core.types import Modality


def _nifti_bytes(data: np.ndarray, affine: np.ndarray, gz: bool = True, cls=nib.Nifti1Image) -> bytes:
    img = cls(data, affine)
    raw = img.to_bytes()
    return gzip.compress(raw) if gz else raw


# ---------------------------------------------------------------- NIfTI / MGZ

@pytest.mark.parametrize("gz", [True, False])
def test_nifti_ras_reorientation_from_las_and_permuted(gz):
    rng = np.random.default_rng(0)
    data = rng.random((6, 7, 8)).astype(np.float32)
    # LAS with 2/3/4 mm voxels: x axis points left, so RAS+ flips it.
    las = np.diag([-2.0, 3.0, 4.0, 1.0])
    las[:3, 3] = [10, -20, 30]
    scan = load_scan(_nifti_bytes(data, las, gz), filename="t.nii.gz" if gz else "t.nii")
    assert "".join(nib.aff2axcodes(scan.affine)) == "RAS"
    assert scan.spacing == pytest.approx((2.0, 3.0, 4.0))
    np.testing.assert_allclose(scan.array[0], data[::-1], rtol=0, atol=0)
    # World coordinates of each voxel are preserved by the reorientation.
    world_old = las @ np.array([5, 0, 0, 1.0])
    world_new = scan.affine @ np.array([0, 0, 0, 1.0])
    np.testing.assert_allclose(world_old, world_new)
    assert scan.meta["format"] == "nifti" and scan.meta["reoriented_to_ras"]
    assert scan.history[-1].startswith("reorient LAS")

    # Axes permuted (PSR-like sagittal storage): axis 0 -> A, axis 1 -> S, axis 2 -> R.
    perm = np.zeros((4, 4))
    perm[1, 0], perm[2, 1], perm[0, 2], perm[3, 3] = 1.0, 1.0, 1.0, 1.0
    scan2 = load_scan(_nifti_bytes(data, perm, gz))
    assert scan2.shape == (8, 6, 7)
    np.testing.assert_array_equal(scan2.array[0], np.transpose(data, (2, 0, 1)))


def test_nifti2_4d_and_scaling():
    data = np.arange(4 * 5 * 6 * 2, dtype=np.int16).reshape(4, 5, 6, 2)
    img = nib.Nifti1Image(data, np.eye(4))
    img.header.set_slope_inter(0.5, 10.0)
    scan = load_scan(img.to_bytes(), filename="x.nii")
    assert scan.array.shape == (2, 4, 5, 6)  # 4th dimension -> channels
    np.testing.assert_allclose(scan.array[1], data[..., 1] * 0.5 + 10.0)
    n2 = load_scan(_nifti_bytes(np.ones((5, 5, 5), np.float32) * np.arange(5), np.eye(4), cls=nib.Nifti2Image))
    assert n2.meta["variant"] == "NIfTI-2"
    long = np.zeros((4, 4, 4, 20), np.float32)
    long[..., 0] = 1.0
    cut = load_scan(nib.Nifti1Image(long, np.eye(4)).to_bytes())
    assert cut.array.shape == (1, 4, 4, 4) and cut.array.max() == 1.0
    assert "first of 20" in cut.meta["volumes_kept"]


def test_mgz_from_memory():
    data = np.random.default_rng(1).integers(0, 255, (8, 9, 10)).astype(np.uint8)
    aff = np.array([[-1, 0, 0, 5], [0, 0, 1, -5], [0, -1, 0, 7], [0, 0, 0, 1]], dtype=float)  # FreeSurfer LIA
    raw = nib.MGHImage(data, aff).to_bytes()
    scan = load_scan(gzip.compress(raw), filename="brain.mgz")
    assert scan.meta["format"] == "mgz" and scan.meta["original_orientation"] == "LIA"
    assert "".join(nib.aff2axcodes(scan.affine)) == "RAS"
    ref = nib.as_closest_canonical(nib.MGHImage(data, aff))
    np.testing.assert_array_equal(scan.array[0], ref.get_fdata(dtype=np.float32))
    assert load_scan(raw, filename="brain.mgh").shape == scan.shape


# ---------------------------------------------------------------- PNG / JPEG

def _png(arr: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode=mode).save(buf, format="PNG") if mode else Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def test_png_gray8_layout_is_column_row():
    img = np.zeros((70, 90), np.uint8)
    img[5, 80] = 255  # row 5, column 80
    scan = load_scan(_png(img), filename="a.png")
    assert scan.array.shape == (1, 90, 70, 1)
    assert scan.array[0, 80, 5, 0] == 255
    np.testing.assert_array_equal(to_display_2d(scan), img.astype(np.float32))
    assert scan.modality is Modality.UNKNOWN and scan.meta["bits_stored"] == 8
    assert scan.spacing == (1.0, 1.0, 1.0) and scan.meta["spacing_known"] is False


def test_png_16bit_rgb_rgba_palette_and_jpeg():
    g16 = (np.arange(80 * 64).reshape(80, 64) * 12).astype(np.uint16)
    s16 = load_scan(_png(g16))
    assert s16.meta["bits_stored"] == 16 and s16.array.max() == g16.max()
    np.testing.assert_array_equal(to_display_2d(s16), g16.astype(np.float32))

    rgb = np.random.default_rng(0).integers(0, 255, (64, 72, 3)).astype(np.uint8)
    srgb = load_scan(_png(rgb))
    assert srgb.array.shape == (3, 72, 64, 1)
    np.testing.assert_allclose(to_display_2d(srgb), rgb.mean(axis=2), rtol=1e-6)

    rgba = np.dstack([rgb, np.full((64, 72), 128, np.uint8)])
    assert load_scan(_png(rgba)).array.shape == (3, 72, 64, 1)

    pal = Image.fromarray(rgb).convert("P")
    buf = io.BytesIO()
    pal.save(buf, format="PNG")
    assert load_scan(buf.getvalue()).array.shape[0] == 3

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=95)
    sj = load_scan(buf.getvalue(), filename="photo.jpg")
    assert sj.meta["format"] == "jpeg" and sj.array.shape == (3, 72, 64, 1)
    buf = io.BytesIO()
    Image.fromarray(rgb[..., 0]).save(buf, format="JPEG")
    assert load_scan(buf.getvalue()).array.shape == (1, 72, 64, 1)


# ---------------------------------------------------------------- DICOM single / multi-frame

@pytest.mark.parametrize("syntax", ["explicit", "rle", "j2k", "jpeg"])
def test_generated_dicom_transfer_syntaxes(syntax):
    px = fac.phantom() if syntax != "jpeg" else (fac.phantom() // 16).astype(np.uint8)
    scan = load_scan(fac.make_dicom(px, syntax), filename="x.dcm")
    expected = {"explicit": "Explicit VR", "rle": "RLE", "j2k": "JPEG 2000", "jpeg": "JPEG Baseline"}[syntax]
    assert expected in scan.meta["transfer_syntax"]
    tol = 8 if syntax == "jpeg" else 0  # lossy
    assert np.abs(to_display_2d(scan) - px).max() <= tol
    assert scan.spacing[:2] == pytest.approx((0.8, 0.5))  # x = column spacing, y = row spacing
    assert scan.modality is Modality.MR and scan.meta["body_part_examined"] == "KNEE"


@pytest.mark.parametrize("name", ["MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm", "MR_small_RLE.dcm",
                                  "JPGLosslessP14SV1_1s_1f_8b.dcm", "SC_rgb_jpeg_dcmtk.dcm", "JPEG2000.dcm"])
def test_pydicom_data_transfer_syntaxes(name):
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    if path is None:
        pytest.skip("pydicom-data not installed")
    scan = load_scan(path)
    assert np.isfinite(scan.array).all() and scan.array.std() > 0
    if name.startswith("MR_small"):
        ref = load_scan(get_testdata_file("MR_small.dcm"))
        np.testing.assert_array_equal(scan.array, ref.array)  # lossless: identical to the uncompressed file
    if name.startswith("SC_rgb"):
        assert scan.array.shape[0] == 3


def test_rescale_window_and_monochrome1():
    px = fac.phantom()
    scan = load_scan(fac.make_dicom(px, slope=2.0, intercept=-1024.0, window=(400.0, 1500.0), modality="CT"))
    assert scan.meta["rescale_applied"] and scan.modality is Modality.CT
    np.testing.assert_allclose(to_display_2d(scan), px * 2.0 - 1024.0)
    assert (scan.meta["window_center"], scan.meta["window_width"]) == (400.0, 1500.0)

    inv = load_scan(fac.make_dicom(px, photometric="MONOCHROME1", window=(1000.0, 500.0), modality="DX"))
    assert inv.meta["monochrome1_inverted"] and inv.modality is Modality.DX
    np.testing.assert_allclose(to_display_2d(inv), 4095.0 - px)  # 12-bit stored range
    assert inv.meta["window_center"] == 4095.0 - 1000.0


def test_other_modality_kept_in_meta_and_imager_spacing():
    ds = fac.make_dataset(fac.phantom(), modality="MG", position=None, orientation=None)
    del ds.PixelSpacing
    ds.ImagerPixelSpacing = [0.1, 0.1]
    scan = load_scan(fac.to_bytes(ds))
    assert scan.modality is Modality.UNKNOWN and scan.meta["dicom_modality"] == "MG"
    assert scan.spacing[:2] == pytest.approx((0.1, 0.1)) and scan.meta["pixel_spacing_source"] == "ImagerPixelSpacing"


def test_multiframe_dicom_is_a_volume():
    from pydicom.data import get_testdata_file

    frames = np.stack([fac.phantom(seed=i) + 50 * i for i in range(5)]).astype(np.uint16)
    scan = load_scan(fac.make_dicom(frames, thickness=3.0))
    assert scan.is_volume and scan.shape == (80, 64, 5)
    assert scan.spacing == pytest.approx((0.8, 0.5, 3.0))
    assert "".join(nib.aff2axcodes(scan.affine)) == "RAS"
    path = get_testdata_file("emri_small.dcm")  # Enhanced MR, per-frame functional groups
    if path is not None:
        em = load_scan(path)
        assert em.is_volume and em.shape[2] == 10 and em.modality is Modality.MR


# ---------------------------------------------------------------- series, zip, sources

def test_series_sorted_by_position_whatever_the_order():
    files = fac.make_series(5, step_mm=2.5)
    scan = load_scan(files[::-1])
    assert scan.shape == (80, 64, 5) and scan.spacing == pytest.approx((0.8, 0.5, 2.5))
    # axial LPS slices -> RAS flips x and y; slice k has offset 100 * k.
    means = [scan.array[0, :, :, k].mean() for k in range(5)]
    np.testing.assert_allclose(np.diff(means), 100.0, rtol=1e-5)
    assert scan.affine[2, 3] == pytest.approx(10.0)
    shuffled = [files[i] for i in (2, 0, 4, 1, 3)]
    np.testing.assert_array_equal(load_scan(shuffled).array, scan.array)


def test_zip_with_two_series_offers_both_and_loads_the_chosen_one():
    a = fac.make_series(3, fac.SERIES_UID_A, series_number=3)
    b = fac.make_series(5, fac.SERIES_UID_B, series_number=7, rows=70, cols=70, seed=2)
    files = {f"DICOM/A/{i}.dcm": d for i, d in enumerate(a)} | {f"DICOM/B/{i}": d for i, d in enumerate(b)}
    files["DICOM/readme.txt"] = b"exported by a fake PACS"
    zipped = fac.zip_bytes(files)
    with pytest.raises(MultipleSeriesError) as err:
        load_scan(zipped, filename="study.zip")
    series = err.value.series
    assert [n for _, _, n in series] == [3, 5]
    assert "choose one" in str(err.value) and "2 DICOM series" in str(err.value)
    for _sid, label, _n in series:  # labels are built from technical tags only
        assert "Zelda" not in label and fac.SERIES_UID_A not in label and "MR" in label
    assert list_series(zipped, filename="study.zip") == series
    scan_b = load_scan(zipped, filename="study.zip", series=series[1][0])
    assert scan_b.shape == (70, 70, 5) and scan_b.meta["n_series_in_upload"] == 2
    assert load_scan(zipped, series=series[0][0]).shape == (80, 64, 3)
    assert load_scan(zipped, series="2").shape == (70, 70, 5)  # 1-based index also accepted
    with pytest.raises(UnknownSeriesError):
        load_scan(zipped, series="series-nope")
    # Several files given at once behave like the zip.
    with pytest.raises(MultipleSeriesError):
        load_scan(a + b)


def test_zip_holding_one_nifti_and_single_dicom_list_series():
    nii = _nifti_bytes(np.ones((4, 4, 4), np.float32) * np.arange(4), np.eye(4))
    scan = load_scan(fac.zip_bytes({"vol.nii.gz": nii}), filename="x.zip")
    assert scan.meta["format"] == "nifti"
    one = fac.make_dicom(fac.phantom())
    assert [n for _, _, n in list_series(one)] == [1]
    assert list_series(nii) == []


class FakeUpload:
    """Mimics Streamlit's UploadedFile (name, size, getvalue)."""

    def __init__(self, name: str, data: bytes):
        self.name, self._data, self.size = name, data, len(data)

    def getvalue(self) -> bytes:
        return self._data


def test_sources_path_bytes_filelike_upload(tmp_path):
    data = _png(fac.phantom(70, 70).astype(np.uint8))
    p = tmp_path / "img.png"
    p.write_bytes(data)
    scans = [load_scan(p), load_scan(str(p)), load_scan(data, filename="img.png"), load_scan(io.BytesIO(data)),
             load_scan(FakeUpload("img.png", data))]
    digests = {s.source.split("sha256:")[1] for s in scans}
    assert len(digests) == 1
    assert scans[0].source.startswith("img.png ") and scans[4].source.startswith("img.png ")
    for s in scans[1:]:
        np.testing.assert_array_equal(s.array, scans[0].array)
    uploads = [FakeUpload(f"s{i}.dcm", d) for i, d in enumerate(fac.make_series(3))]
    assert load_scan(uploads).shape == (80, 64, 3)


def test_dicom_without_preamble_and_deflate_via_suffix():
    from pydicom.data import get_testdata_file

    path = get_testdata_file("rtstruct.dcm")  # raw stream without "DICM"; an RT structure set, no image
    if path is None:
        pytest.skip("pydicom-data not installed")
    from core.io import NoPixelDataError

    with pytest.raises(NoPixelDataError, match="RT Structure Set"):
        load_scan(path)


def test_directory_is_a_series(samples_dir, tmp_path):
    scan = load_scan(samples_dir / "brain_mri_dicom")
    assert scan.shape == (512, 512, 3)
    from core.io import EmptyArchiveError

    with pytest.raises(EmptyArchiveError):
        load_scan(tmp_path)


def test_content_decides_over_the_suffix():
    dcm = fac.make_dicom(fac.phantom())
    as_png = load_scan(dcm, filename="scan.png")  # a DICOM named .png is read as DICOM
    assert as_png.meta["format"] == "dicom" and as_png.meta["suffix_mismatch"] == "named .png, read as dicom"
    buf = io.BytesIO()
    Image.fromarray(fac.phantom(70, 70).astype(np.uint8)).save(buf, format="JPEG")
    jpeg_as_png = load_scan(buf.getvalue(), filename="slice.png")  # raster <-> raster: harmless, read by content
    assert jpeg_as_png.meta["format"] == "jpeg"
    nii = _nifti_bytes(np.ones((4, 4, 4), np.float32) * np.arange(4), np.eye(4))
    assert load_scan(nii, filename="volume.dcm").meta["format"] == "nifti"
    assert load_scan(nii).meta["format_detected_by"] == "magic"  # no name at all
