"""The published GitHub workflow and pre-commit hook run commands that work on this repository's templates."""

from __future__ import annotations

import io
import re
import shlex
from pathlib import Path

import pytest
import yaml

from rolewatch.cli import EXIT_OK, build_parser, main

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "rolewatch-iac.yml"
HOOKS = ROOT / ".pre-commit-hooks.yaml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _audit_command(workflow: dict) -> list[str]:
    (step,) = [s for s in workflow["jobs"]["rolewatch"]["steps"] if s.get("id") == "audit"]
    (line,) = [line for line in step["run"].splitlines() if line.strip().startswith("rolewatch ")]
    env = workflow["env"]
    out: list[str] = []
    for word in shlex.split(line.split(">")[0]):  # the shell expands $TEMPLATES into words, "$FAIL_ON" into one
        out.extend(env[word[1:]].split() if word.startswith("$") and word[1:] in env else [word])
    return out


def test_the_workflow_uploads_the_sarif_the_audit_writes(workflow):
    steps = workflow["jobs"]["rolewatch"]["steps"]
    (upload,) = [s for s in steps if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif")]
    assert upload["with"]["sarif_file"] == "rolewatch.sarif"
    assert upload["if"] == "always()"  # findings (exit 1) still reach code scanning
    assert workflow["permissions"]["security-events"] == "write"


def test_the_workflow_command_passes_on_this_repository(workflow):
    argv = _audit_command(workflow)
    assert argv[:1] == ["rolewatch"]
    args = build_parser().parse_args(argv[1:])
    assert args.format == "sarif"
    out = io.StringIO()
    assert main(argv[1:], stdout=out, stderr=io.StringIO()) == EXIT_OK, out.getvalue()[-2000:]


def test_the_pre_commit_hook_runs_check_on_templates_and_plans_only():
    (hook,) = yaml.safe_load(HOOKS.read_text())
    entry = shlex.split(hook["entry"])
    assert entry[:2] == ["rolewatch", "check"]
    build_parser().parse_args([*entry[1:], "template.yaml"])
    files = re.compile(hook["files"])
    for path in ("template.yaml", "templates/app.template.json", "infra/plan.json", "stack-template.yml"):
        assert files.search(path), path
    for path in (".github/workflows/rolewatch-iac.yml", "examples/baselines/strict.yaml", "samconfig.toml"):
        assert not files.search(path), path
