"""The accuracy figures the app and the report quote come from the bench's JSON."""

from __future__ import annotations

import json

import pytest

from core.brain import accuracy


@pytest.fixture
def accuracy_file(tmp_path, monkeypatch):
    path = tmp_path / "phantom_accuracy.json"
    monkeypatch.setattr(accuracy, "ACCURACY_FILE", path)
    accuracy.load_phantom_accuracy.cache_clear()
    yield path
    accuracy.load_phantom_accuracy.cache_clear()


def test_summarise_gives_ranges_over_phantoms_and_sides():
    per = {"a": {"icv": 0.02, "lateral_ventricles": -0.01, "hippocampus_left": -0.06, "hippocampus_right": 0.03},
           "b": {"icv": -0.07, "lateral_ventricles": 0.04, "hippocampus_left": 0.01, "hippocampus_right": 0.09}}
    r = accuracy.summarise(per)
    assert r["icv"] == [-0.07, 0.02]
    assert r["lateral_ventricles"] == [-0.01, 0.04]
    assert r["hippocampus_per_side"] == [-0.06, 0.09]


def test_note_quotes_the_measured_ranges(accuracy_file):
    per = {"seed1_atrophy0": {"seed": 1, "atrophy": 0.0, "icv": 0.023, "lateral_ventricles": -0.008,
                              "hippocampus_left": -0.065, "hippocampus_right": -0.036},
           "seed4_atrophy1": {"seed": 4, "atrophy": 1.0, "icv": -0.071, "lateral_ventricles": -0.067,
                              "hippocampus_left": 0.069, "hippocampus_right": 0.023}}
    accuracy_file.write_text(json.dumps({"measured_on": "2026-12-07", "phantoms": per, "ranges": accuracy.summarise(per)}))
    note = accuracy.accuracy_note()
    assert "2 synthetic head phantoms" in note and "2026-12-07" in note and "atrophy up to 1" in note
    assert "intracranial volume -7.1 to +2.3 %" in note
    assert "lateral ventricles -6.7 to -0.8 %" in note
    assert "each hippocampus -6.5 to +6.9 %" in note


def test_note_says_when_nothing_was_measured(accuracy_file):
    assert "not measured" in accuracy.accuracy_note()  # no file
    accuracy_file.write_text("{broken")
    accuracy.load_phantom_accuracy.cache_clear()
    assert "not measured" in accuracy.accuracy_note()


def test_shipped_figures_cover_every_benchmark_phantom():
    acc = accuracy.load_phantom_accuracy()
    assert acc is not None, "core/brain/data/phantom_accuracy.json missing: run bench/brain_accuracy.py"
    measured = {(p["seed"], p["atrophy"]) for p in acc["phantoms"].values()}
    assert measured == set(accuracy.PHANTOMS)
    for key, (lo, hi) in accuracy.summarise(acc["phantoms"]).items():
        assert acc["ranges"][key] == pytest.approx([lo, hi], abs=1e-4), key
