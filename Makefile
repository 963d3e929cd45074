# The README's commands. Everything runs from one virtualenv, .venv (the one Pulumi.yaml names).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STACKS := staging production
# The CI trust project (infra/ci_trust, its own Pulumi.yaml) and its stacks.
TRUST_DIR := infra/ci_trust
TRUST_STACKS := ci
# uv installs without compiling bytecode, and machines that set PYTHONDONTWRITEBYTECODE would
# then compile the Pulumi SDKs from source in every process (several times slower plans).
# Let Python write .pyc files for what is actually imported, once; a .pyc older than its
# source is never used, so they cannot go stale. (Compiling all of site-packages at install
# time costs more than it saves: docs/plan.md#measurements.)
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup tools plan test lint typecheck pytest bench bench-setup rules-test hooks clean help

help:
	@echo "make plan   - set up .venv and preview both stacks and the CI trust stack offline with the policy pack"
	@echo "make test   - set up .venv, run ruff, mypy and the tests"
	@echo "make bench  - measure spendsense plan and the policy pack's throughput"
	@echo "make bench-setup - measure a fresh install with uv and with pip"
	@echo "make rules-test RULES=firestore/firestore.rules - check a rules file against the access model"
	@echo "make hooks  - opt in: install pre-commit and its git hooks (lint and typecheck before each commit)"

$(STAMP): pyproject.toml policies/requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# uv resolves the same versions as pip and installs them in parallel, in seconds where pip
	@# takes minutes (`make bench-setup`; docs/plan.md#measurements). pip stays the fallback.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check 'uv>=0.5,<1'
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]' -r policies/requirements.txt \
	  || $(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' -r policies/requirements.txt
	@touch $(STAMP)

setup: $(STAMP)

# Peers the tests run that PyPI does not ship: Prometheus' promtool evaluates the backup alert's
# PromQL (Debian's prometheus package). Installed when missing and we may (root, apt-get);
# elsewhere the test says how to install it, and fails under CI=true.
tools:
	@command -v promtool >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing promtool (Debian package prometheus)"; \
	    (apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 \
	     || { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }) \
	    && systemctl disable --now prometheus >/dev/null 2>&1 || true; \
	  else echo "promtool is missing: apt-get install prometheus (the backup alert test needs it)"; fi; }

plan: setup
	@rc=0; for stack in $(STACKS); do \
	  $(BIN)/spendsense plan --stack $$stack || rc=$$?; \
	done; \
	for stack in $(TRUST_STACKS); do \
	  $(BIN)/spendsense plan -C $(TRUST_DIR) --stack $$stack || rc=$$?; \
	done; exit $$rc

lint: setup
	$(BIN)/ruff check infra policies scripts tests bench
	$(BIN)/ruff format --check infra policies scripts tests bench

typecheck: setup
	$(BIN)/mypy

pytest: setup tools
	$(BIN)/pytest -q -n 2 --dist loadfile

test: lint typecheck pytest

RULES ?= firestore/firestore.rules
rules-test: setup
	$(BIN)/spendsense rules test --rules $(RULES)

bench: setup
	$(BIN)/python bench/bench.py

# A fresh `make setup` with uv and with pip (several minutes: pip is the slow one).
bench-setup: setup
	$(BIN)/python bench/fresh_setup.py

# Opt-in (`make setup` does not do it): pre-commit runs the hooks of .pre-commit-config.yaml, the
# commands of `lint` and `typecheck`, before each commit. Undo with `$(BIN)/pre-commit uninstall`.
hooks: setup
	$(BIN)/uv pip install --quiet --python $(BIN)/python 'pre-commit>=3,<5' \
	  || $(BIN)/python -m pip install --quiet --disable-pip-version-check 'pre-commit>=3,<5'
	$(BIN)/pre-commit install

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
