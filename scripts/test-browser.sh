#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/browser) when it is missing.
# Idempotent; run as root or with sudo. The tests skip, saying why, only if this fails.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
    echo "test-browser: chromium: already installed"
    exit 0
fi
if [[ ${EUID} -eq 0 ]]; then SUDO=(); else SUDO=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
if "${SUDO[@]}" apt-get update -qq >"$LOG" 2>&1 \
    && "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium >>"$LOG" 2>&1; then
    echo "test-browser: chromium: installed"
else
    echo "test-browser: could not install chromium; the browser tests will be skipped" >&2
    sed 's/^/    /' "$LOG" >&2
fi
