"""Helpers for Streamlit AppTests of RadLens pages, so every page is tested the same way.

Typical use::

    from tests.apptest_utils import run_page, upload, pick_sample, page_text, assert_clean, elements

    at = run_page("pages/1_Scan_Explorer.py")
    at = upload(at, [("head.nii.gz", data)])          # or: pick_sample(at, "MNI152", key="explorer")
    assert_clean(at)
    assert "Input accepted" in page_text(at)
    assert len(elements(at, "bidi_component")) == 1    # the stpyvista 3D view

``page_text`` flattens everything the page rendered (markdown, alerts, captions, tables,
widget labels and options, component payloads) into one string, for "this text appears"
and "this identifier never appears" assertions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TIMEOUT_S = 120  # first runs import torch/pyvista and build a 3D scene on a 2-core machine


def run_page(page: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, session_state: dict[str, Any] | None = None) -> AppTest:
    """Load a page (path relative to the repository root), run it once and return the AppTest."""
    at = AppTest.from_file(str(ROOT / page), default_timeout=timeout_s)
    for key, value in (session_state or {}).items():
        at.session_state[key] = value
    at.run()
    return at


def upload(at: AppTest, files: Sequence[tuple[str, bytes]], *, key: str | None = None,
           mime: str = "application/octet-stream") -> AppTest:
    """Put ``(name, bytes)`` files into a file uploader (the first one, or the one with ``key``) and rerun."""
    uploader = at.file_uploader(key=key) if key else at.file_uploader[0]
    payload = [(name, data, mime) for name, data in files]
    uploader.set_value(payload if uploader.accept_multiple_files else payload[0])
    return at.run()


def pick_sample(at: AppTest, name_contains: str, *, key: str) -> AppTest:
    """Switch a ``common.scan_input(key)`` to "Sample case" and choose the first sample whose name contains the text."""
    at.radio(key=f"{key}_source").set_value("Sample case")
    at.run()
    box = at.selectbox(key=f"{key}_sample")
    matches = [i for i, label in enumerate(box.options) if name_contains.lower() in str(label).lower()]
    if not matches:
        raise AssertionError(f"no sample containing {name_contains!r}; options: {box.options}")
    box.select_index(matches[0])
    return at.run()


def assert_clean(at: AppTest) -> None:
    """Fail with the page's exception messages when the script raised."""
    if at.exception:
        raise AssertionError("page raised: " + " | ".join(str(e.value) for e in at.exception))


def _walk(node: Any) -> Iterable[Any]:
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from _walk(child)


def page_text(at: AppTest) -> str:
    """Everything the page rendered, as one string (protos decoded leniently, tables as text)."""
    parts: list[str] = []
    for node in _walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "SerializeToString"):
            parts.append(proto.SerializeToString().decode("utf-8", "replace"))
        if getattr(node, "type", None) in ("arrow_data_frame", "dataframe", "table"):
            value = getattr(node, "value", None)
            if value is not None and hasattr(value, "to_string"):
                parts.append(value.to_string())
    return "\n".join(parts)


def elements(at: AppTest, element_type: str) -> list[Any]:
    """Every element of a type anywhere in the page, e.g. ``"bidi_component"`` for the 3D view."""
    return [n for n in _walk(at._tree) if getattr(n, "type", None) == element_type]


__all__ = ["ROOT", "run_page", "upload", "pick_sample", "assert_clean", "page_text", "elements"]
