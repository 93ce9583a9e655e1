#!/usr/bin/env bash
# Install (if needed) and start the Redis server the notice tests talk to: Debian's
# redis-server on 127.0.0.1:6390 (not the default port, so a Redis the machine runs for
# something else is left alone), without persistence. Idempotent: a second run only checks and
# prints. Quiet unless something fails, like scripts/test-services.sh (PostgreSQL).
# Debian/Ubuntu only. Run as root, or with sudo.
set -euo pipefail

HOST=127.0.0.1
PORT=6390
URL="redis://${HOST}:${PORT}/0"

NAME=test-redis
# shellcheck source=scripts/service-steps.sh
source "$(dirname "$0")/service-steps.sh"

# 1. The redis-server package.
if dpkg -s redis-server >/dev/null 2>&1 && command -v redis-server >/dev/null 2>&1; then
    step "redis-server package: already installed"
else
    export DEBIAN_FRONTEND=noninteractive
    install=("${SUDO[@]}" apt-get install -y -qq --no-install-recommends redis-server)
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
        quietly "${SUDO[@]}" apt-get update -qq || fail "apt-get update"
        updated=1
    else
        updated=0
    fi
    if ! quietly "${install[@]}"; then
        [[ $updated -eq 0 ]] || fail "apt-get install redis-server"
        quietly "${SUDO[@]}" apt-get update -qq || fail "apt-get update"
        quietly "${install[@]}" || fail "apt-get install redis-server"
    fi
    step "redis-server package: installed"
fi
step "redis version: $(redis-server --version | awk '{print $3}')"

# 2. The server, started detached (no init system), answering on 127.0.0.1:6390.
if redis-cli -h "$HOST" -p "$PORT" ping 2>/dev/null | grep -q PONG; then
    step "server: already running on $HOST:$PORT"
else
    quietly redis-server --daemonize yes --bind "$HOST" --port "$PORT" --save '' \
        --appendonly no --dir /tmp --logfile /tmp/rolecall-test-redis.log \
        || fail "redis-server --port $PORT"
    step "server: started on $HOST:$PORT"
fi
ready=0
for _ in $(seq 1 40); do
    if redis-cli -h "$HOST" -p "$PORT" ping 2>/dev/null | grep -q PONG; then
        ready=1
        break
    fi
    sleep 0.25
done
if [[ $ready -ne 1 ]]; then
    : >"$LOG"
    tail -n 20 /tmp/rolecall-test-redis.log >"$LOG" 2>/dev/null || true
    fail "Redis is not answering on $HOST:$PORT after 10 s"
fi
step "server: answering on $HOST:$PORT"

echo "ROLECALL_TEST_REDIS_URL=$URL"
