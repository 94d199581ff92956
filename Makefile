# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when missing or stale and
# install exactly the versions in requirements.lock (pip checks every file against its hash).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
# `make lock UPGRADE=all` moves every pin to the newest allowed version; `make lock UPGRADE="httpx apprise"`
# only those. Plain `make lock` keeps every pin that still satisfies pyproject.toml.
UPGRADE ?=
UPGRADE_ARGS := $(if $(filter all,$(UPGRADE)),--upgrade,$(foreach p,$(UPGRADE),--upgrade-package $(p)))

.PHONY: demo test lint typecheck unit bench lock clean

# Said once, before the only slow step; pip then shows errors only (-qq): the machine's pip configuration
# can print dozens of warnings that are not the operator's to act on. PIP_DISABLE_PIP_VERSION_CHECK drops
# the "new pip available" notice for the same reason.
PIP := PIP_DISABLE_PIP_VERSION_CHECK=1 $(BIN)/python -m pip
$(STAMP): pyproject.toml $(LOCK)
	@echo "Installing SMT and its pinned dependencies into $(VENV) (about a minute; again only when they change)..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(PIP) install -qq --require-hashes -r $(LOCK)
	@$(PIP) install -qq --no-deps --no-build-isolation -e .
	@touch $(STAMP)
	@echo "Installed."

demo: $(STAMP)
	$(BIN)/smt demo

test: $(STAMP) lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check smt_engine smt_tui tests bench
	$(BIN)/ruff format --check smt_engine smt_tui tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

# Resolve pyproject.toml's dependencies (runtime, dev, and the build backend) into pins with hashes.
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --extra dev --generate-hashes --allow-unsafe --strip-extras \
		--build-deps-for editable --no-emit-index-url --no-emit-find-links $(UPGRADE_ARGS) \
		--output-file $(LOCK) pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
