"""core.gates_eval: labelled-folder evaluation, rates, and the generated evaluation set."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from core.gates_eval import FileOutcome, format_summary, is_positive, labelled_files, main, summarise


def _outcome(kind, part, accepted_pages, bad=False, volume=False, pred=None):
    o = FileOutcome("f", kind, part, bad, volume, (pred or (kind, part))[0], (pred or (kind, part))[1])
    for task in ("brain-tumor", "chest-xray", "spine-xray", "alzheimers"):
        o.accepted[task] = task in accepted_pages
    return o


def test_positives_follow_page_expectations():
    assert is_positive(_outcome("xray", "chest", set()), "chest-xray")
    assert not is_positive(_outcome("xray", "chest", set(), bad=True), "chest-xray")
    assert is_positive(_outcome("mri", "brain", set(), volume=True), "alzheimers")
    assert not is_positive(_outcome("mri", "brain", set(), volume=True), "brain-tumor")
    assert not is_positive(_outcome("mri", "knee", set()), "brain-tumor")


def test_rates_are_counted_per_page():
    outcomes = [
        _outcome("xray", "chest", {"chest-xray"}),
        _outcome("xray", "chest", set()),  # a false reject on chest-xray
        _outcome("photo", "other", {"spine-xray"}),  # a false accept (generated negative) on spine-xray
        _outcome("other", "other", set()),
        _outcome("xray", "spine", {"spine-xray"}, pred=("xray", "chest")),
    ]
    s = summarise(outcomes)
    chest = s["pages"]["chest-xray"]
    assert chest["positives"] == 2 and chest["false_reject_rate"] == 0.5
    spine = s["pages"]["spine-xray"]
    assert spine["false_accept_rate_generated"] == 0.5 and spine["false_reject_rate"] == 0.0
    assert s["overall_false_accept_rate_generated_negatives"] == pytest.approx(1 / 8)
    kind = dict(zip(s["kind_confusion"]["rows"], s["kind_confusion"]["counts"]))
    assert kind["xray"][s["kind_confusion"]["cols"].index("xray")] == 3
    text = format_summary(s)
    assert "chest-xray" in text and "false-accept" in text


def test_main_on_a_small_folder(tmp_path):
    from scipy import ndimage

    from core.synth.chest import make_chest_xray

    chest, _ = make_chest_xray(2_000_001, (), size=224)
    (tmp_path / "xray" / "chest").mkdir(parents=True)
    (tmp_path / "other" / "other").mkdir(parents=True)
    Image.fromarray((chest * 255).astype(np.uint8)).save(tmp_path / "xray" / "chest" / "chest.png")
    blurred = ndimage.gaussian_filter(chest, 9)
    Image.fromarray((blurred * 255).astype(np.uint8)).save(tmp_path / "xray" / "chest" / "bad_blur.png")
    noise = np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "other" / "other" / "noise.png")
    assert len(labelled_files(tmp_path)) == 3
    out = tmp_path / "summary.json"
    assert main([str(tmp_path), "--json", str(out)]) == 0
    s = json.loads(out.read_text())
    assert s["files"] == 3
    assert s["overall_false_accept_rate_generated_negatives"] == 0.0  # blurred film and noise refused everywhere
    assert s["pages"]["chest-xray"]["positives"] == 1


def test_unknown_label_folder_is_an_error(tmp_path):
    (tmp_path / "ultrasound" / "other").mkdir(parents=True)
    with pytest.raises(SystemExit):
        labelled_files(tmp_path)
