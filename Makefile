# Two commands on a fresh machine: `make run` (demo on SQLite) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
PG_BIN := $(lastword $(sort $(wildcard /usr/lib/postgresql/*/bin)))

.PHONY: run serve serve-manage test test-sqlite test-postgres test-django6 lint format postgres redis pgbouncer chromium screenshots bench bench-events bench-memory bench-delete bench-drift wheel clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --editable .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --editable . --group dev --group django-scim2
	touch $@ $(VENV)/.installed

# The demo on SQLite: migrate, seed, the development server and a task worker (scripts/run).
run: $(VENV)/.installed
	PORT=$(PORT) scripts/run

$(VENV)/.serve-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --editable ".[server]"
	touch $@ $(VENV)/.installed

# The production profile on 127.0.0.1:$(PORT): gunicorn, PostgreSQL and Redis, data in
# .serve/ (docs/deployment.md). `make serve-manage ARGS="..."` runs manage.py against it.
serve: $(VENV)/.serve-installed postgres redis
	PORT=$(PORT) scripts/serve

serve-manage: $(VENV)/.serve-installed
	@scripts/serve-manage $(ARGS)

# A Debian package, installed if its program is missing: $(call debian,PROGRAM,PACKAGE).
define debian
	@if ! command -v $(1) >/dev/null 2>&1 && [ ! -x /usr/sbin/$(1) ] && [ ! -x /usr/bin/$(1) ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(2) >/dev/null 2>&1 || \
	     (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(2) >/dev/null)); \
	  else \
	    echo "$(1) is missing: install Debian's $(2) package (sudo apt-get install $(2))." >&2; exit 1; \
	  fi; \
	fi
endef

# Redis (Django's cache of the production profile and of the many-machines tests).
redis:
	$(call debian,redis-server,redis-server)

# PgBouncer (the tests of transaction pooling start one).
pgbouncer:
	$(call debian,pgbouncer,pgbouncer)

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

test: $(VENV)/.dev-installed postgres redis pgbouncer chromium lint test-sqlite test-postgres test-django6

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test-sqlite: $(VENV)/.dev-installed chromium
	@echo "=== test suite on SQLite ==="
	$(BIN)/pytest

test-postgres: $(VENV)/.dev-installed postgres redis pgbouncer chromium
	@echo "=== test suite on PostgreSQL ==="
	scripts/with-postgres $(BIN)/pytest

# The version matrix's other leg: Django 6.1 (django.tasks built in) on Python 3.12, the
# suite on SQLite without the process-starting tests. Python 3.12 comes from pyenv or PATH.
PY312 := $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python) $(shell command -v python3.12 2>/dev/null))
DJANGO6 := .venv-django6

$(DJANGO6)/.installed: pyproject.toml
	$(PY312) -m venv $(DJANGO6)
	$(DJANGO6)/bin/python -m pip install --quiet --upgrade pip
	$(DJANGO6)/bin/pip install --quiet --editable . --group dev "django>=6.1,<6.2"
	touch $@

test-django6: chromium
ifeq ($(PY312),)
	@echo "=== Django 6.1 leg not run: no Python 3.12 on this machine (pyenv or python3.12) ==="
else
	@$(MAKE) --no-print-directory $(DJANGO6)/.installed
	@echo "=== test suite on Django 6.1, Python 3.12, SQLite ==="
	$(DJANGO6)/bin/pytest -m "not slow"
endif

$(VENV)/.bench-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --editable . --group dev --group bench
	touch $@

# The benchmark against django-scim2 and a floor endpoint (docs/benchmarks.md).
bench: $(VENV)/.bench-installed postgres
	scripts/with-postgres $(BIN)/python bench/run.py $(BENCH_ARGS)
	scripts/with-postgres $(BIN)/python bench/event_delivery.py

# Event delivery alone: 10,000 SCIM writes with a webhook endpoint and one, then two, task
# workers (docs/benchmarks.md#event-delivery; BENCH_ARGS="--writes 1000" for a quick one).
bench-events: $(VENV)/.bench-installed postgres
	scripts/with-postgres $(BIN)/python bench/event_delivery.py $(BENCH_ARGS)

# The 1,000,000-user size is behind a flag (it adds about 10 minutes, loading included):
#   make bench BENCH_ARGS="--sizes 1000 1000000"
# A gunicorn worker's memory through a 100,000-user first sync (fails past 10% growth).
bench-memory: $(VENV)/.bench-installed postgres
	scripts/with-postgres $(BIN)/python bench/memory.py $(BENCH_ARGS)

# Deleting a connection with 100,000 and 1,000,000 directory users: seconds, peak RSS
# (BENCH_ARGS="--users 100000" for one size; each script takes its own arguments).
bench-delete: $(VENV)/.bench-installed postgres
	scripts/with-postgres $(BIN)/python bench/delete.py $(BENCH_ARGS)

# The drift report at 100,000 users on PostgreSQL (docs/provisioning.md, "Drift report").
bench-drift: $(VENV)/.bench-installed postgres
	scripts/with-postgres $(BIN)/python bench/drift_report.py $(BENCH_ARGS)

# Refresh the README's screenshots from the browser tests.
screenshots: $(VENV)/.dev-installed chromium
	SCREENSHOT_DIR=docs/screenshots $(BIN)/pytest tests/portal/test_browser.py tests/portal/test_browser_drift.py tests/portal/test_browser_brake.py

format: $(VENV)/.dev-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

wheel: $(VENV)/.dev-installed
	$(BIN)/pip wheel --quiet --no-deps --no-build-isolation --wheel-dir dist .

clean:
	rm -rf $(VENV) $(DJANGO6) dist build db.sqlite3 .pytest_cache .ruff_cache .mypy_cache
