# hivemem: `make run` starts the server on the SQLite default (./hivemem.db); `make test` runs the suite.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test check lint format typecheck bench demo clean system-deps

RUN_STAMP := $(VENV)/.installed-run

# Serving needs the server and the default embedder only; the test and benchmark tools come
# with `make test` / `make check` / `make bench`.
$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU build of torch first (it lies on this machine's disk): sentence-transformers
	# would otherwise pull a CUDA build of several GB.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[server,semantic]'
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP)
	$(PY) -m pip install -q -e '.[dev,bench,server,redis,postgres,semantic]'
	touch $(STAMP)

run: $(RUN_STAMP)
	$(VENV)/bin/hivemem serve --store sqlite:///hivemem.db

demo: $(RUN_STAMP)
	$(VENV)/bin/hivemem demo --url sqlite:///demo.db

# The tests start their own redis-server and PostgreSQL 15 (initdb + pg_ctl in a temporary
# directory; never the shared servers on 6379 and 5432); the web UI tests drive Debian's
# Chromium (Playwright never downloads a browser here).
system-deps:
	@command -v redis-server >/dev/null && command -v redis-cli >/dev/null || \
		(apt-get install -y -q redis-server >/dev/null 2>&1 || \
		 (apt-get update -q >/dev/null && apt-get install -y -q redis-server >/dev/null))
	@test -x /usr/lib/postgresql/15/bin/initdb || \
		(apt-get install -y -q postgresql-15 >/dev/null 2>&1 || \
		 (apt-get update -q >/dev/null && apt-get install -y -q postgresql-15 >/dev/null))
	@test -x /usr/bin/chromium || \
		(apt-get install -y -q chromium >/dev/null 2>&1 || \
		 (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null))

test: $(STAMP) system-deps
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff format --check hivemem tests benchmarks
	$(VENV)/bin/ruff check hivemem tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff format hivemem tests benchmarks
	$(VENV)/bin/ruff check --fix hivemem tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy

check: lint typecheck test

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache hivemem.egg-info
