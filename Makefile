# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# rolecall-openedx under Django 4.2 as well (Open edX runs 4.2 and 5.2; .venv has 5.2).
VENV42 := .venv-django42
STAMP42 := $(VENV42)/.installed
# mysqlclient (Open edX's MySQL driver) for the MariaDB tests, built from source once
# scripts/test-mariadb.sh (make services) has installed its headers and a compiler.
MYSQLCLIENT := $(VENV)/.mysqlclient
# The PostgreSQL database the tests use; scripts/test-services.sh creates it.
ROLECALL_TEST_POSTGRES_URL ?= postgresql+psycopg://rolecall:rolecall@127.0.0.1:5432/rolecall_test
# The MariaDB login and database the tests use; scripts/test-mariadb.sh creates them.
ROLECALL_TEST_MYSQL_URL ?= mysql+pymysql://rolecall:rolecall@127.0.0.1:3306/rolecall_test
# The Redis server of the notice tests; scripts/test-redis.sh starts it (exported to pytest).
export ROLECALL_TEST_REDIS_URL ?= redis://127.0.0.1:6390/0

.PHONY: run test lint typecheck unit services browser admin-console clean

$(STAMP): pyproject.toml plugins/ccx/pyproject.toml plugins/teams/pyproject.toml plugins/openedx/pyproject.toml plugins/tutor/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]' -e 'plugins/openedx[test,dev]' \
		-e 'plugins/tutor[test]'
	touch $(STAMP)

# The second environment: rolecall and rolecall-openedx with its test extras, Django 4.2.
$(STAMP42): pyproject.toml plugins/openedx/pyproject.toml
	$(PYTHON) -m venv $(VENV42)
	$(VENV42)/bin/pip install --quiet --disable-pip-version-check -e . -e 'plugins/openedx[test]' \
		'Django>=4.2,<5.0'
	$(VENV42)/bin/python -c 'import django; assert django.VERSION[:2] == (4, 2), django.VERSION'
	touch $(STAMP42)

$(MYSQLCLIENT): $(STAMP) | services
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[mysqlclient]'
	touch $(MYSQLCLIENT)

## run: install into .venv, load the demo data into rolecall.db if it is empty, serve the console
run: $(STAMP)
	@$(BIN)/rolecall demo --if-empty
	@$(BIN)/python scripts/console-login.py
	@$(BIN)/rolecall serve --host 127.0.0.1 --port 5000

## test: install what the tests need and run linters, type checks and the whole suite (the
## example plugins' own tests, plugins/teams/tests, included)
test: $(STAMP) lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

## dist: build the wheels and sdists of rolecall and rolecall-openedx, with their versions, into dist/
DIST ?= dist
.PHONY: dist
dist: $(STAMP)
	rm -rf $(DIST)
	$(BIN)/python -m build --outdir $(DIST) .
	$(BIN)/python -m build --outdir $(DIST) plugins/openedx

## services: install (if needed) and start PostgreSQL, MariaDB and Redis for the tests (apt-get: root
## or sudo)
services:
	bash scripts/test-services.sh
	bash scripts/test-mariadb.sh
	bash scripts/test-redis.sh

## browser: install Chromium for the browser tests (apt-get: root or sudo)
browser:
	bash scripts/test-browser.sh

## admin-console: build Open edX's admin console (../shared/vendor, or ROLECALL_ADMIN_CONSOLE_SRC)
## for rolecall-openedx's browser tests, into .admin-console/ (skipped without node and npm)
admin-console:
	bash scripts/build-admin-console.sh

# The suites' workers: rolecall's suite runs on this many pytest-xdist workers (make test
# WORKERS=1 for one; the suite waits on databases, child processes and a browser much of the
# time, so more workers than cores pay).
WORKERS ?= 3

## unit: rolecall's suite on $(WORKERS) workers while .venv-django42 and the admin console are
## built, then rolecall-openedx's four runs side by side (scripts/run-tests.sh)
unit: $(STAMP) services $(MYSQLCLIENT) browser
	ROLECALL_TEST_POSTGRES_URL='$(ROLECALL_TEST_POSTGRES_URL)' \
	ROLECALL_TEST_MYSQL_URL='$(ROLECALL_TEST_MYSQL_URL)' WORKERS='$(WORKERS)' \
		bash scripts/run-tests.sh

clean:
	rm -rf $(VENV) $(VENV42) build *.egg-info plugins/ccx/build plugins/ccx/*.egg-info \
		plugins/teams/build plugins/teams/*.egg-info plugins/openedx/build plugins/openedx/*.egg-info \
		plugins/tutor/build plugins/tutor/*.egg-info
