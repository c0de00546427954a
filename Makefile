# `make benchmark` and `make test` set themselves up: they create .venv and install
# requirements.txt on first use (and again whenever requirements.txt changes).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
READY := $(VENV)/.requirements-installed

.PHONY: benchmark gpu-check perf perf-tuning test test-all venv clean

$(READY): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(READY)

venv: $(READY)

# extra options for the run, e.g. make benchmark ARGS=--fresh
ARGS ?=
# worker processes for make benchmark (WORKERS=1: everything in this process)
WORKERS ?= 2

benchmark: $(READY)
	$(PY) -m harness run --suite default --workers $(WORKERS) $(ARGS)

# the same grids trained by the stacked engine, one Keras fit per fold and scikit-learn, beside the floor (~15 min)
perf: $(READY)
	$(PY) -m harness.perf

# make perf's grids and the default suite on a CUDA device, for the day one is lent (refuses without one)
gpu-check: $(READY)
	$(PY) -m harness.gpu_check $(ARGS)

# a tuned variant (7-point grid, 3 inner folds) beside the same grid as fixed variants and GridSearchCV(MLPClassifier)
perf-tuning: $(READY)
	$(PY) -m harness.perf_tuning $(ARGS)

test: $(READY)
	$(PY) -m pytest

test-all: $(READY)
	$(PY) -m pytest -m "" --timeout 3600

clean:
	rm -rf $(VENV) .pytest_cache
