# crbench: `make demo` and `make test` set up the Python environment on first use.
SHELL := /bin/bash
PY := .venv/bin/python
# CPU threads per process: the development and CI machines have 2 cores.
export OMP_NUM_THREADS ?= 2
export PYTHONDONTWRITEBYTECODE := 1
# Test processes (pytest-xdist): each test runs single-threaded (tests/conftest.py),
# so one process per core (and one thread per process they start) keeps both cores
# of the CI machine busy without oversubscribing them.
TEST_WORKERS ?= 2

.PHONY: setup test-deps demo test test-fast leaderboard clean

setup:
	@bash tools/setup_venv.sh

demo: setup
	$(PY) tools/demo.py

test-deps:
	@bash tools/install_test_deps.sh

test: setup test-deps
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal --timeout=900 --durations=15 tests

test-fast: setup
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal -x -m "not slow" tests

leaderboard: setup
	$(PY) tools/leaderboard.py

clean:
	rm -rf work_dirs .pytest_cache
