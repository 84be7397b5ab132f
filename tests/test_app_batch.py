"""AppTest of the Batch page: upload several files, run, table of rows with reasons, CSV download, records."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core.config import get_settings
from core.store import Store
from tests.apptest_utils import assert_clean, page_text, run_page, upload

PAGE = "pages/7_Batch.py"


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture()
def env(tmp_path, monkeypatch):
    from core.tasks import clear_task_cache

    (tmp_path / "weights").mkdir()
    monkeypatch.setenv("RADLENS_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("RADLENS_STORE_URL", f"sqlite:///{tmp_path / 'batch.sqlite'}")
    get_settings.cache_clear()
    clear_task_cache()
    yield tmp_path
    monkeypatch.delenv("RADLENS_WEIGHTS_DIR")
    monkeypatch.delenv("RADLENS_STORE_URL")
    get_settings.cache_clear()
    clear_task_cache()


def test_batch_page_runs_and_lists_refusals_with_reasons(env):
    at = run_page(PAGE)
    assert_clean(at)
    assert "Upload several files" in page_text(at)
    assert at.selectbox(key="batch_task").value == "chest-xray"
    files = [("blank.png", _png(np.zeros((128, 128), np.uint8))), ("notes.png", b"hello, a text file renamed .png")]
    at = upload(at, files, key="batch_files")
    assert_clean(at)
    at.button(key="batch_run").click().run()
    assert_clean(at)
    table = at.dataframe[0].value
    assert list(table["file"]) == ["blank.png", "notes.png"]
    assert (table["status"] == "rejected").all()
    assert "blank" in table.iloc[0]["qc_reasons"] and "not a supported scan" in table.iloc[1]["qc_reasons"]
    assert any("2 scan(s): 2 rejected" in s.value for s in at.success)
    assert len(at.get("download_button")) == 1
    at.run()  # a rerun (e.g. after the download) shows the kept table without running again
    assert at.dataframe[0].value.equals(table)


def test_batch_page_refuses_a_name_as_subject_and_records_with_a_pseudonym(env):
    at = run_page(PAGE)
    at = upload(at, [("blank.png", _png(np.zeros((128, 128), np.uint8)))], key="batch_files")
    at.toggle(key="batch_save").set_value(True).run()
    at.text_input(key="batch_subject").input("John Smith").run()
    assert_clean(at)
    assert any("real name" in w.value for w in at.warning)
    assert not [b for b in at.button if b.key == "batch_run"]
    at.text_input(key="batch_subject").input("sub-042").run()
    at.button(key="batch_run").click().run()
    assert_clean(at)
    # the blank image failed to load as a scan's content check: nothing analysed, nothing recorded
    assert Store(get_settings().store_url).subjects() == []
    assert at.dataframe[0].value.iloc[0]["status"] == "rejected"
