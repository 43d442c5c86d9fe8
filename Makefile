# Two commands on a fresh machine:
#   make ask Q="When is GCAP meant to be delivered?"   (sets up, answers from the bundled statement)
#   make test                                          (sets up, runs the whole test suite)
# Both create the virtualenv themselves. CPU torch is installed first: a plain
# `torch` requirement would pull a multi-GB CUDA build.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
Q ?= When is GCAP meant to be delivered?

.PHONY: setup setup-dev ask test test-fast lint bench eval clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

setup-dev: $(VENV)/.installed-dev

ask: setup
	$(BIN)/statementbot ask "$(Q)"

test: setup-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# While working: everything but the tests marked slow (CI runs `make test`, all of them).
test-fast: setup-dev
	$(BIN)/python -m pytest -q -m "not slow"

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/mypy

# The sample's development set through the CLI, then every question set, whole and by
# tune/check half, with the shipped fit (bench/calibrate.py --report; features cached in /tmp).
eval: setup-dev
	$(BIN)/statementbot eval ../shared/eval/dev_questions.jsonl
	$(BIN)/python bench/calibrate.py --report

bench: setup-dev
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_answer.py
	$(BIN)/python bench/bench_discord.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
