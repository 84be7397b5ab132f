"""AppTest of the Longitudinal page on a temporary store with two brain records and a chest record."""

from __future__ import annotations

import json

import pytest

from core.config import get_settings
from core.store import Store
from tests.apptest_utils import assert_clean, elements, page_text, run_page
from tests.records_fixtures import brain_report, task_result

PAGE = "pages/6_Longitudinal.py"


@pytest.fixture()
def store(tmp_path, monkeypatch) -> Store:
    url = f"sqlite:///{tmp_path / 'long.sqlite'}"
    monkeypatch.setenv("RADLENS_STORE_URL", url)
    get_settings.cache_clear()
    yield Store(url)
    monkeypatch.delenv("RADLENS_STORE_URL")
    get_settings.cache_clear()


def test_empty_store_explains_how_to_add_records(store: Store):
    at = run_page(PAGE)
    assert_clean(at)
    assert "No records yet" in page_text(at)


def test_subject_records_charts_change_and_exports(store: Store):
    store.add_brain_report(brain_report(hippocampus_ml=4.0), subject="sub-a", source="t0.nii sha256:1", modality="MR",
                           study_date="2021-01-01")
    store.add_brain_report(brain_report(hippocampus_ml=3.8, stage="Mild Dementia"), subject="sub-a",
                           source="t1.nii sha256:2", modality="MR", study_date="2023-01-01")
    store.add_result(task_result(), subject="sub-a", source="film.png sha256:3", modality="DX", study_date="2022-01-01")
    store.add_result(task_result(), subject="sub-b", source="other.png sha256:4", modality="DX")
    at = run_page(PAGE)
    assert_clean(at)
    assert at.selectbox(key="longitudinal_subject").options == ["sub-a", "sub-b"]
    text = page_text(at)
    assert "Records of sub-a" in text and "t1.nii" in text and "film.png" in text
    assert len(elements(at, "plotly_chart")) == 3  # volumes, ICV-normalised, confidence
    changes = next(df.value for df in at.dataframe if "change %/y" in df.value.columns)
    hip = changes.set_index("measure").loc["Hippocampus, total (mL)"]
    assert hip["change %/y"] == pytest.approx(100 * (3.8 - 4.0) / 4.0 / (730 / 365.25), abs=0.01)
    assert "Barnes 2009" in hip["published rates"]
    assert len(at.get("download_button")) == 2

    at.selectbox(key="longitudinal_subject").set_value("sub-b").run()
    assert_clean(at)
    text = page_text(at)
    assert "No Brain MRI records" in text and "other.png" in text
    assert json.loads(store.export_json("sub-b"))[0]["task"] == "chest-xray"
