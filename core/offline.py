"""Keep dependencies offline: RadLens never downloads anything at run time.

ultralytics probes the network on import and fetches ``Arial.ttf`` when plotting or
training; it stays offline when these variables are set before it is imported and a
local font is already in its config folder. Called from :mod:`core` on import.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
YOLO_CONFIG_DIR = PROJECT_ROOT / ".yolo"


def _local_font() -> Path | None:
    """A TTF font that ships with an installed package (matplotlib's DejaVuSans)."""
    try:
        import matplotlib
    except ImportError:
        return None
    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return font if font.exists() else None


def configure_offline() -> None:
    """Set offline switches for ultralytics, Hugging Face and friends (idempotent)."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(YOLO_CONFIG_DIR))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    os.environ.setdefault("MPLBACKEND", "Agg")
    # trame-vtklocal (pulled in by trame-pyvista, which stpyvista's export needs) downloads a
    # VTK WebAssembly bundle from gitlab.kitware.com whenever a trame server starts, unless this
    # points at a local folder. RadLens's 3D view uses vtk.js, not the WebAssembly bundle, so an
    # empty folder is enough and keeps the export offline.
    no_wasm = PROJECT_ROOT / ".cache" / "vtk-wasm-offline"
    no_wasm.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("VTK_WASM_DIR_OVERRIDE", str(no_wasm))
    font_dir = Path(os.environ["YOLO_CONFIG_DIR"]) / "Ultralytics"
    target = font_dir / "Arial.ttf"
    if not target.exists():
        source = _local_font()
        if source is not None:
            font_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
