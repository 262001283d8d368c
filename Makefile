# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint unit bench catalogue clean

$(STAMP): requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/rolewatch check examples/sample-account.json --format text || [ $$? -eq 1 ]

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests scripts benchmarks
	$(VENV)/bin/ruff format --check src tests scripts benchmarks

unit: $(STAMP)
	$(PY) -m pytest

test: lint unit

bench: $(STAMP)
	$(PY) benchmarks/bench_check.py

catalogue: $(STAMP)
	$(PY) scripts/build_action_catalogue.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache out
