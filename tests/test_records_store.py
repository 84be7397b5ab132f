"""Brain and task records in the store (QC kept, no pixels), annualised change, pseudonym checks, timeline charts."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from core.longitudinal import annualised_changes, parse_study_date, pseudonym_problem, record_rows, reference_text
from core.progression import annualised_change_pct, progression_risk
from core.store import BRAIN_TASK, Store
from core.types import Check, QCReport, Severity
from core.viz.timeline import confidence_figure, icv_figure, volumes_figure
from tests.records_fixtures import brain_report, task_result


@pytest.fixture()
def store(tmp_path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'records.sqlite'}")


def _two_brain_records(store: Store, subject: str = "sub-a") -> None:
    gates = QCReport((Check("modality", True, Severity.ERROR, "MR volume of a head."),))
    store.add_brain_report(brain_report(hippocampus_ml=4.0, brain_ml=1100.0), subject=subject, source="t0.nii sha256:1",
                           modality="MR", study_date="2020-01-01", qc=gates)
    # 2 years later: hippocampus -1.41 %/y (Barnes 2009 CN), brain -0.45 %/y (Fotenos 2005)
    store.add_brain_report(brain_report(hippocampus_ml=4.0 * (1 - 2 * 0.0141), brain_ml=1100.0 * (1 - 2 * 0.0045),
                                        stage="Mild Dementia"),
                           subject=subject, source="t1.nii sha256:2", modality="MR", study_date="2021-12-31",
                           risk=progression_risk("Very Mild Dementia", 74, "F", 12, 0))


def test_brain_record_keeps_volumes_stage_risk_and_both_qc_reports(store: Store):
    _two_brain_records(store)
    first, second = store.studies("sub-a", BRAIN_TASK)
    assert first.prediction == "Very Mild Dementia" and first.confidence == pytest.approx(0.7)
    assert first.payload["volumes_ml"]["hippocampus_total"] == pytest.approx(4.0)
    assert first.payload["stage_cnn"]["status"] == "unavailable"
    codes = [q["code"] for q in first.qc]
    assert codes == ["modality", "thick_slices"]  # gates' report merged with the analysis' warnings
    assert "risk" not in first.payload and second.payload["risk"]["next_stage"] == "Mild Dementia"
    assert "masks" not in json.dumps(first.payload)
    timeline = store.timeline("sub-a")
    assert {"volumes_ml.hippocampus_left", "volumes_icv_fraction.lateral_ventricles", "stage.confidence"} <= set(timeline)


def test_task_result_with_nested_cam_arrays_is_stored_without_pixels(store: Store):
    record_id = store.add_result(task_result(), subject="sub-b", source="film.png sha256:3", modality="DX")
    (rec,) = store.studies("sub-b")
    assert rec.id == record_id
    text = json.dumps(rec.payload)
    assert "cams" in rec.payload["extras"] and rec.payload["extras"]["cams"] == {}
    assert rec.payload["extras"]["cams_by_model"] == {"cx-a": {}}
    assert "Nodule" in text and len(text) < 5000  # no 32x32 map serialised
    assert [q["code"] for q in rec.qc] == ["kind", "low_resolution"]


def test_annualised_change_matches_the_published_rates_it_was_built_from(store: Store):
    _two_brain_records(store)
    changes = annualised_changes(store.timeline("sub-a")).set_index("measure")
    years = changes.loc["Brain (mL)", "years"]
    assert years == pytest.approx(729 / 365.25, abs=0.01)
    hip = changes.loc["Hippocampus, total (mL)"]
    assert hip["change %/y"] == pytest.approx(-1.41 * 2 / years, abs=0.01)
    assert "Barnes 2009" in hip["published rates"] and "-1.41" in hip["published rates"] and "-4.66" in hip["published rates"]
    assert "Fotenos 2005" in changes.loc["Brain (mL)", "published rates"]
    assert changes.loc["Intracranial volume (mL)", "change %/y"] == 0.0


def test_annualised_change_needs_two_dates():
    with pytest.raises(ValueError):
        annualised_change_pct(4.0, 3.9, 0.0)
    with pytest.raises(ValueError):
        annualised_change_pct(0.0, 3.9, 1.0)
    assert annualised_change_pct(100.0, 98.0, 2.0) == pytest.approx(-1.0)
    assert "stable" in reference_text(None)


def test_same_day_records_give_a_note_not_a_rate(store: Store):
    for _ in range(2):
        store.add_brain_report(brain_report(), subject="sub-c", source="x sha256:1", modality="MR", study_date="2022-05-05")
    changes = annualised_changes(store.timeline("sub-c"))
    assert changes["change %/y"].isna().all() and changes["note"].str.contains("different dates").all()
    store.add_result(task_result(), subject="sub-d", source="y sha256:2", modality="DX")
    assert annualised_changes(store.timeline("sub-d")).empty


def test_record_rows_show_qc_verdict_and_reasons(store: Store):
    store.add_result(task_result(prediction=None), subject="sub-e", source="film.png sha256:4", modality="DX")
    refused = QCReport((Check("kind", False, Severity.ERROR, "This is a photograph, not an X-ray."),))
    from core.types import Result

    store.add_result(Result(task="chest-xray", status="rejected", reasons=refused.reasons, qc=refused),
                     subject="sub-e", source="cat.png sha256:5", modality="UNKNOWN")
    rows = record_rows(store.studies("sub-e"))
    assert rows[0]["QC"] == "accepted, 1 warning(s)" and rows[0]["prediction"] == "Unable to determine"
    assert rows[1]["QC"] == "refused" and "photograph" in rows[1]["QC reasons"]
    assert rows[1]["input"] == "cat.png"


def test_charts_draw_brain_records_and_confidence_per_task(store: Store):
    _two_brain_records(store)
    store.add_result(task_result(), subject="sub-a", source="film.png sha256:3", modality="DX", study_date="2021-06-01")
    timeline = store.timeline("sub-a")
    vol = volumes_figure(timeline)
    assert {t.name for t in vol.data} == {"left", "right", "total", "lateral ventricles"}
    assert len(vol.data[0].x) == 2
    assert len(icv_figure(timeline).data) == 4
    conf = confidence_figure(timeline)
    assert {t.name for t in conf.data} == {BRAIN_TASK, "chest-xray"}
    empty = pd.DataFrame()
    assert volumes_figure(empty) is None and icv_figure(empty) is None and confidence_figure(empty) is None


@pytest.mark.parametrize("text, ok", [("sub-001", True), ("sub-0123456789ab", True), ("sub-1234567890ab", True),
                                      ("P007", True), ("", False), ("Jane Doe", False), ("MRN12345678", False),
                                      ("pt-1950-02-03", False), ("x" * 65, False)])
def test_pseudonym_problem_refuses_names_ids_and_dates(text: str, ok: bool):
    assert (pseudonym_problem(text) is None) is ok


def test_parse_study_date():
    assert parse_study_date(" 2024-03-31 ") == "2024-03-31"
    assert parse_study_date("") is None
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_study_date("31/03/2024")
