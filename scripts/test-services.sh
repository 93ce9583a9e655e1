#!/usr/bin/env bash
# Install (if needed) and start the services the test suite talks to: a PostgreSQL server on
# 127.0.0.1:5432 with a login role `rolecall` (password `rolecall`, may create databases) and a
# database `rolecall_test` owned by it. Idempotent: a second run only checks and prints.
# Quiet unless something fails: one line per step, and the captured output of a failed step.
# Debian/Ubuntu only (apt, postgresql-common). Run as root, or as a user with sudo.
set -euo pipefail

ROLE=rolecall
PASSWORD=rolecall
DATABASE=rolecall_test
HOST=127.0.0.1
PORT=5432
CLUSTER=main
URL="postgresql+psycopg://${ROLE}:${PASSWORD}@${HOST}:${PORT}/${DATABASE}"

NAME=test-services
# shellcheck source=scripts/service-steps.sh
source "$(dirname "$0")/service-steps.sh"

# Run SQL as the `postgres` superuser over the local socket (peer authentication).
as_postgres() {
    # cd / so that postgres does not complain about an unreadable working directory.
    if [[ ${EUID} -eq 0 ]]; then
        (cd / && su postgres -c "$(printf '%q ' "$@")")
    else
        (cd / && sudo -u postgres "$@")
    fi
}

psql_value() { as_postgres psql -p "$PORT" -X -tAc "$1"; }
psql_run() { quietly as_postgres psql -p "$PORT" -X -q -v ON_ERROR_STOP=1 -c "$1"; }

# 1. The postgresql package.
if dpkg -s postgresql >/dev/null 2>&1 && command -v pg_ctlcluster >/dev/null 2>&1; then
    step "postgresql package: already installed"
else
    export DEBIAN_FRONTEND=noninteractive
    # The package's postinst creates the cluster with the environment's locale: make it UTF-8
    # (a bare container has no LANG, which would give an SQL_ASCII cluster).
    export LANG=C.UTF-8 LC_ALL=C.UTF-8
    install=("${SUDO[@]}" apt-get install -y -qq --no-install-recommends postgresql)
    # Update the package lists only when there are none (fresh image), or when the install
    # fails with the lists we have (stale lists pointing at superseded versions).
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
        quietly "${SUDO[@]}" apt-get update -qq || fail "apt-get update"
        updated=1
    else
        updated=0
    fi
    if ! quietly "${install[@]}"; then
        [[ $updated -eq 0 ]] || fail "apt-get install postgresql"
        quietly "${SUDO[@]}" apt-get update -qq || fail "apt-get update"
        quietly "${install[@]}" || fail "apt-get install postgresql"
    fi
    step "postgresql package: installed"
fi

# 2. The installed major version (the newest, if several are installed).
VERSION="$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1)"
[[ -n "$VERSION" && -x "/usr/lib/postgresql/$VERSION/bin/postgres" ]] \
    || fail "no PostgreSQL server found under /usr/lib/postgresql"
step "postgresql version: $VERSION"

# 3. The cluster (the package's postinst normally creates it; not in every image).
# pg_lsclusters -h: "ver cluster port status owner datadir logfile", no header.
cluster_line() { pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c'; }
if [[ -n "$(cluster_line)" ]]; then
    step "cluster $VERSION/$CLUSTER: exists"
else
    quietly "${SUDO[@]}" pg_createcluster --locale C.UTF-8 --port "$PORT" "$VERSION" "$CLUSTER" \
        || fail "pg_createcluster $VERSION $CLUSTER"
    step "cluster $VERSION/$CLUSTER: created"
fi
cluster_port="$(cluster_line | awk '{print $3}')"
[[ "$cluster_port" == "$PORT" ]] \
    || fail "cluster $VERSION/$CLUSTER is configured for port $cluster_port, not $PORT"

# 4. The server, started and accepting connections on 127.0.0.1:5432.
if [[ "$(cluster_line | awk '{print $4}')" == online* ]]; then
    step "cluster $VERSION/$CLUSTER: already running"
else
    # pg_ctlcluster (unlike pg_ctl) may be run as root: it switches to the cluster's owner.
    quietly "${SUDO[@]}" pg_ctlcluster "$VERSION" "$CLUSTER" start \
        || fail "pg_ctlcluster $VERSION $CLUSTER start"
    step "cluster $VERSION/$CLUSTER: started"
fi
ready=0
for _ in $(seq 1 40); do
    if pg_isready -q -h "$HOST" -p "$PORT"; then
        ready=1
        break
    fi
    sleep 0.5
done
if [[ $ready -ne 1 ]]; then
    : >"$LOG"
    tail -n 20 "/var/log/postgresql/postgresql-$VERSION-$CLUSTER.log" >"$LOG" 2>/dev/null || true
    fail "PostgreSQL is not accepting connections on $HOST:$PORT after 20 s"
fi
step "server: accepting connections on $HOST:$PORT"

# 5. The login role and the database the tests connect to.
role="$(psql_value "SELECT rolcanlogin AND rolcreatedb FROM pg_roles WHERE rolname='$ROLE'")" \
    || fail "cannot query pg_roles as postgres"
if [[ "$role" == t ]]; then
    step "role $ROLE: exists"
elif [[ "$role" == f ]]; then
    psql_run "ALTER ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'" || fail "ALTER ROLE $ROLE"
    step "role $ROLE: exists, granted LOGIN CREATEDB"
else
    psql_run "CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'" \
        || fail "CREATE ROLE $ROLE"
    step "role $ROLE: created"
fi
database="$(psql_value "SELECT 1 FROM pg_database WHERE datname='$DATABASE'")" \
    || fail "cannot query pg_database as postgres"
if [[ "$database" == 1 ]]; then
    step "database $DATABASE: exists"
else
    # UTF8 whatever the cluster's default encoding is (template0 allows choosing it).
    psql_run "CREATE DATABASE $DATABASE OWNER $ROLE TEMPLATE template0 ENCODING 'UTF8' \
LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'" || fail "CREATE DATABASE $DATABASE"
    step "database $DATABASE: created"
fi

# 6. Prove the URL works: password login over TCP on 127.0.0.1.
quietly env PGPASSWORD="$PASSWORD" psql -X -h "$HOST" -p "$PORT" -U "$ROLE" -d "$DATABASE" \
    -v ON_ERROR_STOP=1 -tAc 'SELECT 1' \
    || fail "cannot log in as $ROLE to $DATABASE on $HOST:$PORT"
step "login as $ROLE on $HOST:$PORT: ok"

echo "ROLECALL_TEST_POSTGRES_URL=$URL"
