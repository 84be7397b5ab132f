"""core.validation: coded checks, never raising, on good, bad and damaged inputs."""

from __future__ import annotations

import gzip
import io

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

import dicom_factory as fac
from core.io import load_scan
from core.types import QCReport, Scan, Modality, Severity
from core.validation import check, check_scan, load_and_check

CONTENT_CODES = {"non_finite_values", "blank_image", "resolution_too_low", "absurd_spacing"}


def _png(arr) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _scan(array: np.ndarray, spacing=(1.0, 1.0, 1.0), meta=None) -> Scan:
    return Scan(array.astype(np.float32), np.diag(list(spacing) + [1.0]), Modality.MR, meta or {}, "t sha256:0")


def test_good_input_reports_every_check_as_passed():
    report = check(fac.make_dicom(fac.phantom(96, 96)), filename="ok.dcm")
    assert report.accepted and not report.warnings
    codes = {c.code for c in report.checks}
    assert {"file_size", "format_detected", "loaded"} | CONTENT_CODES <= codes
    assert all(c.message for c in report.checks)
    fmt = next(c for c in report.checks if c.code == "format_detected")
    assert fmt.value == "dicom" and fmt.severity is Severity.INFO
    assert report.to_records()[0].keys() == {"code", "passed", "severity", "message", "value"}


def test_every_sample_is_accepted(samples_dir):
    for path in sorted(p for p in samples_dir.rglob("*") if p.suffix in (".dcm", ".dicom", ".gz", ".png", ".jpg")):
        report = check(path)
        assert report.accepted, (path.name, report.reasons)


def test_check_scan_content_rules():
    rng = np.random.default_rng(0)
    good = rng.random((1, 80, 80, 1))
    assert check_scan(_scan(good)).accepted
    assert [c.code for c in check_scan(_scan(np.full((1, 80, 80, 1), 7.0))).failures] == ["blank_image"]
    assert [c.code for c in check_scan(_scan(rng.random((1, 80, 30, 1)))).failures] == ["resolution_too_low"]
    thin = check_scan(_scan(rng.random((1, 128, 128, 3)), spacing=(0.5, 0.5, 5.0)))
    assert thin.accepted  # a 3-slice slab of large slices is fine
    nan = good.copy()
    nan[0, 1, 1, 0] = np.inf
    assert [c.code for c in check_scan(_scan(nan)).failures] == ["non_finite_values"]
    nan[0, 2, 2, 0] = np.nan
    assert "2 non-finite" in check_scan(_scan(nan)).failures[0].message
    all_nan = check_scan(_scan(np.full((1, 80, 80, 1), np.nan)))
    assert [c.code for c in all_nan.failures] == ["non_finite_values", "blank_image"]
    tiny = check_scan(_scan(good, spacing=(0.001, 0.001, 1.0)))
    assert [c.code for c in tiny.failures] == ["absurd_spacing"] and "0.01" in tiny.failures[0].message
    # 2D: the placeholder Z spacing does not count; unknown spacing is informational only.
    assert check_scan(_scan(good, spacing=(0.2, 0.2, 50.0))).accepted
    unknown = check_scan(_scan(good, meta={"spacing_known": False}))
    assert unknown.accepted and any(c.code == "spacing_unknown" for c in unknown.checks)
    irregular = check_scan(_scan(rng.random((1, 80, 80, 4)), meta={"slice_gap_irregular": True}))
    assert irregular.accepted and [c.code for c in irregular.warnings] == ["irregular_slice_spacing"]
    assert check(_scan(good)).accepted  # a Scan given to check() gets the content checks


def test_multiple_series_is_a_failed_check_until_one_is_chosen():
    a = fac.make_series(3, fac.SERIES_UID_A, series_number=1, rows=80, cols=80)
    b = fac.make_series(2, fac.SERIES_UID_B, series_number=2, rows=80, cols=80)
    zipped = fac.zip_bytes({f"a{i}.dcm": d for i, d in enumerate(a)} | {f"b{i}.dcm": d for i, d in enumerate(b)})
    report = check(zipped, filename="two.zip")
    fail = report.failures[-1]
    assert fail.code == "multiple_series" and len(fail.value) == 2
    assert check(zipped, filename="two.zip", series=fail.value[1][0]).accepted
    assert check(a + b, series=fail.value[0][0]).accepted


def _damaged_variants(data: bytes, rng: np.random.Generator, n: int = 6):
    for frac in (0.0, 0.01, 0.1, 0.5, 0.9, 0.999):
        yield data[: int(len(data) * frac)]
    for _ in range(n):
        arr = bytearray(data)
        for pos in rng.integers(0, len(arr), size=8):
            arr[pos] = int(rng.integers(0, 256))
        yield bytes(arr)


def test_check_never_raises_on_damaged_files():
    rng = np.random.default_rng(42)
    vol = nib.Nifti1Image(rng.random((16, 16, 16)).astype(np.float32), np.eye(4))
    good = {
        "a.dcm": fac.make_dicom(fac.phantom()), "b.dcm": fac.make_dicom(fac.phantom(), "j2k"),
        "c.dcm": fac.make_dicom(fac.phantom(), "rle"), "d.dcm": fac.make_dicom(fac.phantom() // 16, "jpeg"),
        "e.nii": vol.to_bytes(), "f.nii.gz": gzip.compress(vol.to_bytes()), "g.png": _png(fac.phantom(70, 70) // 16),
        "h.mgz": gzip.compress(nib.MGHImage(rng.random((8, 8, 8)).astype(np.float32), np.eye(4)).to_bytes()),
        "i.zip": fac.zip_bytes({f"{i}.dcm": d for i, d in enumerate(fac.make_series(2))}),
    }
    seen_codes = set()
    for name, data in good.items():
        for variant in _damaged_variants(data, rng):
            for filename in (name, "noname", None):
                report = check(variant, filename=filename)
                assert isinstance(report, QCReport)
                codes = {c.code for c in report.failures}
                assert "internal_error" not in codes, (name, len(variant), report.reasons)
                seen_codes |= codes
    assert {"unknown_format", "corrupt_file"} <= seen_codes


def test_random_bytes_and_odd_sources():
    rng = np.random.default_rng(7)
    for n in (0, 1, 10, 132, 5000):
        blob = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        for name in ("x.dcm", "x.png", "x.nii.gz", "x.zip", None):
            report = check(blob, filename=name)
            assert not report.accepted and report.reasons
    assert not check([]).accepted
    assert not check([b"abc", b"def"]).accepted
    with pytest.raises(TypeError):
        load_scan(12345)  # programming errors stay exceptions in load_scan


def test_load_and_check_returns_the_scan_once_decoded():
    data = fac.make_dicom(fac.phantom(96, 96))
    scan, report = load_and_check(data, filename="ok.dcm")
    assert report.accepted and scan is not None and scan.shape == (96, 96, 1)
    blank, report = load_and_check(_png(np.zeros((80, 80), np.uint8)), filename="b.png")
    assert blank is not None and [c.code for c in report.failures] == ["blank_image"]
    none, report = load_and_check(b"nonsense", filename="x.dcm")
    assert none is None and not report.accepted
