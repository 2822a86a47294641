# Two commands on a fresh machine: `make run` (demo on SQLite) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
DOCS_PORT ?= 8008
PG_BIN := $(lastword $(sort $(wildcard /usr/lib/postgresql/*/bin)))

.PHONY: run serve serve-manage test test-sqlite test-postgres test-matrix lint docs docs-serve format postgres redis pgbouncer chromium screenshots gettext messages bench bench-events bench-memory bench-delete bench-drift wheel clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --editable .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --editable . --group dev --group django-scim2
	touch $@ $(VENV)/.installed $(VENV)/.docs-installed

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

# GNU gettext: makemessages/compilemessages, and the test that the catalogs are current.
gettext:
	$(call debian,xgettext,gettext)

# Refresh the German and French catalogs from the marked strings, then compile them
# (tests/test_translations.py fails until every new message is translated).
messages: $(VENV)/.dev-installed gettext
	cd scim_portal && mkdir -p locale && \
	  DJANGO_SETTINGS_MODULE=tests.settings PYTHONPATH=.. ../$(BIN)/django-admin makemessages \
	    -l de -l fr --no-obsolete --add-location file && \
	  DJANGO_SETTINGS_MODULE=tests.settings PYTHONPATH=.. ../$(BIN)/django-admin compilemessages

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

test: $(VENV)/.dev-installed postgres redis pgbouncer chromium gettext lint docs test-sqlite test-postgres

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The docs site (mkdocs.yml over docs/) into site/, strictly: a broken link or anchor, or a page
# missing from the nav, fails the build, and so `make test`. `make docs-serve` rebuilds as you
# edit, on 127.0.0.1:$(DOCS_PORT), and only warns (a strict server would stop at the first slip).
$(VENV)/.docs-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --group docs
	touch $@

MKDOCS := NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs

# Never --quiet: mkdocs 1.6 then drops the warnings before --strict counts them, and passes.
docs: $(VENV)/.docs-installed
	$(MKDOCS) build --strict

docs-serve: $(VENV)/.docs-installed
	$(MKDOCS) serve --no-strict --dev-addr 127.0.0.1:$(DOCS_PORT)

test-sqlite: $(VENV)/.dev-installed chromium gettext
	@echo "=== test suite on SQLite ==="
	$(BIN)/pytest

test-postgres: $(VENV)/.dev-installed postgres redis pgbouncer chromium gettext
	@echo "=== test suite on PostgreSQL ==="
	scripts/with-postgres $(BIN)/pytest

# The version matrix's other legs (noxfile.py), each on SQLite in its own .nox/ venv:
# Python 3.12 + Django 6.0, Python 3.13 + Django 6.1, and Python 3.11 with every runtime
# dependency at its declared floor. Interpreters: pyenv's builds, else python3.X on PATH
# (none is downloaded). `make test-matrix NOX_ARGS="-s django61 -- -x tests/scim"` runs one.
empty :=
space := $(empty) $(empty)
PYENV_BINS := $(subst $(space),:,$(wildcard $(HOME)/.pyenv/versions/3.1[123].*/bin))

test-matrix: $(VENV)/.dev-installed redis chromium gettext
	@echo "=== the version matrix on SQLite (noxfile.py) ==="
	PATH="$(PYENV_BINS)$(if $(PYENV_BINS),:)$$PATH" $(BIN)/nox $(NOX_ARGS)

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

# Refresh the README's and docs/portal.md's screenshots from the browser tests.
screenshots: $(VENV)/.dev-installed chromium
	SCREENSHOT_DIR=docs/screenshots $(BIN)/pytest tests/portal/test_browser.py tests/portal/test_browser_drift.py tests/portal/test_browser_brake.py \
	  tests/portal/test_browser_a11y.py::test_screenshots tests/portal/test_browser_a11y.py::test_charts_pictures \
	  tests/portal/test_browser_a11y.py::test_staff_dashboard_picture

format: $(VENV)/.dev-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The sdist and the wheel into dist/, as a release would upload them, checked by twine.
wheel: $(VENV)/.dev-installed
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .
	$(BIN)/twine check --strict dist/*

clean:
	rm -rf $(VENV) .nox dist build site db.sqlite3 .pytest_cache .ruff_cache .mypy_cache
