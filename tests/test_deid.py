"""De-identification: no identifying DICOM value reaches a Scan, its repr, a QC message or a log line."""

from __future__ import annotations

import dataclasses
import logging
import re
import warnings

import pydicom
import pytest
from pydicom.datadict import keyword_for_tag

import dicom_factory as fac
from core.config import get_settings
from core.io import MultipleSeriesError, load_scan
from core.io.deid import (BASIC_PROFILE, IDENTIFYING_KEYWORDS, _distinctive, deidentify_dataset, identifying_values,
                          pseudonymize, subject_pseudonym)
from core.validation import check

PYDICOM_FILES = ("CT_small.dcm", "MR_small.dcm", "rtdose.dcm", "RG1_UNCR.dcm", "emri_small.dcm")


def _real_files(samples_dir=None) -> list[tuple[str, bytes]]:
    from pydicom.data import get_testdata_file

    out = []
    for name in PYDICOM_FILES:
        path = get_testdata_file(name)
        if path is not None:
            out.append((name, open(path, "rb").read()))
    if samples_dir is not None:
        for p in sorted(samples_dir.rglob("*")):
            if p.suffix in (".dcm", ".dicom"):
                out.append((p.name, p.read_bytes()))
    return out


def _secrets(data: bytes) -> set[str]:
    import io

    ds = pydicom.dcmread(io.BytesIO(data), force=True, stop_before_pixels=True)
    # A value that is also the content of a kept technical tag (RG1_UNCR.dcm names its institution
    # "Philips Medical Systems", its manufacturer) legitimately appears as that tag.
    kept = {str(ds.get(kw, "")).strip().lower() for kw in ("Manufacturer", "ManufacturerModelName")}
    return {v for v in identifying_values(ds) if _distinctive(v) and v.lower() not in kept}


def _assert_clean(texts: list[str], secrets: set[str], where: str) -> None:
    # Whole-token match (\b treats "_" as a word character), so the secret "CENTER" does not match the
    # meta key "window_center" while "name: CENTER" would.
    blob = "\n".join(texts).lower()
    leaked = sorted(s for s in secrets if re.search(r"\b" + re.escape(s.lower()) + r"\b", blob))
    assert not leaked, f"{where}: identifying values leaked: {leaked}"


def test_basic_profile_table_matches_the_dicom_dictionary():
    assert len(IDENTIFYING_KEYWORDS) == len(BASIC_PROFILE) >= 50
    for keyword, (tag, action) in BASIC_PROFILE.items():
        assert action[0] in "XZDU", keyword
        if "xx" in tag:
            continue
        group, element = (int(part, 16) for part in tag.split(","))
        assert keyword_for_tag((group << 16) | element) == keyword


