#!/usr/bin/env bash
# Install (if needed) and start the MariaDB server the test suite talks to: Debian's
# mariadb-server on 127.0.0.1:3306, a login `rolecall` (password `rolecall`) that may create
# and drop the databases named rolecall_test*, and a database `rolecall_test` (utf8mb4). Also
# what building mysqlclient (the tests' second driver, Open edX's) needs: the client headers,
# pkg-config and a compiler.
# Idempotent: a second run only checks and prints. Quiet unless something fails, like
# scripts/test-services.sh (PostgreSQL). Debian/Ubuntu only. Run as root, or with sudo.
set -euo pipefail

USER_NAME=rolecall
PASSWORD=rolecall
DATABASE=rolecall_test
HOST=127.0.0.1
PORT=3306
URL="mysql+pymysql://${USER_NAME}:${PASSWORD}@${HOST}:${PORT}/${DATABASE}"

NAME=test-mariadb
# shellcheck source=scripts/service-steps.sh
source "$(dirname "$0")/service-steps.sh"

# SQL as the server's root account, over the local socket (unix_socket authentication).
as_root() { "${SUDO[@]}" mariadb --protocol=socket -uroot -N -B "$@"; }

# 1. The mariadb-server package.
if dpkg -s mariadb-server >/dev/null 2>&1 && command -v mysqld_safe >/dev/null 2>&1; then
    step "mariadb-server package: already installed"
else
    export DEBIAN_FRONTEND=noninteractive
    install=("${SUDO[@]}" apt-get install -y -qq --no-install-recommends mariadb-server)
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
        quietly "${SUDO[@]}" apt-get update -qq || fail "apt-get update"
        updated=1
    else
        updated=0
    fi
    if ! quietly "${install[@]}"; then
        [[ $updated -eq 0 ]] || fail "apt-get install mariadb-server"
        quietly "${SUDO[@]}" apt-get update -qq || fail "apt-get update"
        quietly "${install[@]}" || fail "apt-get install mariadb-server"
    fi
    step "mariadb-server package: installed"
fi
step "mariadb version: $(mariadbd --version 2>/dev/null | awk '{print $3}')"

# 1b. What `pip install mysqlclient` builds with (it has no wheel for Linux).
if pkg-config --exists mysqlclient 2>/dev/null && command -v cc >/dev/null 2>&1; then
    step "mysqlclient build dependencies: already installed"
else
    export DEBIAN_FRONTEND=noninteractive
    quietly "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
        default-libmysqlclient-dev pkg-config build-essential \
        || fail "apt-get install default-libmysqlclient-dev pkg-config build-essential"
    step "mysqlclient build dependencies: installed"
fi

# 2. The server, started (without an init system: mysqld_safe, detached) and answering on
# 127.0.0.1:3306.
if "${SUDO[@]}" mariadb-admin --protocol=socket -uroot ping >/dev/null 2>&1; then
    step "server: already running"
else
    "${SUDO[@]}" install -d -o mysql -g mysql /run/mysqld
    # Detached from this shell, its output in the server's own error log.
    "${SUDO[@]}" setsid mysqld_safe --user=mysql </dev/null >/dev/null 2>&1 &
    step "server: started (mysqld_safe --user=mysql)"
fi
ready=0
for _ in $(seq 1 60); do
    # `ping` exits 0 when the server answers, even though it refuses this login.
    if mariadb-admin --protocol=tcp -h "$HOST" -P "$PORT" -u nobody ping >/dev/null 2>&1; then
        ready=1
        break
    fi
    sleep 0.5
done
if [[ $ready -ne 1 ]]; then
    : >"$LOG"
    "${SUDO[@]}" tail -n 20 /var/lib/mysql/*.err >"$LOG" 2>/dev/null || true
    fail "MariaDB is not answering on $HOST:$PORT after 30 s"
fi
step "server: answering on $HOST:$PORT"

# 3. The login (from 127.0.0.1, which the server may also know as localhost) and the databases
# it may create: rolecall_test and every rolecall_test* (a fresh one per test).
for host in 127.0.0.1 localhost; do
    quietly as_root -e "CREATE USER IF NOT EXISTS '${USER_NAME}'@'${host}' IDENTIFIED BY '${PASSWORD}';
        GRANT ALL PRIVILEGES ON \`rolecall\\_test%\`.* TO '${USER_NAME}'@'${host}';" \
        || fail "CREATE USER ${USER_NAME}@${host}"
done
step "user $USER_NAME: may create rolecall_test* databases"
quietly as_root -e "CREATE DATABASE IF NOT EXISTS \`${DATABASE}\` CHARACTER SET utf8mb4" \
    || fail "CREATE DATABASE $DATABASE"
step "database $DATABASE: exists"

# 4. Prove the URL works: password login over TCP on 127.0.0.1.
quietly mariadb --protocol=tcp -h "$HOST" -P "$PORT" -u "$USER_NAME" -p"$PASSWORD" \
    -D "$DATABASE" -e 'SELECT 1' || fail "cannot log in as $USER_NAME to $DATABASE on $HOST:$PORT"
step "login as $USER_NAME on $HOST:$PORT: ok"

echo "ROLECALL_TEST_MYSQL_URL=$URL"
