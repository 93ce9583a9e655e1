#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/browser), and Node.js with npm to build
# Open edX's admin console for rolecall-openedx's browser tests, when they are missing.
# Idempotent; run as root or with sudo. The tests skip, saying why, only if this fails.
set -euo pipefail

if [[ ${EUID} -eq 0 ]]; then SUDO=(); else SUDO=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
UPDATED=0

install() {  # install NAME PACKAGE...: Debian's packages, saying what happened in one line
    local name=$1
    shift
    if [[ $UPDATED -eq 0 ]]; then
        "${SUDO[@]}" apt-get update -qq >"$LOG" 2>&1 || true
        UPDATED=1
    fi
    if "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "$@" >>"$LOG" 2>&1; then
        echo "test-browser: $name: installed"
    else
        echo "test-browser: could not install $name; the tests that need it will be skipped" >&2
        sed 's/^/    /' "$LOG" >&2
    fi
}

if [[ -x /usr/bin/chromium ]]; then
    echo "test-browser: chromium: already installed"
else
    install chromium chromium
fi
if command -v node >/dev/null && command -v npm >/dev/null; then
    echo "test-browser: node and npm: already installed"
else
    install "node and npm" nodejs npm
fi
