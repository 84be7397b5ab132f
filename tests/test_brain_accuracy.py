"""The accuracy figures the app and the report quote come from the bench's JSON."""

from __future__ import annotations

import json

import numpy as np
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


def _set(per):
    return {"phantoms": per, "ranges": accuracy.summarise(per)}


def test_note_quotes_held_out_ranges_first_then_development(accuracy_file):
    held = {"seed7_atrophy0.2": {"seed": 7, "atrophy": 0.2, "icv": 0.053, "lateral_ventricles": 0.062,
                                 "hippocampus_left": 0.042, "hippocampus_right": 0.04},
            "seed11_atrophy1": {"seed": 11, "atrophy": 1.0, "icv": -0.049, "lateral_ventricles": -0.002,
                                "hippocampus_left": 0.028, "hippocampus_right": 0.149}}
    dev = {"seed1_atrophy0": {"seed": 1, "atrophy": 0.0, "icv": 0.023, "lateral_ventricles": -0.008,
                              "hippocampus_left": -0.065, "hippocampus_right": -0.036},
           "seed4_atrophy1": {"seed": 4, "atrophy": 1.0, "icv": -0.071, "lateral_ventricles": -0.067,
                              "hippocampus_left": 0.069, "hippocampus_right": 0.023},
           "seed6_atrophy0": {"seed": 6, "atrophy": 0.0, "icv": 0.0, "lateral_ventricles": 0.0,
                              "hippocampus_left": 0.0, "hippocampus_right": 0.0}}
    accuracy_file.write_text(json.dumps({"measured_on": "2026-12-07",
                                         "sets": {"held_out": _set(held), "development": _set(dev)}}))
    note = accuracy.accuracy_note()
    held_part, dev_part = note.split("On the 3 phantoms the parameters were chosen on:")
    assert "2026-12-07" in held_part and "2 synthetic head phantoms" in held_part and "atrophy up to 1" in held_part
    assert "not used to choose any parameter" in held_part
    assert "intracranial volume -4.9 to +5.3 %" in held_part
    assert "lateral ventricles -0.2 to +6.2 %" in held_part
    assert "each hippocampus +2.8 to +14.9 %" in held_part
    assert "intracranial volume -7.1 to +2.3 %" in dev_part
    assert "each hippocampus -6.5 to +6.9 %" in dev_part


def test_note_quotes_development_and_validation_together_after_held_out(accuracy_file):
    row = {"lateral_ventricles": 0.0, "hippocampus_left": 0.0, "hippocampus_right": 0.0}
    held = {"seed7_atrophy0.2": {"seed": 7, "atrophy": 0.2, "icv": 0.01, **row}}
    dev = {"seed1_atrophy0": {"seed": 1, "atrophy": 0.0, "icv": -0.02, **row},
           "seed4_atrophy1": {"seed": 4, "atrophy": 1.0, "icv": 0.03, **row}}
    val = {"seed19_atrophy0": {"seed": 19, "atrophy": 0.0, "icv": -0.041, **row}}
    accuracy_file.write_text(json.dumps({"measured_on": "2026-12-08", "sets": {
        "held_out": _set(held), "development": _set(dev), "validation": _set(val)}}))
    held_part, chosen_part = accuracy.accuracy_note().split(
        "On the 3 phantoms used to choose parameters (2 development; 1 validation, used to choose the intracranial "
        "volume's front end and the ventricle search):")
    assert "intracranial volume +1.0 to +1.0 %" in held_part
    assert "intracranial volume -4.1 to +3.0 %" in chosen_part  # the ranges span both sets


def test_note_says_when_nothing_was_measured(accuracy_file):
    assert "not measured" in accuracy.accuracy_note()  # no file
    accuracy_file.write_text("{broken")
    accuracy.load_phantom_accuracy.cache_clear()
    assert "not measured" in accuracy.accuracy_note()
    # A file from before the held-out set existed: no held-out figures, so nothing is quoted.
    per = {"seed1_atrophy0": {"seed": 1, "atrophy": 0.0, "icv": 0.02, "lateral_ventricles": 0.0,
                              "hippocampus_left": 0.0, "hippocampus_right": 0.0}}
    accuracy_file.write_text(json.dumps({"measured_on": "2026-12-04", "phantoms": per, "ranges": accuracy.summarise(per)}))
    accuracy.load_phantom_accuracy.cache_clear()
    assert "not measured" in accuracy.accuracy_note()


def test_the_three_phantom_sets_share_no_subject():
    seeds = [{s for s, _ in phantoms} for phantoms in accuracy.PHANTOM_SETS.values()]
    assert sum(len(s) for s in seeds) == len(set().union(*seeds))


def test_shipped_figures_cover_every_benchmark_phantom_of_every_set():
    acc = accuracy.load_phantom_accuracy()
    assert acc is not None, "core/brain/data/phantom_accuracy.json missing: run bench/brain_accuracy.py"
    assert set(acc["sets"]) == set(accuracy.PHANTOM_SETS)
    for name, phantoms in accuracy.PHANTOM_SETS.items():
        measured = {(p["seed"], p["atrophy"]) for p in acc["sets"][name]["phantoms"].values()}
        assert measured == set(phantoms), name
        for key, (lo, hi) in accuracy.summarise(acc["sets"][name]["phantoms"]).items():
            assert acc["sets"][name]["ranges"][key] == pytest.approx([lo, hi], abs=1e-4), (name, key)


def _sides(pairs: list[tuple[float, float]]) -> dict[str, dict[str, float]]:
    """Phantom rows from (needed compression, relative error) pairs, two sides per row."""
    rows = {}
    for i in range(0, len(pairs), 2):
        (cl, el), (cr, er) = pairs[i], pairs[i + 1]
        rows[f"p{i}"] = {"hippocampus_left": el, "hippocampus_right": er,
                         "compression_hippocampus_left": cl, "compression_hippocampus_right": cr}
    return rows


def test_compression_fit_recovers_the_fraction_of_compression_the_warp_achieves():
    needed = [0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]
    # A warp recovering 70 % of the log-compression: estimate/atlas = needed ** 0.7,
    # so the relative error is needed ** -0.3 - 1 (+20 % at 0.55, +3 % at 0.9).
    partial = accuracy.compression_fit(_sides([(c, c ** -0.3 - 1.0) for c in needed]))
    assert partial["slope"] == pytest.approx(0.7, abs=1e-9)
    assert partial["residual_sd"] == pytest.approx(0.0, abs=1e-9)
    assert partial["sides"] == len(needed)
    exact = accuracy.compression_fit(_sides([(c, 0.0) for c in needed]))
    assert exact["slope"] == pytest.approx(1.0) and exact["intercept"] == pytest.approx(0.0, abs=1e-9)
    rng = np.random.default_rng(0)
    noisy = accuracy.compression_fit(_sides([(c, float(np.exp(rng.normal(0, 0.03))) - 1.0) for c in needed]))
    assert 0.01 < noisy["residual_sd"] < 0.06


def test_compression_fit_needs_the_compression_figures():
    rows = {"old": {"hippocampus_left": 0.02, "hippocampus_right": -0.01}}
    assert accuracy.compression_fit(rows) is None