def test_no_identifier_reaches_scan_repr_qc_or_logs(samples_dir, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("pydicom").setLevel(logging.DEBUG)
    files = _real_files(samples_dir)
    fake = fac.make_dicom(fac.phantom(), transfer_syntax="j2k")
    files.append(("fake_named.dcm", fake))
    assert len(files) >= 12
    total_secrets = 0
    for name, data in files:
        secrets = _secrets(data)
        total_secrets += len(secrets)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scan = load_scan(data, filename=name)
            report = check(data, filename=name)
        texts = [repr(scan), scan.source, repr(dict(scan.meta)), repr(scan.history), str(scan.subject_pseudonym),
                 repr(report.to_records())] + [str(w.message) for w in caught]
        _assert_clean(texts, secrets, name)
        assert not (set(k.replace("_", "").lower() for k in scan.meta)
                    & {k.lower() for k in IDENTIFYING_KEYWORDS}), name
    fake_secrets = _secrets(fake)
    assert set(fac.FAKE_IDENTITY["PatientName"].split("^")) <= fake_secrets | {"Q"}
    assert "FAKEPID-90210" in fake_secrets and "19310417" in fake_secrets
    assert "Saint Nowhere Fictional Hospital" in fake_secrets and fac.SERIES_UID_A in fake_secrets
    assert total_secrets > 50
    all_secrets = set().union(*(_secrets(d) for _, d in files))
    _assert_clean([r.getMessage() for r in caplog.records] + [caplog.text], all_secrets, "log")
    assert any("loaded" in r.getMessage() for r in caplog.records)  # logging was captured at all


def test_private_and_free_text_never_copied():
    scan = load_scan(fac.make_dicom(fac.phantom()), filename="x.dcm")
    text = repr(scan).lower()
    for needle in ("private-zelda", "radlens fake private", "secret protocol", "anxious", "protozelda"):
        assert needle not in text


def test_series_picker_labels_and_file_names_are_clean():
    a = fac.make_series(2, fac.SERIES_UID_A, series_number=1)
    b = fac.make_series(2, fac.SERIES_UID_B, series_number=2)
    zipped = fac.zip_bytes({f"a{i}.dcm": d for i, d in enumerate(a)} | {f"b{i}.dcm": d for i, d in enumerate(b)})
    with pytest.raises(MultipleSeriesError) as err:
        load_scan(zipped, filename="Fakename_Zelda_study.zip")
    secrets = _secrets(a[0]) | _secrets(b[0])
    _assert_clean([str(err.value), repr(err.value.series)], secrets, "series picker")
    scan = load_scan(zipped, filename="Fakename_Zelda_study.zip", series=err.value.series[0][0])
    assert "zelda" not in scan.source.lower() and scan.source.startswith("upload.zip ")
    single = load_scan(a[0], filename="FAKEPID-90210.dcm")
    assert "FAKEPID" not in single.source


def test_pseudonym_is_salted_stable_and_none_without_identifier():
    data = fac.make_dicom(fac.phantom())
    p1 = load_scan(data).subject_pseudonym
    assert p1 is not None and p1.startswith("sub-") and len(p1) == 4 + 12
    assert load_scan(fac.make_series(1, seed=5)[0]).subject_pseudonym == p1  # same patient, another image
    import hashlib

    salt = get_settings().pseudonym_salt
    assert p1 == pseudonymize(fac.FAKE_IDENTITY["PatientID"], salt)
    assert p1 == "sub-" + hashlib.sha256((salt + "FAKEPID-90210").encode()).hexdigest()[:12]
    other_salt = dataclasses.replace(get_settings(), pseudonym_salt="another-site")
    assert load_scan(data, settings=other_salt).subject_pseudonym not in (None, p1)
    other_patient = dict(fac.FAKE_IDENTITY, PatientID="SOMEONE-ELSE")
    assert load_scan(fac.make_dicom(fac.phantom(), identity=other_patient)).subject_pseudonym != p1
    # Fallback: name + birth date when there is no PatientID.
    no_id = {k: v for k, v in fac.FAKE_IDENTITY.items() if k != "PatientID"}
    p_name = load_scan(fac.make_dicom(fac.phantom(), identity=no_id)).subject_pseudonym
    assert p_name == pseudonymize(no_id["PatientName"] + no_id["PatientBirthDate"], salt) != p1
    assert load_scan(fac.make_dicom(fac.phantom(), identity={})).subject_pseudonym is None
    ds = fac.make_dataset(fac.phantom(), identity={"PatientID": "   "})
    assert subject_pseudonym(ds) is None


def test_deidentify_dataset_removes_profile_and_private_tags():
    ds = fac.make_dataset(fac.phantom())
    clean = deidentify_dataset(ds)
    for kw in IDENTIFYING_KEYWORDS - {"OverlayData"}:
        assert kw not in clean, kw
    assert not any(elem.tag.group & 0xFF00 == 0x6000 for elem in clean)
    assert not any(elem.tag.is_private for elem in clean)
    assert clean.PatientIdentityRemoved == "YES"
    assert "PatientName" in ds  # the input is not modified
