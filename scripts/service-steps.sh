# Shared by scripts/test-services.sh and scripts/test-mariadb.sh (sourced, not run): `sudo` when
# not root, one line per step, and a failed step's captured output. Set NAME before sourcing.

if [[ ${EUID} -eq 0 ]]; then
    SUDO=()
else
    SUDO=(sudo)
fi

LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT

step() { printf '%s: %s\n' "$NAME" "$*"; }

fail() {
    printf '%s: FAILED: %s\n' "$NAME" "$*" >&2
    if [[ -s "$LOG" ]]; then
        sed 's/^/    /' "$LOG" >&2
    fi
    exit 1
}

# Run a command with its output captured; show the output only if it fails.
quietly() {
    : >"$LOG"
    "$@" >"$LOG" 2>&1
}
