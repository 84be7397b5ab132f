"""Shared pytest fixtures.

Real sample scans live in ``../shared/samples`` beside the repository; tests that use them
go through the ``samples_dir`` fixture, which skips when that folder is absent so that a
fresh clone still passes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent / "shared" / "samples"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """Path of ../shared/samples; skips the test when it is not there."""
    if not SAMPLES.is_dir():
        pytest.skip("../shared/samples is not present")
    return SAMPLES
