# Two commands for a newcomer: `make run` and `make test`. Everything else is here for the curious.
# The first interpreter that runs and is 3.11+ (pyenv shims may exist for versions that are not selected).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install lock run demo eval test lint typecheck unit integration chaos bench bench-append bench-command bench-main-job bench-traces bench-audit bench-web bench-durability bench-projection bench-api bench-sealing bench-consistency format clean n8n n8n-lock n8n-test n8n-catalog web web-check

# Every Python package at the version the tests last passed with (pyproject.toml keeps the ranges, for
# whoever installs the package into an environment of their own); `make lock` moves them forward.
LOCK   := constraints.txt

$(STAMP): pyproject.toml $(LOCK)
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(LOCK) -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

lock: ## resolve every Python dependency anew (the newest each range in pyproject.toml allows) into constraints.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)"; exit 1; }
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check '.[dev]'; \
	{ echo "# Written by \`make lock\` on $$(date -u +%Y-%m-%d) with $$("$$tmp/venv/bin/python" -V) on $$(uname -m):"; \
	  echo "# every package \`make install\` puts in .venv, at the version the tests ran with. Edit pyproject.toml,"; \
	  echo "# not this file; then \`make lock && make test\` and commit both."; \
	  "$$tmp/venv/bin/python" -m pip freeze --exclude-editable | grep -v '^aiwf @'; } > $(LOCK).new; \
	mv $(LOCK).new $(LOCK); rm -rf build aiwf.egg-info; \
	echo "lock: $$(grep -vc '^#' $(LOCK)) packages pinned in $(LOCK)"

run: install ## start the platform on the embedded default (or REDIS_URL / DATABASE_URL) until Ctrl-C
	$(BIN)/aiwf run

demo: install ## the main job once, end to end, with a summary
	$(BIN)/aiwf demo

eval: install ## the corpus of requests (tests/corpus) through the main job: routing, valid workflows, per language
	$(BIN)/aiwf eval

test: install lint typecheck n8n ## lint, types and the whole test suite (a real n8n included)
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest tests/unit

integration: install
	$(BIN)/pytest tests/integration

CHAOS_ROUNDS ?= 3

chaos: install ## faults injected in rounds under load, the invariants checked after each (`make test` plays one round of each)
	AIWF_CHAOS_ROUNDS=$(CHAOS_ROUNDS) $(BIN)/pytest -s tests/chaos

bench: bench-append bench-command bench-main-job bench-traces bench-audit bench-web bench-durability bench-projection bench-api bench-sealing bench-consistency

bench-append: install ## event store append throughput, latency and memory, against raw XADD
	$(BIN)/python -m bench.append_bench

bench-command: install ## a command on a conversation of 10,000 events: full fold vs snapshot
	$(BIN)/python -m bench.command_bench

bench-main-job: install ## the main job end to end: message → validated workflow, 20 concurrent conversations
	$(BIN)/python -m bench.main_job_bench

bench-traces: install ## the main job on two platforms side by side, traces off beside on or sampled, then swapped: the overhead of traces
	$(BIN)/python -m bench.main_job_bench --traces --rate quarter

bench-web: install ## the web app's chat page in Debian's chromium: time to interactive, first and returning visit
	$(BIN)/python -m bench.web_bench

bench-audit: install ## `aiwf audit verify` events/s over 200,000 events and proof latency, against read and hash floors
	$(BIN)/python -m bench.audit_bench

bench-durability: install ## append throughput with AOF off, everysec, always, each with and without WAITAOF, interleaved
	$(BIN)/python -m bench.durability_bench

bench-projection: install ## projection catch-up (one and two worker processes) against raw COPY, and rebuilds
	$(BIN)/python -m bench.projection_bench

bench-api: install ## reads against a bare Litestar route, command -> read-your-writes, SSE fan-out (wrk when installed)
	$(BIN)/python -m bench.api_bench

bench-sealing: install ## sealed appends and opened reads against plain ones
	$(BIN)/python -m bench.sealing_bench

