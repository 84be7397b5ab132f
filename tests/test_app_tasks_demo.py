"""AppTest with the committed demo weights (skips a page whose task has no usable model in weights/).

Whatever the phantom-trained demo models answer on the real public samples (a finding, "Unable to
determine", or an out-of-distribution refusal), the page must run and say the models are phantom-trained.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import PROJECT_ROOT
from core.models import list_models

PAGES = {"brain-tumor": ("3_Brain_Tumor.py", "brain_tumor"), "chest-xray": ("4_Chest_X-ray.py", "chest_xray"),
         "spine-xray": ("5_Spine_X-ray.py", "spine_xray")}


@pytest.fixture()
def default_weights(monkeypatch: pytest.MonkeyPatch):
    from core.config import get_settings
    from core.tasks import clear_task_cache

    monkeypatch.delenv("RADLENS_WEIGHTS_DIR", raising=False)
    get_settings.cache_clear()
    clear_task_cache()
    yield PROJECT_ROOT / "weights"
    get_settings.cache_clear()
    clear_task_cache()


@pytest.mark.parametrize("task_name", list(PAGES))
def test_demo_models_on_public_samples(default_weights: Path, samples_dir: Path, task_name: str) -> None:
    from streamlit.testing.v1 import AppTest

    if not any(i.available for i in list_models(default_weights, task=task_name, role="classifier")):
        pytest.skip(f"no usable {task_name} model in weights/")
    page, key = PAGES[task_name]
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / page), default_timeout=240)
    at.run()
    at.toggle(key=f"{key}_public").set_value(True).run()
    n = len(at.selectbox(key=f"{key}_public_file").options)
    assert n >= 1
    for i in range(n):
        if i:
            at.selectbox(key=f"{key}_public_file").select_index(i).run()
        assert not at.exception, at.exception
        notes = " ".join(str(e.value) for e in at.info)
        assert "phantom" in notes.lower()
        verdicts = [e.value for e in at.success] + [e.value for e in at.warning] + [e.value for e in at.error]
        assert verdicts, "the page shows a finding or a refusal"
