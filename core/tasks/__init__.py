"""Task registry: ``get_task(name)(scan) -> Result``.

Each task lives in its own module and exposes ``build() -> Task``. Tasks are built once per
process (they hold loaded models) and must keep no per-request state, because Streamlit's
``st.cache_resource`` shares them across sessions and threads.
"""

from __future__ import annotations

import importlib
import threading
from typing import Callable

from core.types import Task

# name -> "module:factory". Modules are imported lazily so that listing tasks stays cheap.
_REGISTRY: dict[str, str] = {
    "input-gate": "core.tasks.input_gate:build",
    "brain-tumor": "core.tasks.brain_tumor:build",
    "chest-xray": "core.tasks.chest_xray:build",
    "spine-xray": "core.tasks.spine_xray:build",
    "alzheimers": "core.tasks.alzheimers:build",
}
_BUILT: dict[str, Task] = {}
_LOCK = threading.Lock()


def list_tasks() -> list[str]:
    """Names of every registered task, in registry order."""
    return list(_REGISTRY)


def register_task(name: str, target: str) -> None:
    """Register (or replace) a task factory given as ``"module:function"``."""
    with _LOCK:
        _REGISTRY[name] = target
        _BUILT.pop(name, None)


def _factory(name: str) -> Callable[[], Task]:
    module_name, func_name = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module_name), func_name)


def get_task(name: str) -> Task:
    """Return the task called ``name``, building it (and loading its models) on first use.

    Raises:
        KeyError: when no task has that name; the message lists the available names.
    """
    if name not in _REGISTRY:
        raise KeyError(f"Unknown task {name!r}; available tasks: {', '.join(_REGISTRY)}")
    with _LOCK:
        if name not in _BUILT:
            _BUILT[name] = _factory(name)()
        return _BUILT[name]


def clear_task_cache() -> None:
    """Forget built tasks (tests, or after weights changed on disk)."""
    with _LOCK:
        _BUILT.clear()
