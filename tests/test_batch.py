"""Batch processing: one row per scan, refusals as rows with their reason, zips expanded, CLI, records."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import _image_models as im
import dicom_factory as dfac
from core.batch import COLUMNS, collect, main, run_batch
from core.config import get_settings
from core.store import Store


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _photo() -> bytes:
    from skimage import data

    return _png(data.chelsea())  # a cat photograph (RGB)


def _brain_slice() -> tuple[str, bytes]:
    """A grey test image; the tmp weights folder of ``env`` has no input-gate model, so kind is not judged."""
    from scan_fixtures import png_bytes

    return "slice.png", png_bytes(128, 128)


@pytest.fixture()
def env(tmp_path, monkeypatch):
    """Settings pointed at a tmp store and (by default) an empty weights folder."""
    from core.tasks import clear_task_cache

    weights = tmp_path / "weights"
    weights.mkdir()
    monkeypatch.setenv("RADLENS_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("RADLENS_STORE_URL", f"sqlite:///{tmp_path / 'batch.sqlite'}")
    get_settings.cache_clear()
    clear_task_cache()
    yield weights
    for var in ("RADLENS_WEIGHTS_DIR", "RADLENS_STORE_URL", "RADLENS_CONFIDENCE_THRESHOLD_BRAIN_TUMOR"):
        monkeypatch.delenv(var, raising=False)
    get_settings.cache_clear()
    clear_task_cache()


def test_bad_files_become_rejected_rows_with_their_reason(env):
    table = run_batch([("cat.png", _photo()), ("notes.txt", b"hello, not a scan"),
                       ("blank.png", _png(np.zeros((256, 256), np.uint8)))], "chest-xray")
    assert list(table.columns) == list(COLUMNS)
    assert list(table["file"]) == ["cat.png", "notes.txt", "blank.png"]
    assert (table["status"] == "rejected").all()
    assert table["prediction"].isna().all()
    reasons = dict(zip(table["file"], table["qc_reasons"]))
    assert "not a supported scan" in reasons["notes.txt"]
    assert "blank" in reasons["blank.png"]
    # the photo is refused: by the learned gate when its weights exist, else because no chest model is there
    assert reasons["cat.png"]


def test_photo_is_refused_by_the_input_gate_when_its_model_exists():
    from core.tasks import clear_task_cache

    get_settings.cache_clear()
    clear_task_cache()
    folder = Path(get_settings().weights_dir) / "input-gate"
    if not (folder / "metadata.json").is_file():
        pytest.skip(f"no input-gate model folder in {folder.parent} (demo weights not trained yet)")
    table = run_batch([("cat.png", _photo())], "chest-xray")
    row = table.iloc[0]
    assert row["status"] == "rejected"
    assert "photograph" in row["qc_reasons"].lower()


def test_ok_row_with_a_tiny_model_and_a_record_per_scan(env, monkeypatch):
    im.brain_folder(env)
    monkeypatch.setenv("RADLENS_CONFIDENCE_THRESHOLD_BRAIN_TUMOR", "0.0")  # any top class is a prediction
    get_settings.cache_clear()
    store = Store(get_settings().store_url)
    name, data = _brain_slice()
    table = run_batch([(name, data), ("notes.txt", b"not a scan")], "brain-tumor", store=store, subject="sub-batch")
    ok = table.iloc[0]
    assert ok["status"] == "ok", ok["qc_reasons"]
    assert ok["prediction"] in im.BRAIN_LABELS
    assert 0 < ok["confidence"] <= 1 and ok["top_probabilities"].count(";") == 2
    assert ok["time_s"] > 0 and ok["record_id"] == 1 and ok["subject"] == "sub-batch"
    assert table.iloc[1]["status"] == "rejected" and pd.isna(table.iloc[1]["record_id"])
    (rec,) = store.studies("sub-batch")
    assert rec.prediction == ok["prediction"] and rec.qc  # the QC report is in the record


def test_scans_without_identifier_are_not_recorded_without_a_subject(env):
    im.brain_folder(env)
    store = Store(get_settings().store_url)
    name, data = _brain_slice()
    table = run_batch([(name, data)], "brain-tumor", store=store)
    assert pd.isna(table.iloc[0]["record_id"])
    assert "no patient identifier" in table.iloc[0]["qc_reasons"]
    assert store.subjects() == []


def test_zip_members_expand_and_a_dicom_folder_stays_one_scan():
    series = dfac.make_series(n=4)
    archive = dfac.zip_bytes({"a.png": _png(np.zeros((80, 80), np.uint8)), "docs/readme.txt": b"hello",
                              **{f"series1/slice{i}.dcm": b for i, b in enumerate(series)}})
    items = collect([("study.zip", archive)])
    names = sorted(i.name for i in items)
    assert names == ["study.zip/a.png", "study.zip/docs/readme.txt", "study.zip/series1/ (series 1, 4 DICOM files)"]


def test_radiographs_sharing_a_folder_and_series_stay_separate_scans():
    films = {f"films/cr{i}.dcm": dfac.make_dicom(dfac.phantom(seed=i), modality="CR") for i in range(2)}
    names = sorted(i.name for i in collect([("films.zip", dfac.zip_bytes(films))]))
    assert names == ["films.zip/films/cr0.dcm", "films.zip/films/cr1.dcm"]


def test_dicom_only_zip_with_two_series_gives_one_row_per_series(env):
    files = {f"a{i}.dcm": b for i, b in enumerate(dfac.make_series(n=3))}
    files.update({f"b{i}.dcm": b for i, b in enumerate(dfac.make_series(n=3, series_uid=dfac.SERIES_UID_B,
                                                                         series_number=2, seed=1))})
    table = run_batch([("two.zip", dfac.zip_bytes(files))], "chest-xray")
    assert len(table) == 2
    assert sorted(table["file"]) == ["two.zip/ (series 1, 3 DICOM files)", "two.zip/ (series 2, 3 DICOM files)"]
    assert (table["status"] == "rejected").all()  # MR series on the chest page: refused, each with a reason
    assert table["qc_reasons"].str.len().gt(0).all()


def test_cli_writes_csv(env, tmp_path, capsys):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "blank.png").write_bytes(_png(np.zeros((128, 128), np.uint8)))
    (folder / "sub" / "notes.txt").write_bytes(b"text")
    out = tmp_path / "results.csv"
    assert main([str(folder), "--task", "chest-xray", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table["file"]) == ["blank.png", "sub/notes.txt"]
    assert "2 scan(s): rejected 2" in capsys.readouterr().out


def test_unknown_task_is_a_caller_error(env):
    with pytest.raises(KeyError):
        run_batch([("a.png", b"x")], "no-such-task")
