# Two commands on a fresh machine: `make run` (demo on SQLite) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
PG_BIN := $(lastword $(sort $(wildcard /usr/lib/postgresql/*/bin)))

.PHONY: run test test-sqlite test-postgres lint format postgres chromium screenshots bench wheel clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --editable .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --editable . --group dev
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --no-input --verbosity 0
	$(BIN)/python manage.py seed_demo
	@echo "Serving the example SaaS on http://127.0.0.1:$(PORT)/ (Ctrl-C to stop)"
	PORT=$(PORT) $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# The server binaries of Debian's postgresql package, installed if missing.
postgres:
ifeq ($(PG_BIN),)
	@if [ "$$(id -u)" = "0" ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	else \
	  echo "PostgreSQL server binaries are missing: install Debian's postgresql package (sudo apt-get install postgresql)." >&2; exit 1; \
	fi
endif

# Debian's Chromium for the browser tests (Playwright drives it; no browser download).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    (apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || \
	     (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null)); \
	  else \
	    echo "Chromium is missing: install Debian's chromium package (sudo apt-get install chromium)." >&2; exit 1; \
	  fi; \
	fi

test: $(VENV)/.dev-installed postgres chromium lint test-sqlite test-postgres

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test-sqlite: $(VENV)/.dev-installed chromium
	@echo "=== test suite on SQLite ==="
	$(BIN)/pytest

test-postgres: $(VENV)/.dev-installed postgres chromium
	@echo "=== test suite on PostgreSQL ==="
	scripts/with-postgres $(BIN)/pytest

$(VENV)/.bench-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --editable . --group dev --group bench
	touch $@

# The benchmark against django-scim2 and a floor endpoint (docs/benchmarks.md).
bench: $(VENV)/.bench-installed postgres
	scripts/with-postgres $(BIN)/python bench/run.py $(BENCH_ARGS)

# Refresh the README's screenshots from the browser tests.
screenshots: $(VENV)/.dev-installed chromium
	SCREENSHOT_DIR=docs/screenshots $(BIN)/pytest tests/portal/test_browser.py

format: $(VENV)/.dev-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

wheel: $(VENV)/.dev-installed
	$(BIN)/pip wheel --quiet --no-deps --no-build-isolation --wheel-dir dist .

clean:
	rm -rf $(VENV) dist build db.sqlite3 .pytest_cache .ruff_cache .mypy_cache
