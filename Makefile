# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# `make demo` installs sklnn with its runtime dependencies and matplotlib (the `plot` extra,
# which the examples draw with); `make test` adds the `dev` extra (tests, docs, build tools).
DEMO_STAMP := $(VENV)/.demo-installed
STAMP := $(VENV)/.installed
# pip arguments that install torch before sklnn, e.g. the CPU-only wheel (README.md):
#   make demo TORCH="torch --index-url https://download.pytorch.org/whl/cpu"
TORCH ?=

.PHONY: demo test test-one-thread test-oldest lint docs gallery-results bench bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(if $(TORCH),$(BIN)/python -m pip install --quiet $(TORCH))
	$(BIN)/python -m pip install --quiet -e ".[plot]"
	touch $(DEMO_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(if $(TORCH),$(BIN)/python -m pip install --quiet $(TORCH))
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP) $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python examples/demo.py

# Two pytest-xdist workers, a test file each at a time (module fixtures stay shared): the
# suite's independent files run side by side on a 2-core machine.
test: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -n 2 --dist loadfile

# The suite again with torch held to one intra-op thread: no result may depend on the count.
test-one-thread: $(STAMP)
	SKLNN_TEST_THREADS=1 $(BIN)/python -m pytest

# The suite on the lowest versions pyproject.toml admits (ci/oldest-constraints.txt), in a
# second venv. Not part of CI; run it before changing a lower bound.
OLDEST := .venv-oldest
test-oldest:
	$(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet --upgrade pip
	$(OLDEST)/bin/python -m pip install --quiet -c ci/oldest-constraints.txt -e ".[dev]"
	$(OLDEST)/bin/python -m pytest

lint: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m mypy

# The site in docs/_build/html, warnings as errors. The gallery runs every example with --quick
# (a minute or two on 2 cores); `make docs SKLNN_EXAMPLES_QUICK=0` runs them at full length.
SKLNN_EXAMPLES_QUICK ?= 1
docs: $(STAMP)
	SKLNN_EXAMPLES_QUICK=$(SKLNN_EXAMPLES_QUICK) $(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

# The examples at full length, their output and figures kept in docs/full_runs/ for the
# gallery (about an hour on 2 CPU cores; docs/run_examples.py NAME runs one).
gallery-results: $(STAMP)
	$(BIN)/python docs/run_examples.py

$(VENV)/.bench-installed: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python -m benchmarks.run

bench-quick: $(VENV)/.bench-installed
	$(BIN)/python -m benchmarks.run --quick

clean:
	rm -rf $(VENV) $(OLDEST) build dist *.egg-info docs/_build docs/generated docs/auto_examples \
		docs/sg_execution_times.rst
