# Two commands for a newcomer: `make run` (the API on the embedded SQLite default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint openapi bench bench-env clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/python -m app serve

lint: $(VENV)/.dev
	$(BIN)/ruff check app tests migrations benchmarks
	$(BIN)/mypy

# Tests run in parallel processes (pytest-xdist), each with its own databases; TEST_PROCESSES=0
# runs them in this one. Most tests wait on servers, workers and databases more than they compute,
# so more processes than cores pay off.
TEST_PROCESSES ?= 4

test: lint
	$(BIN)/python -m pytest -n $(TEST_PROCESSES)

openapi: $(VENV)/.runtime
	$(BIN)/python -m app openapi

bench: $(VENV)/.dev
	$(BIN)/python -m benchmarks.members --sqlite

# The analytics benchmark compares the CLV fit with the `lifetimes` package, kept out of the service's
# environment: it gets its own.
bench-env:
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet "lifetimes>=0.11" "numpy>=1.26" "scipy>=1.11" "pandas>=2.0"

clean:
	rm -rf $(VENV) .venv-bench .pytest_cache .mypy_cache .ruff_cache
