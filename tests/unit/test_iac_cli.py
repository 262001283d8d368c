"""`rolewatch check` on templates and plans: formats, SARIF regions, and every bad input's outcome and exit status."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rolewatch.cli import EXIT_BAD_INPUT, EXIT_FINDINGS, EXIT_OK, main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "iac"
SAM = FIXTURES / "sam-functions.yaml"
CFN = FIXTURES / "cfn-docs-root-role.yaml"
PLAN = FIXTURES / "terraform" / "plan.json"

ROLE = """\
  {name}:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {{Service: lambda.amazonaws.com}}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: {action}
                Resource: {resource}
"""


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def _write(tmp_path: Path, text: str, name: str = "template.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _line(path: str, text: str) -> int:
    return next(i for i, line in enumerate(Path(path).read_text().splitlines(), 1) if line.strip() == text)


@pytest.mark.parametrize("path", [SAM, CFN, PLAN], ids=["sam", "cloudformation", "terraform"])
def test_templates_and_plans_are_checked_like_account_files(path):
    code, out, _ = _run("check", str(path), "--format", "json", "--fail-on", "high")
    report = json.loads(out)
    assert code == EXIT_FINDINGS
    assert report["summary"]["roles"] >= 2
    assert report["errors"] == []


def test_sarif_results_carry_the_file_the_logical_id_and_the_line():
    code, out, _ = _run("check", str(CFN), "--format", "sarif")
    run = json.loads(out)["runs"][0]
    assert code == EXIT_OK
    root = [r for r in run["results"] if r["ruleId"] == "admin-access"]
    (location,) = root[0]["locations"]
    assert location["logicalLocations"][0]["name"] == "RootRole"
    assert location["physicalLocation"]["artifactLocation"]["uri"] == str(CFN.as_uri())
    assert location["physicalLocation"]["region"]["startLine"] == _line(str(CFN), "RootRole:")


def test_a_relative_template_path_stays_relative_in_sarif(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("infra").mkdir()
    _write(tmp_path / "infra", "Resources:\n" + ROLE.format(name="Wide", action='"*"', resource='"*"'), "app.yaml")
    _, out, _ = _run("check", "infra/app.yaml", "--format", "sarif")
    (result, *_) = json.loads(out)["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "infra/app.yaml"},
        "region": {"startLine": 2},
    }


# -- bad input: each has one clear outcome and the documented exit status --------------------------------
def test_a_template_that_does_not_parse_is_one_line_and_exit_2(tmp_path):
    path = _write(tmp_path, "Resources:\n  Role:\n    Type: [unclosed\n")
    code, out, err = _run("check", path)
    assert code == EXIT_BAD_INPUT
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"rolewatch: {path}: not a template: line ")


def test_yaml_that_is_not_a_template_is_one_line_and_exit_2(tmp_path):
    path = _write(tmp_path, "profiles:\n  - name: x\n", "baseline.yaml")
    code, _, err = _run("check", path)
    assert code == EXIT_BAD_INPUT
    assert err == f"rolewatch: {path}: no Resources section: not a CloudFormation template\n"


def test_an_unknown_intrinsic_is_listed_with_its_line_and_the_rest_is_audited(tmp_path):
    text = (
        "Resources:\n"
        + ROLE.format(name="Odd", action="s3:GetObject", resource='!Frobnicate "x"')
        + ROLE.format(name="Wide", action='"*"', resource='"*"')
    )
    path = _write(tmp_path, text.replace("!Frobnicate", "{Fn::Frobnicate: x}  #").replace('"x"', ""))
    code, out, _ = _run("check", path, "--format", "json")
    report = json.loads(out)
    assert code == EXIT_BAD_INPUT
    (error,) = report["errors"]
    assert "unknown intrinsic function Fn::Frobnicate" in error["message"]
    line = next(i for i, text in enumerate(Path(path).read_text().splitlines(), 1) if "Fn::Frobnicate" in text)
    assert error["location"].startswith(f"{path}:{line} ")  # the very line of the unknown function
    assert "Resources.Odd.Properties.Policies[0].PolicyDocument" in error["location"]
    assert {f["resource"].rsplit("/", 1)[-1] for f in report["findings"] if f["rule"] == "admin-access"} == {"Wide"}


def test_a_transform_other_than_sam_is_listed_at_its_line_and_the_rest_is_audited(tmp_path):
    text = "Transform: [AWS::Serverless-2016-10-31, MyCompanyMacro]\nResources:\n" + ROLE.format(
        name="Wide", action='"*"', resource='"*"'
    )
    path = _write(tmp_path, text)
    code, out, _ = _run("check", path, "--format", "json")
    report = json.loads(out)
    assert code == EXIT_BAD_INPUT
    (error,) = report["errors"]
    assert error["location"] == f"{path}:1 Transform"
    assert "MyCompanyMacro is a macro rolewatch cannot run" in error["message"]
    assert report["summary"]["roles"] == 1 and report["summary"]["by_severity"]["critical"] >= 1


def test_a_plan_with_no_iam_resources_says_so_and_exits_0():
    code, out, _ = _run("check", str(FIXTURES / "plan-no-iam.json"), "--fail-on", "low")
    assert code == EXIT_OK
    assert "no IAM resources in the plan" in out
    assert "0 roles audited" in out


def test_a_5_mb_template_is_one_line_and_exit_2(tmp_path):
    queue = "  Queue{0}:\n    Type: AWS::SQS::Queue\n    Properties: {{QueueName: q{0:07d}}}\n"
    filler = "".join(queue.format(i) for i in range(70_000))
    path = _write(tmp_path, "Resources:\n" + filler)
    assert Path(path).stat().st_size > 5_000_000
    code, out, err = _run("check", path)
    assert code == EXIT_BAD_INPUT
    assert out == ""
    assert err.startswith(f"rolewatch: {path}: template is 5.") and "CloudFormation accepts at most 1 MB" in err
    assert err.count("\n") == 1


def test_a_plan_that_is_not_json_is_one_line_and_exit_2(tmp_path):
    path = _write(tmp_path, '{"format_version": "1.2", "terraform_version": ', "plan.json")
    code, _, err = _run("check", path)
    assert code == EXIT_BAD_INPUT
    assert err.startswith(f"rolewatch: {path}: not valid JSON")


def test_a_sam_error_is_listed_on_its_resource_and_plain_roles_are_still_audited(tmp_path):
    text = (
        "Transform: AWS::Serverless-2016-10-31\nResources:\n"
        "  Broken:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n"
        "      Handler: app.handler\n      CodeUri: src/\n      Policies: 42\n"
        + ROLE.format(name="Wide", action='"*"', resource='"*"')
    )
    path = _write(tmp_path, text)
    code, out, _ = _run("check", path, "--format", "json")
    report = json.loads(out)
    assert code == EXIT_BAD_INPUT
    assert report["errors"] and all("SAM transform" in e["message"] for e in report["errors"])
    assert report["errors"][0]["location"].startswith(f"{path}:{_line(path, 'Broken:')} ")
    assert report["summary"]["roles"] == 1


def test_the_command_on_a_sam_template_prints_nothing_on_stderr():
    """The SAM translator warns about unpublished metrics at exit unless they are published."""
    done = subprocess.run(
        [sys.executable, "-m", "rolewatch", "check", str(SAM), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")},
    )
    assert done.returncode == EXIT_OK
    assert done.stderr == ""
    assert json.loads(done.stdout)["summary"]["roles"] == 3


def test_a_json_plan_on_standard_input_is_read_once(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(PLAN.read_text()))
    code, out, err = _run("check", "-", "--format", "json")
    assert (code, err) == (EXIT_OK, "")
    assert json.loads(out)["summary"]["roles"] == 2
