# Two commands do all set-up: `make dev` runs the whole system locally, `make test` runs every test.
# Both create the virtualenv and install pinned dependencies on first use.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NPM_STAMP := worker/node_modules/.installed
# The current wrangler (needs Node >= 22.12) with the Node it runs on, both from npm (the `node`
# package ships the binary): `make worker-build` checks wrangler.toml with it too.
CURRENT_WRANGLER_DIR   := worker/wrangler_current
CURRENT_WRANGLER_STAMP := $(CURRENT_WRANGLER_DIR)/node_modules/.installed
CURRENT_NODE_BIN       := $(CURRENT_WRANGLER_DIR)/node_modules/node/bin
# The Worker under Pyodide in Node (worker/pyodide_host): npm pyodide + better-sqlite3 (built from
# source, ~1 min once), and the `workers` SDK vendored into worker/python_modules (wheel cached in
# .cache/wheels, so it is offline after the first run).
PYODIDE_STAMP := worker/pyodide_host/node_modules/.installed
VENDOR_STAMP  := worker/python_modules/workers_runtime_sdk-1.9.5.dist-info/RECORD
# The auth app: real Better Auth (better-sqlite3 builds from source, ~1 min the first time) and
# its browser client bundled by esbuild into auth_app/dist/.
AUTH_STAMP := auth_app/dist/.built

.DEFAULT_GOAL := help
.PHONY: help better-auth-schema chromium dev test lint typecheck pytest worker-build worker worker-pyodide pyodide-host backend stripe-fake demo reconcile bench soak api-key clean

help:
	@echo "make dev          run the app (Better Auth + frontend), Worker host, backend and Stripe fake"
	@echo "                  locally (Ctrl-C stops all)"
	@echo "                  (WORKER_RUNTIME=pyodide: the Worker in Pyodide in Node, as Cloudflare runs it;"
	@echo "                   WORKER_RUNTIME=wrangler: under wrangler dev, needs internet;"
	@echo "                   AUTH_CONFIG=auth_app/configs/plural_snake.mjs: a platform's own Better Auth config)"
	@echo "make test         lint, types, every test, the Worker's wrangler dry-run build"
	@echo "make worker | worker-pyodide | backend | stripe-fake   run one part in the foreground"
	@echo "make reconcile    settle unknown ledger rows and replay missed events (running stack)"
	@echo "make demo         walk the onboarding -> transfer story against a running stack"
	@echo "make bench        benchmarks (prints a table)"
	@echo "make soak         bounded load run with a D1 audit"
	@echo "make api-key      print a new internal API key"
	@echo "make better-auth-schema AUTH_CONFIG=path/to/auth.mjs [MIGRATIONS_OUT=dir]"
	@echo "                  describe your Better Auth schema into worker/wrangler.toml"
	@echo "                  (BETTER_AUTH_SCHEMA) and render the D1 migrations for it"

$(STAMP): requirements-dev.txt backend/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python 3.11+ is needed: make PYTHON=python3.11 ..."; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(NPM_STAMP): worker/package.json worker/package-lock.json
	cd worker && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CURRENT_WRANGLER_STAMP): $(CURRENT_WRANGLER_DIR)/package.json $(CURRENT_WRANGLER_DIR)/package-lock.json
	cd $(CURRENT_WRANGLER_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(PYODIDE_STAMP): worker/pyodide_host/package.json worker/pyodide_host/package-lock.json
	cd worker/pyodide_host && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(VENDOR_STAMP): worker/vendor_sdk.py $(STAMP)
	$(PY) worker/vendor_sdk.py

pyodide-host: $(PYODIDE_STAMP) $(VENDOR_STAMP)

$(AUTH_STAMP): auth_app/package.json auth_app/package-lock.json auth_app/build.mjs
	cd auth_app && npm ci --no-audit --no-fund --loglevel=error && node build.mjs
	touch $@

# WORKER_RUNTIME=wrangler runs the Worker under `wrangler dev` (needs internet: workerd downloads
# the Pyodide runtime); the default hosts the same Worker code on CPython with SQLite as D1.
dev: $(STAMP) $(AUTH_STAMP) $(if $(filter wrangler,$(WORKER_RUNTIME)),$(NPM_STAMP)) $(if $(filter pyodide,$(WORKER_RUNTIME)),pyodide-host)
	$(PY) -m devstack.run

worker: $(STAMP)
	$(PY) -m devstack.worker_host

worker-pyodide: $(STAMP) pyodide-host
	$(PY) -m devstack.pyodide_worker

backend: $(STAMP)
	$(PY) -m backend

stripe-fake: $(STAMP)
	$(PY) -m stripe_fake

demo: $(STAMP)
	$(PY) -m devstack.demo

reconcile: $(STAMP)
	$(PY) -m devstack.reconcile

api-key: $(STAMP)
	@$(PY) -c "import secrets; print(secrets.token_urlsafe(48))"

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP) $(NPM_STAMP) $(CURRENT_WRANGLER_STAMP) pyodide-host $(AUTH_STAMP) chromium
	$(PY) -m pytest

# The browser tests drive Debian's chromium (Playwright's own download cannot work offline).
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
		|| { [ "$$(id -u)" = 0 ] && apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } \
		|| { echo "The browser tests need Chromium: sudo apt-get install chromium"; exit 1; }

# The platform's Better Auth schema, asked of Better Auth itself (README: "Bring your own Better
# Auth"). Run it where the platform's auth config can import its own dependencies.
MIGRATIONS_OUT ?= worker/migrations-platform
better-auth-schema: $(STAMP) $(AUTH_STAMP)
	@test -n "$(AUTH_CONFIG)" || { echo "usage: make better-auth-schema AUTH_CONFIG=path/to/auth.mjs"; exit 2; }
	node auth_app/describe_schema.mjs "$(AUTH_CONFIG)" \
		| $(PY) -m devstack.better_auth_schema --wrangler worker/wrangler.toml --migrations-out "$(MIGRATIONS_OUT)"

# Both toolchains: the pinned wrangler on the system Node (20+), and the current one on its own Node 22.
worker-build: $(NPM_STAMP) $(CURRENT_WRANGLER_STAMP)
	cd worker && npx wrangler deploy --dry-run --outdir "$$(mktemp -d)"
	cd worker && PATH="$(CURDIR)/$(CURRENT_NODE_BIN):$$PATH" wrangler_current/node_modules/.bin/wrangler \
		deploy --dry-run --outdir "$$(mktemp -d)"

test: lint typecheck pytest

bench: $(STAMP) pyodide-host
	$(PY) -m bench

soak: $(STAMP)
	$(PY) -m bench.soak

clean:
	rm -rf $(VENV) worker/node_modules $(CURRENT_WRANGLER_DIR)/node_modules worker/pyodide_host/node_modules worker/python_modules auth_app/node_modules auth_app/dist .mypy_cache .ruff_cache .pytest_cache .devstack
