#!/usr/bin/env bash
# Set up RadLens with its test tools and run the default test suite (slow tests excluded).
# Extra arguments go to pytest, e.g. ./test.sh -m slow   or   ./test.sh tests/test_viz_slices.py
source "$(dirname "$0")/scripts/bootstrap.sh"
"$UV" sync --frozen --group dev
# The browser test drives Debian's chromium through Playwright (never `playwright install`).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian chromium for the browser test" >&2
    (apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 \
      || (apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends chromium >/dev/null 2>&1)) \
      || echo "chromium could not be installed; the browser test will be skipped" >&2
  else
    echo "No /usr/bin/chromium (install the Debian 'chromium' package as root); the browser test will be skipped" >&2
  fi
fi
exec "$UV" run --frozen pytest "$@"
