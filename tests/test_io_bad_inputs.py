"""Bad inputs: each gives its own clear refusal, nothing crashes, nothing is written to disk."""

from __future__ import annotations

import builtins
import dataclasses
import gzip
import io
import os
import tempfile
import time

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

import dicom_factory as fac
from core.config import get_settings
from core.io import (CorruptFileError, EmptyArchiveError, FileTooLargeError, FormatMismatchError, NoPixelDataError,
                     ScanError, UnknownFormatError, load_scan)
from core.validation import check

TEXT = b"Patient list\nThis is just a text file someone renamed.\n" * 20


def _jpeg_photo() -> bytes:
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _empty_zip() -> bytes:
    return fac.zip_bytes({})


def _zero_volume() -> bytes:
    return gzip.compress(nib.Nifti1Image(np.zeros((64, 64, 64), np.float32), np.eye(4)).to_bytes())


def _bad_inputs() -> dict[str, tuple[bytes, str]]:
    dcm = fac.make_dicom(fac.phantom())
    return {
        "text.dcm": (TEXT, "x.dcm"), "text.png": (TEXT, "x.png"), "text.nii": (TEXT, "x.nii"),
        "truncated.dcm": (dcm[: len(dcm) // 2], "t.dcm"), "empty.zip": (_empty_zip(), "e.zip"),
        "1x1.png": (_png(np.full((1, 1), 200, np.uint8)), "tiny.png"), "zero.nii.gz": (_zero_volume(), "z.nii.gz"),
        "photo.dcm": (_jpeg_photo(), "astronaut.dcm"),
    }


# Expected failed check code of each bad input and a phrase its message must contain.
EXPECTED = {
    "text.dcm": ("unknown_format", "text file"), "text.png": ("unknown_format", "text file"),
    "text.nii": ("unknown_format", "text file"), "truncated.dcm": ("corrupt_file", "truncated"),
    "empty.zip": ("empty_archive", "empty"), "1x1.png": ("resolution_too_low", "1x1"),
    "zero.nii.gz": ("blank_image", "blank"), "photo.dcm": ("format_mismatch", "JPEG"),
}


def test_each_bad_input_has_its_own_clear_message():
    messages = {}
    for key, (data, name) in _bad_inputs().items():
        report = check(data, filename=name)
        assert not report.accepted, key
        code, phrase = EXPECTED[key]
        failed = {c.code: c.message for c in report.failures}
        assert code in failed, (key, failed)
        assert phrase.lower() in failed[code].lower(), (key, failed[code])
        assert "accepted" in failed[code].lower(), (key, failed[code])  # says what is accepted
        messages[key] = failed[code]
    # Distinct situations give distinct messages (the three renamed text files share one kind of message
    # but each names the suffix it pretended to have).
    assert len(set(messages.values())) == len(messages)


def test_load_scan_raises_scan_errors_for_undecodable_inputs():
    bad = _bad_inputs()
    with pytest.raises(UnknownFormatError, match="text file"):
        load_scan(*bad["text.dcm"])
    with pytest.raises(CorruptFileError, match="truncated"):
        load_scan(*bad["truncated.dcm"])
    with pytest.raises(EmptyArchiveError, match="empty"):
        load_scan(*bad["empty.zip"])
    with pytest.raises(FormatMismatchError, match="named like a DICOM"):
        load_scan(*bad["photo.dcm"])
    # The 1x1 PNG and the all-zero volume decode fine; the content checks refuse them.
    assert load_scan(*bad["1x1.png"]).shape == (1, 1, 1)
    assert load_scan(*bad["zero.nii.gz"]).array.max() == 0


def test_more_refusals():
    zip_of_text = fac.zip_bytes({"notes.txt": TEXT, "more/readme.md": b"# hi"})
    assert "holds no DICOM images" in str(pytest.raises(EmptyArchiveError, load_scan, zip_of_text).value)
    assert check(zip_of_text).failures[0].code == "empty_archive"

    no_pixels = fac.make_dataset(fac.phantom())
    del no_pixels.PixelData
    report = check(fac.to_bytes(no_pixels), filename="sr.dcm")
    assert [c.code for c in report.failures] == ["no_pixel_data"]
    assert pytest.raises(NoPixelDataError, load_scan, fac.to_bytes(no_pixels)).value.code == "no_pixel_data"

    nan_vol = np.random.default_rng(0).random((70, 70, 70)).astype(np.float32)
    nan_vol[3, 3, 3] = np.nan
    report = check(nib.Nifti1Image(nan_vol, np.eye(4)).to_bytes(), filename="n.nii")
    assert "non_finite_values" in {c.code for c in report.failures}

    absurd = nib.Nifti1Image(np.random.default_rng(0).random((70, 70, 70)).astype(np.float32), np.diag([90, 90, 90, 1]))
    report = check(absurd.to_bytes(), filename="a.nii")
    assert [c.code for c in report.failures] == ["absurd_spacing"]

    noisy = gzip.compress(nib.Nifti1Image(np.random.default_rng(1).random((70, 70, 70)).astype(np.float32),
                                          np.eye(4)).to_bytes())
    cut_nii = noisy[: len(noisy) // 2]
    assert [c.code for c in check(cut_nii, "c.nii.gz").failures] == ["corrupt_file"]

    for blob, what in ((b"", "empty file"), (b"%PDF-1.7\n...", "PDF"), (b"\x00" * 5000, "zero bytes"),
                       (gzip.compress(TEXT), "gzip")):
        failures = check(blob, "x.nii.gz").failures
        assert failures[0].code == "unknown_format" and what in failures[0].message

    broken_png = _png(fac.phantom(80, 80).astype(np.uint8))[:300]
    assert check(broken_png, "b.png").failures[0].code == "corrupt_file"

    assert check(12345).failures[0].code == "unknown_format"  # not a file at all: still no exception
    assert check("/nonexistent/file.dcm").failures[0].code == "corrupt_file"


def test_600_mb_file_refused_by_size_without_reading(tmp_path, monkeypatch):
    big = tmp_path / "huge_scan.nii.gz"
    with open(big, "wb") as fh:
        fh.truncate(600 * 1024**2)  # sparse: no 600 MB actually written
    from core.io import source

    def no_full_read(self):  # a full read of the file would defeat the point
        raise AssertionError("the file was read")

    monkeypatch.setattr(source.Source, "read", no_full_read)
    start = time.perf_counter()
    report = check(big)
    assert time.perf_counter() - start < 1.0
    assert [c.code for c in report.failures] == ["file_too_large"]
    assert "600.0 MB" in report.failures[0].message and "512.0 MB" in report.failures[0].message
    with pytest.raises(FileTooLargeError):
        load_scan(big)


def test_size_limit_depends_on_2d_or_volume_decided_before_decoding():
    small = dataclasses.replace(get_settings(), max_image_bytes=20_000, max_volume_bytes=10**9)
    png = _png(np.random.default_rng(0).integers(0, 255, (200, 200), dtype=np.uint8))  # ~40 kB, 2D
    assert len(png) > 20_000
    failures = check(png, "big.png", settings=small).failures
    assert [c.code for c in failures] == ["file_too_large"] and "2D image" in failures[0].message
    vol = nib.Nifti1Image(np.random.default_rng(0).random((70, 70, 70)).astype(np.float32), np.eye(4)).to_bytes()
    assert check(vol, "v.nii", settings=small).accepted  # volumes use the volume limit
    single = fac.make_dicom(fac.phantom(200, 200))
    assert check(single, "s.dcm", settings=small).failures[0].code == "file_too_large"
    multi = fac.make_dicom(np.stack([fac.phantom(100, 100)] * 4))
    assert check(multi, "m.dcm", settings=small).accepted  # multi-frame DICOM = volume
    tiny_volume_limit = dataclasses.replace(small, max_volume_bytes=50_000)
    series_zip = fac.zip_bytes({f"{i}.dcm": d for i, d in enumerate(fac.make_series(3, rows=120, cols=120))})
    codes = [c.code for c in check(series_zip, "s.zip", settings=tiny_volume_limit).failures]
    assert codes == ["file_too_large"]


def test_nothing_written_to_disk(tmp_path, monkeypatch):
    """Loading and checking every kind of input (good and bad) creates no file anywhere."""
    spill = tmp_path / "tmp"
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))
    monkeypatch.setenv("TMPDIR", str(spill))
    written: list[str] = []
    real_open = builtins.open

    def spy_open(file, mode="r", *args, **kwargs):
        if any(ch in mode for ch in "wax+"):
            written.append(str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy_open)
    def forbidden(name):
        def _refuse(*args, **kwargs):
            written.append(f"tempfile.{name}")
            raise AssertionError(f"tempfile.{name} used")
        return _refuse

    for fn in ("mkstemp", "mkdtemp", "NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile"):
        monkeypatch.setattr(tempfile, fn, forbidden(fn))
    before = set(os.listdir(tempfile.gettempdir()))
    inputs = list(_bad_inputs().values()) + [
        (fac.make_dicom(fac.phantom(), "j2k"), "a.dcm"), (fac.make_dicom(fac.phantom(), "rle"), "b.dcm"),
        (fac.zip_bytes({f"{i}.dcm": d for i, d in enumerate(fac.make_series(3))}), "s.zip"),
        (gzip.compress(nib.MGHImage(np.ones((8, 8, 8), np.float32), np.eye(4)).to_bytes()), "b.mgz"),
    ]
    for data, name in inputs:
        check(data, filename=name)
        try:
            load_scan(data, filename=name)
        except ScanError:
            pass  # the refusal itself is asserted elsewhere; here only disk writes matter
    assert written == []
    assert list(spill.iterdir()) == []
    assert set(os.listdir(tempfile.gettempdir())) == before
