#!/usr/bin/env bash
# Build Open edX's admin console (frontend-app-admin-console) for rolecall-openedx's browser
# tests (plugins/openedx/tests/test_admin_console_browser.py), from its pinned, unmodified
# source beside the repository (../shared/vendor/frontend-app-admin-console, or
# $ROLECALL_ADMIN_CONSOLE_SRC), with `npm ci` and `npm run build` in a copy of it.
#
# The build goes to .admin-console/<key>/ (git-ignored), <key> being a hash of the source's
# files (package-lock.json among them) and of the build variables below: a second run with the
# same source finds it and builds nothing. The base URLs are not build variables: the console
# reads them at start from the MFE config API (MFE_CONFIG_API_URL, a path on the page's own
# origin), as micro-frontends do on a platform, so one build serves on any port.
#
# Usage: build-admin-console.sh          build if needed, print one line per step
#        build-admin-console.sh --dir    print the build's folder (built or not), build nothing
# Without the source, or without node and npm, it says so in one line and exits 0: the tests
# that need the build are then skipped. npm's own output goes to .admin-console/build.log.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SRC="$(realpath -m "${ROLECALL_ADMIN_CONSOLE_SRC:-$ROOT/../shared/vendor/frontend-app-admin-console}")"
CACHE="$ROOT/.admin-console"
LOG="$CACHE/build.log"
NAME=build-admin-console

# What the build bakes in. Everything that names a host comes at run time from the config API.
BUILD_ENV=(
    NODE_ENV=production
    PUBLIC_PATH=/admin-console/
    MFE_CONFIG_API_URL=/api/mfe_config/v1
    APP_ID=admin-console
    SITE_NAME=rolecall
    ACCESS_TOKEN_COOKIE_NAME=edx-jwt-cookie-header-payload
    CSRF_TOKEN_API_PATH=/csrf/api/v1/token
    USER_INFO_COOKIE_NAME=edx-user-info
)

say() { echo "$NAME: $*"; }

key() {
    # The source's files (not a build or node_modules of its own), then the build variables.
    (
        cd "$SRC"
        find . \( -name node_modules -o -name dist -o -name .git \) -prune -o -type f -print0 \
            | LC_ALL=C sort -z | xargs -0 sha256sum
        printf '%s\n' "${BUILD_ENV[@]}"
    ) | sha256sum | cut -c1-16
}

if [[ ! -f "$SRC/package-lock.json" ]]; then
    [[ ${1:-} == --dir ]] && exit 0
    say "skipped: no console source at $SRC (set ROLECALL_ADMIN_CONSOLE_SRC)"
    exit 0
fi
OUT="$CACHE/$(key)"
if [[ ${1:-} == --dir ]]; then
    echo "$OUT"
    exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    say "skipped: node and npm are not installed"
    exit 0
fi
if [[ -f "$OUT/index.html" ]]; then
    say "up to date: ${OUT#"$ROOT"/}"
    exit 0
fi

mkdir -p "$CACHE"
# One build at a time (two `make test` runs side by side wait for each other).
exec 9>"$CACHE/.lock"
flock 9
if [[ -f "$OUT/index.html" ]]; then
    say "up to date: ${OUT#"$ROOT"/} (built meanwhile)"
    exit 0
fi

WORK="$(mktemp -d "$CACHE/work.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
: >"$LOG"
run() {
    local what=$1
    shift
    local start=$SECONDS
    if ! "$@" >>"$LOG" 2>&1; then
        say "$what: failed; the end of $LOG:" >&2
        tail -n 40 "$LOG" | sed 's/^/    /' >&2
        exit 1
    fi
    say "$what: done in $((SECONDS - start)) s"
}

say "building from $SRC (node $(node --version), npm $(npm --version)); npm's output in ${LOG#"$ROOT"/}"
# A writable copy: the source may be read-only, and stays untouched.
cp -R "$SRC/." "$WORK/src"
rm -rf "$WORK/src/node_modules" "$WORK/src/dist"
chmod -R u+w "$WORK/src"
cd "$WORK/src"
run "npm ci" npm ci --no-audit --no-fund --loglevel=error
run "npm run build" env "${BUILD_ENV[@]}" npm run build
mv dist "$WORK/dist"
rm -rf "$OUT"
mv "$WORK/dist" "$OUT"
# Older builds of other sources or variables are not kept.
find "$CACHE" -mindepth 1 -maxdepth 1 -type d ! -path "$OUT" ! -path "$WORK" -exec rm -rf {} +
say "built: ${OUT#"$ROOT"/}"
