# Two-command quick start:  `make demo`  and  `make test`.
# Both create .venv from requirements.txt on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WORKDIR ?= runs/demo
FASHION_MNIST_DIR := /usr/share/datasets/fashion-mnist

.PHONY: demo test install system-data benchmarks clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .   # the package itself: no sys.path edits anywhere
	@$(MAKE) --no-print-directory system-data
	touch $(STAMP)

# Real Fashion-MNIST for tests and benchmarks: Debian's package, installed when
# we are root with apt; elsewhere the tests that need it are skipped.
system-data:
	@if [ -d $(FASHION_MNIST_DIR) ]; then echo "Fashion-MNIST: $(FASHION_MNIST_DIR)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist) \
	  || echo "Could not install dataset-fashion-mnist; its tests will be skipped."; \
	else echo "Not root or no apt: Fashion-MNIST tests will be skipped."; fi

demo: $(STAMP)
	$(BIN)/python launch/main.py --config=configs/dafl_digits.py --workdir=$(WORKDIR)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup --durations=12 tests  # two workers, for a 2-core CPU (tests/test_full_size.py keeps to one); the slowest listed

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/teacher.py

clean:
	rm -rf $(VENV) runs
