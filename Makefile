# Two entry points: `make demo` runs the main job on the embedded demo world, `make test` checks everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck bench clean

$(BIN)/eros: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(BIN)/eros
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/eros
	$(BIN)/eros demo

test: $(VENV)/.dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/pytest -q -m "not slow" -n auto

bench: $(VENV)/.dev
	$(BIN)/python bench/bench_import.py

clean:
	rm -rf $(VENV) eros-demo.duckdb eros.duckdb out
