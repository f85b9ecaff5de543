# Quick start: `make demo` (the main job) and `make test` (the test suite). Both set up .venv first
# and are fast when it is already set up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.maxl-installed
TORCH_VERSION := 2.13.0
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: setup demo test lint format fashion-mnist clean

setup: $(STAMP)

# torch is installed first and pinned to the local CPU wheel, unless the venv already has a torch
# (for example a CUDA build you installed yourself); the package itself only asks for torch>=2.4.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet torch==$(TORCH_VERSION)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Fashion-MNIST from Debian's package where apt can install it; otherwise maxl downloads it on
# first use into ~/.cache/maxl (checksums verified before parsing).
fashion-mnist:
	@if [ -f $(FASHION_MNIST) ]; then \
		echo "Fashion-MNIST: $(dir $(FASHION_MNIST))"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
			|| echo "apt could not install dataset-fashion-mnist; maxl will download the files"; \
	else \
		echo "Fashion-MNIST will be downloaded on first use"; \
	fi

demo: setup fashion-mnist
	$(BIN)/maxl compare --config configs/fashion-mnist-demo.yaml --out runs/demo --no-progress
	$(BIN)/maxl show runs/demo

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache .mypy_cache
