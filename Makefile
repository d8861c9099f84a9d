# Organism — one command to run the system, one to run the tests.
#   make run    install into .venv, migrate, create the admin, load sample data, serve
#   make test   the whole test suite (PostgreSQL and Redis on localhost)
#   make lint   ruff, mypy on the engines, import-linter

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR := $(abspath ../shared/data)

# Tests use the machine's PostgreSQL and Redis unless told otherwise.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/organism
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=

.PHONY: install run test test-fast lint bench clean

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@if [ -z "$$ORGANISM_DATA_DIR" ] && [ -d "$(DATA_DIR)" ]; then export ORGANISM_DATA_DIR="$(DATA_DIR)"; fi; \
	$(BIN)/python manage.py organism_run

test: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
	ORGANISM_DATA_DIR=$${ORGANISM_DATA_DIR:-$(DATA_DIR)} \
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy trading/engine backtests/engine evolution/engine patterns/engine
	$(BIN)/lint-imports

bench: $(STAMP)
	ORGANISM_DATA_DIR=$${ORGANISM_DATA_DIR:-$(DATA_DIR)} $(BIN)/python bench/indicators.py
	ORGANISM_DATA_DIR=$${ORGANISM_DATA_DIR:-$(DATA_DIR)} $(BIN)/python bench/backtests.py
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} ORGANISM_DATA_DIR=$${ORGANISM_DATA_DIR:-$(DATA_DIR)} $(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
