# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit clean

$(STAMP): pyproject.toml plugins/ccx/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

## run: install into .venv and show what rolecall has registered
run: $(STAMP)
	@$(BIN)/rolecall plugins
	@echo
	@$(BIN)/rolecall roles
	@echo
	@echo "The console is not built yet: for now, explore the registries with"
	@echo "  $(BIN)/rolecall permissions | roles --matrix | scope parse KEY"

## test: install what the tests need and run linters, type checks and the whole suite
test: $(STAMP) lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

clean:
	rm -rf $(VENV) build *.egg-info plugins/ccx/build plugins/ccx/*.egg-info
