#!/usr/bin/env bash
# The test suites of `make test` (its `unit` target), in parallel where they can be:
#
# 1. In the background, what only rolecall-openedx's runs need: the Django 4.2 environment
#    (.venv-django42, `make .venv-django42/.installed`) and Open edX's admin console
#    (scripts/build-admin-console.sh). Each is a no-op when up to date.
# 2. Meanwhile, rolecall's suite on $WORKERS pytest-xdist workers (--dist loadgroup: the groups
#    of tests/conftest.py, tests sharing an expensive fixture and the fork, concurrency and
#    notice tests, each on one worker), its slowest tests printed at the end.
# 3. Then, once both background jobs have succeeded, rolecall-openedx's four runs side by side:
#    its Django test project on SQLite, PostgreSQL and MariaDB, and on SQLite under Django 4.2.
#    Each has a test database of its own (a random name per run on the servers; SQLite in
#    memory), so they never meet. Their output is printed one run after the other.
#
# A failed background job fails the whole run, with its log shown. The exit status is non-zero
# when any part failed; every part runs even when an earlier one failed, so one run shows all
# the failures. Set by the Makefile: WORKERS, ROLECALL_TEST_POSTGRES_URL,
# ROLECALL_TEST_MYSQL_URL (and ROLECALL_TEST_REDIS_URL, exported).
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
WORKERS="${WORKERS:-3}"
BIN="$ROOT/.venv/bin"
BIN42="$ROOT/.venv-django42/bin"
LOGS="$(mktemp -d "${TMPDIR:-/tmp}/rolecall-tests.XXXXXX")"
# Stopped early: the background jobs stop too.
trap 'rm -rf "$LOGS"' EXIT
trap 'kill $(jobs -p) 2>/dev/null; exit 130' INT TERM
failed=()

say() { echo "run-tests: $*"; }

# Start a background job: its name, then its command; output to $LOGS/<name>.log.
declare -A PIDS STARTED
background() {
    local name=$1
    shift
    STARTED[$name]=$SECONDS
    "$@" >"$LOGS/$name.log" 2>&1 &
    PIDS[$name]=$!
}

# Wait for a background job; on failure show its log and remember it.
finish() {
    local name=$1
    if wait "${PIDS[$name]}"; then
        say "$name: done in $((SECONDS - STARTED[$name])) s"
        sed 's/^/    /' "$LOGS/$name.log"
    else
        say "$name: FAILED after $((SECONDS - STARTED[$name])) s; its output:" >&2
        sed 's/^/    /' "$LOGS/$name.log" >&2
        failed+=("$name")
    fi
}

background django42 make --no-print-directory .venv-django42/.installed
background admin-console bash scripts/build-admin-console.sh

say "rolecall's suite on $WORKERS workers"
start=$SECONDS
if ! "$BIN/pytest" -n "$WORKERS" --dist loadgroup; then
    failed+=("rolecall's suite")
fi
say "rolecall's suite: $((SECONDS - start)) s"

finish django42
finish admin-console

# rolecall-openedx's runs: its own Django test project, with the platform's database on SQLite,
# then on PostgreSQL, then on MariaDB (Django's MySQL backend, mysqlclient), where rolecall's
# tables live in the platform's database (rolecall's core stays free of Django); and under
# Django 4.2, on SQLite. Without the Django 4.2 environment only the first three run.
cd plugins/openedx
background openedx-sqlite "$BIN/pytest"
background openedx-postgresql env ROLECALL_OPENEDX_TEST_DATABASE=postgresql "$BIN/pytest"
background openedx-mysql env ROLECALL_OPENEDX_TEST_DATABASE=mysql "$BIN/pytest"
runs=(openedx-sqlite openedx-postgresql openedx-mysql)
if [[ -x "$BIN42/pytest" && -f "$ROOT/.venv-django42/.installed" ]]; then
    background openedx-django42 "$BIN42/pytest"
    runs+=(openedx-django42)
fi
for name in "${runs[@]}"; do
    if wait "${PIDS[$name]}"; then
        status=passed
    else
        status=FAILED
        failed+=("$name")
    fi
    say "$name: $status in $((SECONDS - STARTED[$name])) s; its output:"
    cat "$LOGS/$name.log"
done

if ((${#failed[@]})); then
    say "FAILED: ${failed[*]} (after $SECONDS s)" >&2
    exit 1
fi
say "all passed in $SECONDS s"
