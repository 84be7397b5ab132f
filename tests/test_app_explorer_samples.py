"""Every real sample in ../shared/samples renders in the Scan Explorer (skipped when the folder is absent).

Marked slow: one page run per sample (a few seconds each, more for the 3D view).
"""

from __future__ import annotations

import pytest

from tests.apptest_utils import assert_clean, elements, run_page, upload

pytestmark = [pytest.mark.samples, pytest.mark.slow]
GROUPS = ["brain_mri_dicom", "brain_t1", "brain_tumor", "chest_xray", "knee_mri", "spine_xray"]


@pytest.mark.parametrize("group", GROUPS)
def test_each_sample_renders_without_error(samples_dir, group):
    files = sorted(p for p in (samples_dir / group).iterdir() if p.is_file())
    assert files, f"no files in {group}"
    for path in files:
        at = upload(run_page("pages/1_Scan_Explorer.py"), [(path.name, path.read_bytes())])
        assert_clean(at)
        assert any(s.value.startswith("Input accepted") for s in at.success), (path.name, [e.value for e in at.error])
        assert len(elements(at, "bidi_component")) == 1, path.name
        assert at.dataframe, path.name


def test_three_file_dicom_series_renders_as_one_volume(samples_dir):
    files = sorted((samples_dir / "brain_mri_dicom").glob("*.dcm"))
    at = upload(run_page("pages/1_Scan_Explorer.py"), [(p.name, p.read_bytes()) for p in files])
    assert_clean(at)
    assert any(s.value.startswith("Input accepted") for s in at.success), [e.value for e in at.error]
    meta = dict(zip(at.dataframe[-1].value["field"], at.dataframe[-1].value["value"]))
    assert meta["shape (X, Y, Z)"].endswith(f"x {len(files)}")
    assert [s.label for s in at.slider][2:] == ["Axial slice", "Coronal slice", "Sagittal slice"]