bench-consistency: install ## reads waiting for a projector (read-your-writes) while checkpoints arrive, against none waiting
	$(BIN)/python -m bench.consistency_bench

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# A real n8n for `pytest -m n8n`, outside the repository and reused between runs. 2.8.4 is the newest that runs
# on Node 20; `xlsx` is overridden because n8n-nodes-base fetches it from a CDN these machines cannot reach.
# n8n and every npm package under it are at the versions the tests last passed with: `make n8n` installs
# what infra/n8n/npm/package-lock.json names (npm ci), `make n8n-lock` resolves them anew.
N8N_VERSION := 2.8.4
N8N_NPM     := infra/n8n/npm
N8N_HOME    ?= $(HOME)/.cache/aiwf/n8n-$(N8N_VERSION)
N8N_STAMP   := $(N8N_HOME)/.installed-$(N8N_VERSION)-$(firstword $(shell cat $(N8N_NPM)/package.json $(N8N_NPM)/package-lock.json | cksum))

n8n: ## install n8n into $(N8N_HOME) once (about 6 minutes, 2.3 GB); a no-op when that lock is installed there
	@if [ -f "$(N8N_STAMP)" ] && [ -x "$(N8N_HOME)/node_modules/.bin/n8n" ]; then \
	  echo "n8n $(N8N_VERSION) already installed in $(N8N_HOME)"; \
	else \
	  mkdir -p "$(N8N_HOME)" && rm -f "$(N8N_HOME)"/.installed-* && \
	  cp $(N8N_NPM)/package.json $(N8N_NPM)/package-lock.json "$(N8N_HOME)/" && cd "$(N8N_HOME)" && \
	  npm ci --no-audit --no-fund --loglevel=error && \
	  touch "$(N8N_STAMP)" && echo "n8n $(N8N_VERSION) installed in $(N8N_HOME)"; \
	fi

n8n-lock: ## resolve n8n's npm packages anew (the newest its ranges allow) into infra/n8n/npm/package-lock.json
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cp $(N8N_NPM)/package.json "$$tmp/"; \
	(cd "$$tmp" && npm install --package-lock-only --no-audit --no-fund --loglevel=error); \
	cp "$$tmp/package-lock.json" $(N8N_NPM)/package-lock.json; \
	echo "wrote $(N8N_NPM)/package-lock.json: now \`make n8n test\`, and commit it if they pass"

n8n-test: install n8n ## the tests that run our workflows on that real n8n
	AIWF_N8N_HOME="$(N8N_HOME)" $(BIN)/pytest -m n8n tests/integration/n8n

n8n-catalog: install n8n ## the validator's node catalogue, written from that n8n's node descriptions
	$(BIN)/python -m infra.n8n.catalog_build --n8n-home "$(N8N_HOME)" --out domain/n8n/n8n-$(N8N_VERSION)-node-catalog.json

# The web app (web/, React + TypeScript + Vite; docs/adr/0029-web-app.md). Its build is committed in
# api/static/app so that `make run` serves it on a machine without Node.js; these targets need Node 20.19+.
WEB     := web
WEB_OUT := api/static/app

web: ## the web app: its locked dependencies, the API client generated from web/openapi.json, the build into api/static/app
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	cd $(WEB) && npm run generate
	cd $(WEB) && npm run build

web-check: ## the web app's types and unit tests, then a rebuild into a temporary directory; fail if it differs from what is committed
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cd $(WEB); \
	npm ci --no-audit --no-fund --loglevel=error; \
	SCHEMA_OUT="$$tmp/schema.ts" npm run --silent generate >/dev/null; \
	if ! cmp -s src/api/schema.ts "$$tmp/schema.ts"; then \
	  echo "web-check: web/src/api/schema.ts is not what web/openapi.json generates: run \`make web\` and commit it"; exit 1; \
	fi; \
	npm run --silent typecheck; \
	npx vitest run --silent; \
	npx vite build --logLevel warn --outDir "$$tmp/app" --emptyOutDir; \
	if ! diff -rq "../$(WEB_OUT)" "$$tmp/app" >"$$tmp/diff"; then \
	  head -20 "$$tmp/diff"; \
	  echo "web-check: $(WEB_OUT) is not the build of web/ (sources or lockfile changed without a rebuild): run \`make web\` and commit $(WEB_OUT)"; exit 1; \
	fi; \
	echo "web-check: $(WEB_OUT) is exactly the build of web/"

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
