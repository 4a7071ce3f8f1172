# The two commands a newcomer needs (see README): `make demo` and `make test`.
# Both create .venv, install TensorFlow first, then build this package against it in place.
PYTHON ?= python3
VENV ?= .venv
# tensorflow-cpu on Linux x86-64; elsewhere (or for GPUs) set TF_PACKAGE=tensorflow.
TF_PACKAGE ?= tensorflow-cpu
TF_RANGE ?= >=2.16,<2.22
BIN = $(VENV)/bin

.PHONY: install test demo lint lib

install:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q "$(TF_PACKAGE)$(TF_RANGE)" "setuptools>=64" wheel
	$(BIN)/pip install -q --no-build-isolation -e ".[test]"

test: install
	$(BIN)/python -m pytest tests

demo: install
	$(BIN)/python -m hugectr_tf.examples.dcn_demo

# C++/CUDA sources checked by clang-format (Google style, .clang-format).
CXX_SOURCES = $(shell find cc tests \( -name '*.cc' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) | sort)

# Runs all three checks, then fails if any did (pinned versions: pyproject.toml, test extras).
lint:
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/ruff format --check . || status=1; \
	$(BIN)/clang-format --dry-run -Werror $(CXX_SOURCES) || status=1; \
	exit $$status

# Quick incremental rebuild of the op library after editing cc/ (editable install).
lib:
	$(BIN)/python setup.py -q build_ext --inplace
