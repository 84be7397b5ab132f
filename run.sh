#!/usr/bin/env bash
# Set up RadLens (first run installs the locked environment) and start the app on http://localhost:8501.
# Extra arguments go to `streamlit run`, e.g. ./run.sh --server.port 8600
source "$(dirname "$0")/scripts/bootstrap.sh"
"$UV" sync --frozen
exec "$UV" run --frozen streamlit run Home.py "$@"
