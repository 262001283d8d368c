# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# aws-sam-cli pins its own boto3, so it gets a venv of its own.
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed
# Offline and quiet: no telemetry; IAM's events reach EventBridge only in us-east-1, where rolewatch deploys.
SAM := SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam
TEMPLATES := template.yaml templates/forwarder.yaml templates/member.yaml

.PHONY: demo test lint template permissions unit pytest-all bench catalogue managed-policies clean local-env demo-serve demo-organization

$(STAMP): requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

venv: $(STAMP)

$(SAM_STAMP): requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements-sam.txt
	touch $@

demo: $(STAMP)
	$(PY) -m rolewatch.demo

# env.json for `sam local invoke`: from the deployed stack (samconfig.toml's stack and region; AWS credentials),
# or from the embedded AWS kept running until Ctrl-C (no account; SERVE_ARGS e.g. "--port 5051 --host 172.17.0.1").
local-env: $(STAMP)
	$(PY) -m rolewatch local-env

demo-organization: $(STAMP)
	$(PY) -m rolewatch.demo --organization

demo-serve: $(STAMP)
	$(PY) -m rolewatch.demo --serve $(SERVE_ARGS)

# lint-imports: the import contracts in pyproject.toml, on this checkout's src (not an installed copy).
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests scripts benchmarks
	$(VENV)/bin/ruff format --check src tests scripts benchmarks
	PYTHONPATH=src $(VENV)/bin/lint-imports --no-cache

# The deployable templates: cfn-lint (from .venv) and SAM's own validation with its linter.
template: $(STAMP) $(SAM_STAMP)
	PYTHONPATH=src $(PY) scripts/permissions.py --check
	$(VENV)/bin/cfn-lint $(TEMPLATES)
	for t in $(TEMPLATES); do $(SAM) validate --lint --region us-east-1 --template-file $$t || exit 1; done

# The function roles' policies in template.yaml, written from the code's `requires` declarations
# (rolewatch.aws_permissions); run it after adding or changing one. `make template` checks they match.
permissions: $(STAMP)
	PYTHONPATH=src $(PY) scripts/permissions.py

# pytest-xdist: a worker per CPU; a file's tests stay on one worker, so its module fixtures run once.
XDIST := -n auto --dist loadfile

# The fast set a contributor runs often: every test not marked slow.
unit: $(STAMP)
	$(PY) -m pytest $(XDIST) -m "not slow"

# Every test, the slow end-to-end ones included (demo, SAM local contract, corpora, generated accounts).
pytest-all: $(STAMP)
	$(PY) -m pytest $(XDIST)

test: lint template pytest-all

bench: $(STAMP)
	$(PY) benchmarks/bench_check.py

catalogue: $(STAMP)
	$(PY) scripts/build_action_catalogue.py

# The dated AWS managed-policy snapshot `rolewatch check` audits templates with (reads ../shared/data).
managed-policies: $(STAMP)
	$(PY) scripts/build_managed_policy_snapshot.py

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .ruff_cache out
