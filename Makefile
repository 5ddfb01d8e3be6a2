# Wire Report — the two commands: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-unit test-integration test-e2e test-browser browser lint bench clean

NODE_STAMP := node_modules/.installed

install: $(STAMP) $(NODE_STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[data,dev]'
	@touch $(STAMP)

# The console's front-end libraries (Chart.js; axe-core for the accessibility tests), pinned by package-lock.json.
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y npm; \
	  else echo "error: npm not found; install Node.js and npm (Debian: apt-get install -y npm)"; exit 1; fi
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

# A real Chromium for the console's browser tests (Debian's package; Playwright cannot download its own here).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y chromium; \
	  else echo "note: no chromium and not root: the console's browser tests will be skipped"; fi

run: install
	$(BIN)/wirereport up --replay demo $(if $(FEED),--feed $(FEED))

# Each tier but the browser's shares the cores (pytest-xdist; each worker has its own embedded broker): most of
# their time is spent waiting on brokers and processes. A tier at a time: the pure-logic tests would otherwise
# slow the processes of the end-to-end ones. The browser tests, which time what a page shows, run alone.
test: install browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "unit or integration" -n auto --dist worksteal
	$(BIN)/python -m pytest -q -m e2e -n auto --durations=10
	$(BIN)/python -m pytest -q -m browser

test-unit: install
	$(BIN)/python -m pytest -q -m unit -n auto

test-integration: install
	$(BIN)/python -m pytest -q -m integration -n auto

test-e2e: install browser
	$(BIN)/python -m pytest -q -m e2e -n auto

test-browser: install browser
	$(BIN)/python -m pytest -q -m browser

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/wirereport bench all

clean:
	rm -rf $(VENV) node_modules build *.egg-info .pytest_cache .ruff_cache
