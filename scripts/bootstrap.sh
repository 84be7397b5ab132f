# Shared set-up for run.sh and test.sh (sourced, not executed).
# Needs only Python 3.11 and pip: installs uv into a private bootstrap venv when uv is missing,
# then installs the locked environment into .venv with `uv sync --frozen`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

find_python() {
  for candidate in python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      # The real interpreter, not a shim (pyenv): uv keeps .venv only when the request matches it.
      "$candidate" -c 'import os, sys; print(os.path.realpath(sys.executable))'; return 0
    fi
  done
  echo "RadLens needs Python 3.11 (python3.11 or python3 on PATH)." >&2
  return 1
}

ensure_uv() {
  if command -v uv >/dev/null 2>&1; then UV=$(command -v uv); return 0; fi
  UV=$PWD/.cache/uv-bootstrap/bin/uv
  [ -x "$UV" ] && return 0
  echo "uv not found: installing it with pip (into .cache/uv-bootstrap)" >&2
  if "$PYTHON" -m venv .cache/uv-bootstrap && .cache/uv-bootstrap/bin/python -m pip install --quiet --disable-pip-version-check uv; then
    return 0
  fi
  # No venv module (Debian without python3-venv): a user install instead.
  "$PYTHON" -m pip install --user --quiet uv || "$PYTHON" -m pip install --user --quiet --break-system-packages uv
  UV="$("$PYTHON" -m site --user-base)/bin/uv"
}

PYTHON=$(find_python)
ensure_uv
# Use the Python found above; never let uv download an interpreter.
export UV_PYTHON="$PYTHON" UV_PYTHON_DOWNLOADS=never
# Compile the packages' bytecode at install time (~25 s once; then ~1 s per sync): without it, a
# machine that sets PYTHONDONTWRITEBYTECODE recompiles torch, timm, MONAI, ANTsPy... from source in
# every process, which cost ~13 s before the first brain analysis (measured 2026-12-08).
export UV_COMPILE_BYTECODE=1
# RadLens works offline at run time (core/offline.py sets the library switches too).
export YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0 HF_HUB_OFFLINE=1 STREAMLIT_BROWSER_GATHER_USAGE_STATS=false
export VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow MPLBACKEND=Agg
