"""The analysis pages carry the record-and-report widgets: results (accepted or refused) are saved with their QC
report, inputs refused at loading get an input-check PDF, and the Brain MRI page records volumes and risk."""

from __future__ import annotations

import pytest

from core.config import get_settings
from core.store import BRAIN_TASK, Store
from tests.apptest_utils import assert_clean, page_text, run_page, upload
from tests.scan_fixtures import png_bytes


@pytest.fixture()
def store(tmp_path, monkeypatch) -> Store:
    url = f"sqlite:///{tmp_path / 'wiring.sqlite'}"
    monkeypatch.setenv("RADLENS_STORE_URL", url)
    get_settings.cache_clear()
    yield Store(url)
    monkeypatch.delenv("RADLENS_STORE_URL")
    get_settings.cache_clear()


def test_task_page_saves_the_result_with_its_qc_report(store: Store):
    at = run_page("pages/4_Chest_X-ray.py")
    at = upload(at, [("disc.png", png_bytes(256, 256))])
    assert_clean(at)
    assert "Record and report" in page_text(at)
    assert any(b.label == "Download PDF report" for b in at.get("download_button"))
    at.text_input(key="chest_xray_records_subject").input("sub-wire1").run()
    at.button(key="chest_xray_records_save").click().run()
    assert_clean(at)
    (rec,) = store.studies("sub-wire1")
    assert rec.task == "chest-xray" and rec.qc  # accepted or refused, the QC report is in the record
    assert rec.status in ("ok", "rejected")


def test_input_refused_at_loading_offers_the_input_check_pdf(store: Store):
    at = run_page("pages/3_Brain_Tumor.py")
    at = upload(at, [("notes.png", b"a text file renamed .png")])
    assert_clean(at)
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Download input-check report (PDF)"]


def test_brain_page_records_volumes_stage_and_risk(store: Store, monkeypatch):
    import core.brain
    from core.synth.head import as_nifti_bytes
    from tests.test_app_brain import _fake_analyze, _phantom, _with_inputs

    ph = _phantom(seed=31)
    monkeypatch.setattr(core.brain, "analyze", _fake_analyze(ph))
    at = run_page("pages/2_Brain_MRI.py")
    at = _with_inputs(at, age=72, sex="F")
    at = upload(at, [("phantom_t1.nii.gz", as_nifti_bytes(ph.scan))], key="brain_upload")
    assert_clean(at)
    assert any(b.label == "Download PDF report" for b in at.get("download_button"))
    at.text_input(key="records_brain_subject").input("sub-wire2").run()
    at.button(key="records_brain_save").click().run()
    assert_clean(at)
    (rec,) = store.studies("sub-wire2")
    assert rec.task == BRAIN_TASK and rec.payload["volumes_ml"]["hippocampus_total"] > 0
    assert rec.payload["risk"]["current_stage"] == at.selectbox(key="brain_risk_stage").value  # what the page shows
    shown_1y = next(m.value for m in at.metric if str(m.label) == "1 year")
    assert shown_1y == f"{100 * rec.payload['risk']['risks']['1_year']:.1f} %"
    assert rec.qc and all("code" in q for q in rec.qc)
