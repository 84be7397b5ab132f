"""AppTest of the Home page: notice, pages, models, device, settings; no secrets shown."""

from __future__ import annotations

from core.config import get_settings
from tests.apptest_utils import assert_clean, page_text, run_page


def test_home_renders_notice_pages_models_device_and_settings():
    at = run_page("Home.py")
    assert_clean(at)
    assert at.title[0].value == "RadLens"
    assert any("Research use only" in w.value and "phantoms" in w.value for w in at.warning)
    assert [s.value for s in at.subheader][:3] == ["Pages", "Models", "Compute"]
    text = page_text(at)
    assert "Scan Explorer" in text  # page list built from pages/*.py docstrings
    assert any(f"**{get_settings().resolved_device()}**" in m.value for m in at.markdown)
    models_shown = any("No models installed" in i.value for i in at.info) or "model folders are usable" in text
    assert models_shown
    settings = at.dataframe[-1].value
    assert {"setting", "env", "value", "help"} <= set(settings.columns)
    assert "max_volume_bytes" in set(settings["setting"])
    assert get_settings().pseudonym_salt not in text  # the salt is a secret
