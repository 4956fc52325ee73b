#!/usr/bin/env bash
# Install the system packages the test suite uses, when missing. Idempotent and quiet.
#
# Today: Debian's `chromium`, for tests/leaderboard/test_html_browser.py (headless
# browser test of leaderboard/index.html). That test skips when chromium is absent,
# so this script never fails the test set-up: without root (and without
# password-less sudo) or without apt-get it prints a warning and exits 0.
set -u

have_chromium() {
    command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
}

if have_chromium; then
    exit 0
fi

warn() {
    echo "[crbench] warning: $*; tests/leaderboard/test_html_browser.py will be skipped." >&2
}

if ! command -v apt-get >/dev/null 2>&1; then
    warn "chromium is not installed and apt-get is not available (install chromium by hand)"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
    SUDO=(sudo -n)
else
    warn "chromium is not installed and this user is not root (run: sudo apt-get install chromium)"
    exit 0
fi

echo "[crbench] installing chromium (apt-get, first use only)"
export DEBIAN_FRONTEND=noninteractive
# Wait for a concurrent apt/dpkg instead of failing on its lock.
APT_OPTS=(-qq -o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)
log=$(mktemp)
if { "${SUDO[@]}" apt-get "${APT_OPTS[@]}" update &&
     "${SUDO[@]}" apt-get "${APT_OPTS[@]}" install -y --no-install-recommends chromium; } \
        >"$log" 2>&1 && have_chromium; then
    rm -f "$log"
    exit 0
fi
tail -n 20 "$log" >&2
rm -f "$log"
warn "installing chromium with apt-get failed (output above)"
exit 0
