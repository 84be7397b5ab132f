"""AppTest of the record-and-report widgets (task result and brain report) against a temporary store."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.config import get_settings
from core.store import BRAIN_TASK, Store
from tests.apptest_utils import assert_clean, page_text

TASK_SCRIPT = """
from tests.records_fixtures import task_result, xray_scan
from core.ui.records import render_record_and_report
render_record_and_report(xray_scan(), result=task_result(), title="Chest X-ray")
"""

BRAIN_SCRIPT = """
from core.types import Check, QCReport, Severity
from tests.records_fixtures import brain_report, head_scan
from core.ui.records import render_brain_record_and_report
gates = QCReport((Check("modality", True, Severity.ERROR, "MR head volume."),))
render_brain_record_and_report(head_scan(), brain_report(), qc=gates)
"""


@pytest.fixture()
def store_url(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'ui.sqlite'}"
    monkeypatch.setenv("RADLENS_STORE_URL", url)
    get_settings.cache_clear()
    yield url
    monkeypatch.delenv("RADLENS_STORE_URL")
    get_settings.cache_clear()


def test_task_record_needs_a_pseudonym_then_saves_with_date(store_url: str):
    at = AppTest.from_string(TASK_SCRIPT, default_timeout=60).run()
    assert_clean(at)
    assert "Record and report" in page_text(at) and "never type a real name" in page_text(at)
    save = at.button(key="records_chest-xray_save")
    assert save.disabled  # the film carries no identifier and nothing was typed
    assert len(at.get("download_button")) == 1

    at.text_input(key="records_chest-xray_subject").input("Jane Doe").run()
    assert at.button(key="records_chest-xray_save").disabled
    assert any("real name" in w.value for w in at.warning)

    at.text_input(key="records_chest-xray_subject").input("sub-007").run()
    import datetime

    at.date_input(key="records_chest-xray_date").set_value(datetime.date(2024, 3, 31)).run()
    at.button(key="records_chest-xray_save").click().run()
    assert_clean(at)
    assert any("Saved as record 1 of sub-007" in s.value for s in at.success)
    at.run()
    assert at.button(key="records_chest-xray_save").disabled  # saved once for this scan and subject
    (rec,) = Store(store_url).studies("sub-007")
    assert rec.task == "chest-xray" and rec.study_date == "2024-03-31" and rec.prediction == "Cardiomegaly"
    assert [q["code"] for q in rec.qc] == ["kind", "low_resolution"]


def test_brain_record_defaults_to_the_scan_pseudonym(store_url: str):
    at = AppTest.from_string(BRAIN_SCRIPT, default_timeout=60).run()
    assert_clean(at)
    assert at.text_input(key="records_brain_subject").value == "sub-0123456789ab"
    assert "derived from the file's patient identifier" in page_text(at)
    at.button(key="records_brain_save").click().run()
    assert_clean(at)
    (rec,) = Store(store_url).studies("sub-0123456789ab")
    assert rec.task == BRAIN_TASK and rec.payload["volumes_ml"]["hippocampus_total"] == pytest.approx(4.0)
    assert [q["code"] for q in rec.qc] == ["modality", "thick_slices"]


def test_qc_report_button_for_a_refused_input():
    script = """
from core.types import Check, QCReport, Severity
from core.ui.records import render_qc_report
render_qc_report(QCReport((Check("blank", False, Severity.ERROR, "The image is blank."),)), None, name="x.png")
"""
    at = AppTest.from_string(script, default_timeout=60).run()
    assert_clean(at)
    (button,) = at.get("download_button")
    assert "input-check report" in page_text(at)


def test_brain_risk_follows_the_page_widgets():
    script = """
import streamlit as st
from core.ui.brain import PatientInputs
from core.ui.records import brain_risk_from_page
from tests.records_fixtures import brain_report
inputs = PatientInputs(age_years=74.0, sex="F", education_years=12.0, apoe4_alleles=1, apoe4_known=True)
risk = brain_risk_from_page(brain_report(), inputs, "brain")
st.write(f"{risk.current_stage}|{risk.next_stage}|{risk['1_year']:.4f}")
none = brain_risk_from_page(brain_report(), PatientInputs(None, None, 12.0, 0, False), "brain")
st.write(f"none={none}")
"""
    from core.progression import progression_risk

    at = AppTest.from_string(script, default_timeout=60)
    at.session_state["brain_risk_stage"] = "Mild Dementia"
    at.session_state["brain_mci"] = "community"
    at.run()
    assert_clean(at)
    expected = progression_risk("Mild Dementia", 74.0, "F", 12.0, 1, hippocampal_percentile=12.0)
    assert at.markdown[0].value == f"Mild Dementia|Moderate Dementia|{expected['1_year']:.4f}"
    assert at.markdown[1].value == "none=None"
