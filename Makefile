# Wire Report — the two commands: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-unit test-integration test-e2e lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[data,dev]'
	@touch $(STAMP)

run: install
	$(BIN)/wirereport up --replay demo

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

test-unit: install
	$(BIN)/python -m pytest -q -m unit

test-integration: install
	$(BIN)/python -m pytest -q -m integration

test-e2e: install
	$(BIN)/python -m pytest -q -m e2e

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/wirereport bench all

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
