# Agent² — `make demo` runs an example task offline, `make test` runs the tests.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
PYTHON ?= python3

.PHONY: setup demo test test-all bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# CPU build of torch first: an unpinned torch pulls a multi-GB CUDA build
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[test]"
	touch $(STAMP)

demo: setup
	$(VENV)/bin/agent2 run --env CartPole-v1 --seed 0 --runs-dir runs

test: setup
	$(VENV)/bin/pytest -q

test-all: setup
	$(VENV)/bin/pytest -q -m ""

bench: setup
	$(PY) bench/targets.py

clean:
	rm -rf $(VENV) runs .pytest_cache
