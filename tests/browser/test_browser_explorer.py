"""Real-browser smoke test: Debian chromium (Playwright) opens the running app, uploads a scan, sees the 3D canvas.

Skips when /usr/bin/chromium is missing (``./test.sh`` installs it with apt when run as root).
Never runs ``playwright install``: Playwright drives the system chromium.
"""

from __future__ import annotations

import time

import pytest

from tests.browser.streamlit_server import CHROMIUM, CHROMIUM_ARGS, running_app
from tests.scan_fixtures import head_nifti_bytes

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed at /usr/bin/chromium "
                                                     "(apt-get install chromium; ./test.sh does this as root)"),
]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """The running app; yields (url, monotonic time at start)."""
    started = time.monotonic()
    with running_app(tmp_path_factory.mktemp("streamlit") / "server.log", timeout_s=60) as url:
        yield url, started


def test_upload_shows_qc_and_3d_canvas(app_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, started = app_url
    scan_file = tmp_path / "head.nii.gz"
    scan_file.write_bytes(head_nifti_bytes())
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2200})
            page.goto(url, wait_until="domcontentloaded")
            expect(page.get_by_text("Research use only.").first).to_be_visible(timeout=30_000)
            cold_start_s = time.monotonic() - started
            page.screenshot(path=str(tmp_path / "home.png"), full_page=True)

            page.goto(url + "/Scan_Explorer", wait_until="domcontentloaded")
            page.locator("input[type=file]").first.wait_for(state="attached", timeout=30_000)
            loaded = time.monotonic()
            page.locator("input[type=file]").first.set_input_files(str(scan_file))
            expect(page.get_by_text("Input accepted").first).to_be_visible(timeout=45_000)
            # The 3D frame follows the QC report after the mesh is built and serialised (7-14 s on 2 idle cores;
            # the generous timeouts absorb a busy machine).
            canvas = page.frame_locator("iframe").first.locator("canvas").first
            canvas.wait_for(state="visible", timeout=90_000)
            expect(page.get_by_text("Metadata (de-identified)").first).to_be_visible(timeout=30_000)
            to_canvas_s = time.monotonic() - loaded
            page.wait_for_timeout(1500)  # let WebGL draw a frame before the screenshot
            page.screenshot(path=str(tmp_path / "explorer.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "explorer.png").stat().st_size > 10_000
    print(f"cold start to first render: {cold_start_s:.1f} s; upload to 3D canvas: {to_canvas_s:.1f} s; "
          f"screenshots in {tmp_path}")
