"""Real-browser smoke test: Debian chromium (Playwright) opens the running app, uploads a scan, sees the 3D canvas.

Skips when /usr/bin/chromium is missing (``./test.sh`` installs it with apt when run as root).
Never runs ``playwright install``: Playwright drives the system chromium.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.apptest_utils import ROOT
from tests.scan_fixtures import head_nifti_bytes

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed at /usr/bin/chromium "
                                                     "(apt-get install chromium; ./test.sh does this as root)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError("streamlit did not become healthy in time")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """Start `streamlit run Home.py` on a free port; yields (url, seconds from start to healthy)."""
    port = _free_port()
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    started = time.monotonic()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "Home.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1"],
            cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url, started
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.returncode not in (0, -15, None):
            print(log.read_text(errors="replace")[-3000:])


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
