# The two commands of the README: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test install messages lint format check clean screenshots docs-screenshots serve load bench explore faults js

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The Dutch catalog, compiled from locale/nl/LC_MESSAGES/django.po (the .mo is not committed).
MO := locale/nl/LC_MESSAGES/django.mo
$(MO): locale/nl/LC_MESSAGES/django.po $(STAMP)
	$(VENV)/bin/pybabel -q compile -d locale -D django
messages: $(MO)

# Quick start on SQLite with the demo tenant. `make run SSO=1` also starts a mock OpenID
# Connect provider and signs in through it (scripts/run-with-sso).
SSO ?= 0
run: $(STAMP) $(MO)
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py load_catalog
	DEBUG=1 $(PY) manage.py load_demo --port $(PORT)
	@if [ "$(SSO)" = "1" ]; then scripts/run-with-sso $(PORT); \
	else DEBUG=1 $(PY) manage.py runserver 127.0.0.1:$(PORT); fi

# Production-style: gunicorn + WhiteNoise + the task worker, on DATABASE_URL (see README).
serve: $(STAMP) $(MO)
	scripts/serve

# Load test: 20,000-user tenant, gunicorn on loopback, 50 admins (locust) for LOAD_TIME.
load: $(STAMP) $(MO)
	$(PY) -m pip install --quiet -e '.[dev,load]'
	scripts/with-postgres scripts/load/run

# The scaling figures (100,000-user tenant, README) on a throwaway PostgreSQL cluster: `name: value` lines.
bench: $(STAMP) $(MO)
	scripts/with-postgres $(PY) scripts/bench.py

# Microsoft's JavaScript Graph clients for tests/graph/test_js_client.py: Node.js (Debian's when
# missing), then the exact versions of tests/js/package-lock.json; again only when the lock changes.
JS_STAMP := tests/js/node_modules/.installed
$(JS_STAMP): tests/js/package.json tests/js/package-lock.json
	scripts/ensure-node
	cd tests/js && npm ci --no-audit --no-fund
	@touch $(JS_STAMP)
js: $(JS_STAMP)

# The layers' import contract (pyproject.toml), then every test, on a throwaway PostgreSQL
# cluster; the slowest are listed at the end.
test: $(STAMP) $(MO) $(JS_STAMP)
	$(VENV)/bin/lint-imports
	scripts/ensure-chromium
	scripts/with-postgres $(PY) -m pytest --durations=15 $(PYTEST_ARGS)

# The fast tier for the edit-test loop: ruff, the import contract, and every test that needs neither a browser nor
# the state machines nor another minutes-long suite (those run in `make test`).
check: $(STAMP) $(MO)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	scripts/with-postgres $(PY) -m pytest -q -m "not e2e and not stateful and not slow and not race" $(PYTEST_ARGS)

# Real faults (a killed worker, a restarted database, killed web workers, killed maintenance)
# injected into a running portal on a throwaway PostgreSQL (docs/operations.md).
ROUNDS ?= 3
SEED ?=
faults: $(STAMP) $(MO)
	scripts/with-postgres $(PY) scripts/faults.py --rounds $(ROUNDS) $(if $(SEED),--seed $(SEED))

# Both state machines with new examples, seed after seed, for MINUTES (default 60); prints
# every seed it used.
MINUTES ?= 60
explore: $(STAMP) $(MO)
	MINUTES=$(MINUTES) scripts/with-postgres scripts/explore

# A PNG of every page of the demo tenant in screenshots/ (not committed).
SCREENS_DB := build/screenshots.sqlite3
screenshots: $(STAMP) $(MO)
	scripts/ensure-chromium
	mkdir -p build && rm -f $(SCREENS_DB)
	DEBUG=1 DATABASE_URL=sqlite:///$(SCREENS_DB) $(PY) manage.py migrate --noinput -v0
	DEBUG=1 DATABASE_URL=sqlite:///$(SCREENS_DB) $(PY) manage.py load_demo -v0 > /dev/null
	DEBUG=1 DATABASE_URL=sqlite:///$(SCREENS_DB) $(PY) scripts/screenshots.py screenshots

# The flows the README shows, in English and Dutch, in docs/screenshots/ (committed).
docs-screenshots: $(STAMP) $(MO)
	scripts/ensure-chromium
	mkdir -p build && rm -f $(SCREENS_DB)
	DEBUG=1 DATABASE_URL=sqlite:///$(SCREENS_DB) $(PY) manage.py migrate --noinput -v0
	DEBUG=1 DATABASE_URL=sqlite:///$(SCREENS_DB) $(PY) manage.py load_demo -v0 > /dev/null
	DEBUG=1 DATABASE_URL=sqlite:///$(SCREENS_DB) $(PY) scripts/screenshots.py --docs

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache .ruff_cache .hypothesis
