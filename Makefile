# Two commands for a newcomer: `make run` and `make test`. Everything else is here for the curious.
# The first interpreter that runs and is 3.11+ (pyenv shims may exist for versions that are not selected).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run demo test lint typecheck unit integration bench bench-append format clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install ## start the platform on the embedded default (or REDIS_URL / DATABASE_URL) until Ctrl-C
	$(BIN)/aiwf run

demo: install ## the main job once, end to end, with a summary
	$(BIN)/aiwf demo

test: install lint typecheck ## lint, types and the whole test suite
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

bench: bench-append

bench-append: install ## event store append throughput, latency and memory, against raw XADD
	$(BIN)/python -m bench.append_bench

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
