"""The `rolewatch check` command: formats, exit statuses, and bad input that loses nothing."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from rolewatch.cli import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "sample-account.json"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def account(*roles: dict, policies: list | None = None) -> dict:
    return {"RoleDetailList": list(roles), "Policies": policies or [], "UserDetailList": [], "GroupDetailList": []}


def role_entry(name: str, inline: object, trust: object | None = None) -> dict:
    return {
        "RoleName": name,
        "Arn": f"arn:aws:iam::111122223333:role/{name}",
        "Path": "/",
        "AssumeRolePolicyDocument": trust
        or {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        },
        "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": inline}],
        "AttachedManagedPolicies": [],
    }


ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def write(tmp_path: Path, name: str, value: object) -> str:
    path = tmp_path / name
    path.write_text(value if isinstance(value, str) else json.dumps(value))
    return str(path)


def test_json_report_follows_the_design_contract(tmp_path):
    path = write(tmp_path, "a.json", account(role_entry("admin", ADMIN)))
    code, out, _ = run("check", path, "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["schema"] == "rolewatch.report/v1"
    assert report["summary"]["roles"] == 1
    [finding] = [f for f in report["findings"] if f["rule"] == "admin-access"]
    assert finding["category"] == "admin-access"
    assert finding["severity"] == "critical"
    assert finding["resource"] == "arn:aws:iam::111122223333:role/admin"
    assert set(finding["remediation"]) >= {"summary", "cli"}
    assert report["errors"] == []


def test_url_encoded_documents_are_read_like_objects(tmp_path):
    plain = write(tmp_path, "plain.json", account(role_entry("admin", ADMIN)))
    encoded = write(tmp_path, "enc.json", account(role_entry("admin", quote(json.dumps(ADMIN)))))
    a = json.loads(run("check", plain, "--format", "json")[1])["findings"]
    b = json.loads(run("check", encoded, "--format", "json")[1])["findings"]
    assert [(f["rule"], f["severity"]) for f in a] == [(f["rule"], f["severity"]) for f in b]


@pytest.mark.parametrize(("fail_on", "expected"), [("critical", 1), ("info", 1), (None, 0)])
def test_fail_on(tmp_path, fail_on, expected):
    path = write(tmp_path, "a.json", account(role_entry("admin", ADMIN)))
    argv = ["check", path, "--format", "json"] + (["--fail-on", fail_on] if fail_on else [])
    assert run(*argv)[0] == expected


def test_fail_on_below_threshold_is_zero(tmp_path):
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:111122223333:q"}
        ],
    }
    path = write(tmp_path, "a.json", account(role_entry("quiet", doc)))
    assert run("check", path, "--fail-on", "high")[0] == 0


def test_malformed_document_goes_to_errors_and_the_rest_is_audited(tmp_path):
    broken = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": 42, "Resource": "*"}]}
    path = write(tmp_path, "a.json", account(role_entry("broken", broken), role_entry("admin", ADMIN)))
    code, out, _ = run("check", path, "--format", "json", "--fail-on", "critical")
    assert code == 2
    report = json.loads(out)
    [error] = report["errors"]
    assert error["resource"].endswith("role/broken")
    assert error["location"] == "RoleDetailList[0].RolePolicyList[0].PolicyDocument.Statement[0].Action"
    assert "string" in error["message"]
    assert any(f["rule"] == "admin-access" for f in report["findings"])


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not valid JSON"), ('{"hello": 1}', "neither the output"), ("[1, 2]", "neither the output")],
    ids=["not-json", "unknown-object", "list"],
)
def test_unreadable_file_is_one_line_and_exit_2(tmp_path, content, message):
    path = write(tmp_path, "bad.json", content)
    code, out, err = run("check", path)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert path in err and message in err


def test_missing_file(tmp_path):
    code, _, err = run("check", str(tmp_path / "nope.json"))
    assert code == 2
    assert "no such file" in err


def test_bad_baseline_is_exit_2(tmp_path):
    path = write(tmp_path, "a.json", account(role_entry("admin", ADMIN)))
    baseline = write(tmp_path, "b.yaml", "profiles: 12\n")
    code, _, err = run("check", path, "--baseline", baseline)
    assert code == 2
    assert "b.yaml" in err


def test_single_policy_document(tmp_path):
    path = write(tmp_path, "policy.json", ADMIN)
    code, out, _ = run("check", path, "--format", "json", "--fail-on", "high")
    assert code == 1
    report = json.loads(out)
    assert report["findings"][0]["resource"] == f"policy:{path}"


@pytest.mark.parametrize("fmt", ["text", "markdown", "sarif", "json", "ocsf"])
def test_every_format_on_the_sample_account(fmt):
    code, out, _ = run("check", str(SAMPLE), "--format", fmt)
    assert code == 0
    assert "github-deploy-role" in out
    if fmt in ("json", "sarif", "ocsf"):
        json.loads(out)


def test_text_report_groups_roles_worst_first():
    _, out, _ = run("check", str(SAMPLE))
    headers = [line for line in out.splitlines() if line.startswith("== ")]
    assert headers, out[:500]
    assert "1 service-linked" in out.splitlines()[0] + out.splitlines()[1]
    first = headers[0]
    assert "critical" in first


def test_module_entry_point_runs(tmp_path):
    path = write(tmp_path, "a.json", account(role_entry("admin", ADMIN)))
    proc = subprocess.run(
        [sys.executable, "-m", "rolewatch", "check", path, "--format", "json", "--fail-on", "critical"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["summary"]["findings"] >= 1


@pytest.mark.parametrize("content", ["{not json", None], ids=["bad-input", "good-input"])
def test_the_garbage_collector_is_left_as_it_was(tmp_path, content):
    """check pauses the collector while parsing and freezes what lives for the whole run: neither
    outlives the command, whether it succeeds or fails (the tests themselves run it in-process)."""
    import gc

    path = write(tmp_path, "in.json", content) if content else str(SAMPLE)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    code, _, _ = run("check", path)
    assert code == 2 if content else code in (0, 1)  # 1: findings at or above --fail-on
    assert gc.isenabled() and gc.get_freeze_count() == 0
