# Patron: `make run` to try it, `make test` to check it. See README.md.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
PYTHON ?= python3
UV := $(PYTHON) -m uv
VENV := .venv
PY := $(VENV)/bin/python
PATRON := $(PY) -m patron
CHROMIUM ?= /usr/bin/chromium
PYTEST_ARGS ?=

.PHONY: install run test test-fast test-browser test-long lint typecheck messages bytecode chromium bench clean

install: $(VENV)/.installed messages bytecode

# Byte-code is compiled here, once, for the packages and for Patron's own modules. Where
# PYTHONDONTWRITEBYTECODE is set (container images often set it) Python never writes it
# itself, and every process (a test worker, a web worker, a bench script) would compile
# Django and the project from source as it starts: 5.5 s to import Patron's URLs on a
# slow 2-core machine, 2.7 s with the byte-code in place.
$(VENV)/.installed: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --compile-bytecode
	@touch $@

# Only what changed since the last run is compiled again.
bytecode: $(VENV)/.installed
	@$(PY) -m compileall -q -j 0 patron bench >/dev/null

# Compile the gettext catalogues (English and Vietnamese) with Django's compilemessages.
messages: $(VENV)/.installed
	@command -v msgfmt >/dev/null || { echo "Installing gettext for msgfmt"; apt-get install -y -qq gettext >/dev/null; }
	@cd patron && ../$(PATRON) compilemessages --verbosity 0

run: install
	$(PATRON) migrate --noinput
	$(PATRON) demo
	@echo "Open http://127.0.0.1:$${PORT:-8000}/ (API docs: http://127.0.0.1:$${PORT:-8000}/api/v1/docs)"
	$(PATRON) serve --port $${PORT:-8000}

chromium:
	@test -x $(CHROMIUM) || { echo "Installing Debian's chromium for the browser tests"; \
		(apt-get update -qq && apt-get install -y -qq chromium) >/dev/null; }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy patron

# Every check: lint, types, migrations in step with models, the whole suite with the
# browser walks. DATABASE_URL picks the database (SQLite by default).
test: install chromium lint typecheck
	$(PATRON) makemigrations --check --dry-run >/dev/null
	$(VENV)/bin/pytest -n 2 -m "not browser and not slow" $(PYTEST_ARGS)
	$(VENV)/bin/pytest -m "browser" $(PYTEST_ARGS)

test-fast: install
	$(VENV)/bin/pytest -x -m "not browser and not slow" $(PYTEST_ARGS)

test-browser: install chromium
	$(VENV)/bin/pytest -m "browser" $(PYTEST_ARGS)

# The long suites (fault injection, soak). Exit code 5 means none were collected.
test-long: install
	$(VENV)/bin/pytest -m "slow" --durations=20 $(PYTEST_ARGS) || [ $$? -eq 5 ]

# Benchmarks against this machine's own references (PostgreSQL, pgbench, wrk).
# QUICK=1 shortens every run. Prints a table and writes var/bench/results.json.
bench: install
	@command -v wrk >/dev/null || { echo "Installing wrk"; (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null; }
	cd bench && ../$(PY) run.py $(if $(QUICK),--quick,)

clean:
	rm -rf var/ .mypy_cache .ruff_cache
