"""Real-browser check of the Longitudinal page: a subject with two brain records shows its table, three charts
and the annualised change. Set RADLENS_SCREENSHOT_DIR to keep the screenshot.

Skips when /usr/bin/chromium is missing; Playwright drives the system chromium (never ``playwright install``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.streamlit_server import CHROMIUM, CHROMIUM_ARGS, running_app
from tests.records_fixtures import brain_report, task_result

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed at /usr/bin/chromium"),
]


def _fill_store(url: str) -> None:
    from core.store import Store

    store = Store(url)
    store.add_brain_report(brain_report(hippocampus_ml=4.1, ventricles_ml=28.0, brain_ml=1100.0), subject="sub-demo01",
                           source="visit1.nii.gz sha256:1", modality="MR", study_date="2022-03-01")
    store.add_brain_report(brain_report(hippocampus_ml=3.85, ventricles_ml=31.5, brain_ml=1089.0, stage="Mild Dementia",
                                        confidence=0.64),
                           subject="sub-demo01", source="visit2.nii.gz sha256:2", modality="MR", study_date="2024-03-01")
    store.add_result(task_result(), subject="sub-demo01", source="chest.png sha256:3", modality="DX",
                     study_date="2023-05-10")


def test_longitudinal_page_in_a_browser(tmp_path):
    from playwright.sync_api import sync_playwright

    url_db = f"sqlite:///{tmp_path / 'browser.sqlite'}"
    _fill_store(url_db)
    with running_app(tmp_path / "server.log", {"RADLENS_STORE_URL": url_db}) as url:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 2900})
            page.goto(url + "/Longitudinal", timeout=120_000)
            page.get_by_text("Records of sub-demo01").wait_for(timeout=120_000)
            page.locator(".js-plotly-plot").nth(2).wait_for(timeout=60_000)
            assert page.locator(".js-plotly-plot").count() == 3
            page.get_by_text("Annualised change (first to last brain record)").wait_for(timeout=30_000)
            assert page.locator("[data-testid='stException']").count() == 0
            shots = Path(os.environ.get("RADLENS_SCREENSHOT_DIR", tmp_path))
            shots.mkdir(parents=True, exist_ok=True)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(shots / "longitudinal.png"), full_page=True)
            browser.close()
