"""`python -m rolewatch.demo --organization` end to end, and the parts it is made of.

The demo runs as a person runs it (a fresh interpreter, its own moto server): three member accounts
seeded through their own credentials with the member stack of templates/member.yaml, a member's change
audited by the real event handler through STS AssumeRole, one member's reader role deleted, and the
weekly run through the real state machine definition in moto's interpreter. `--record` writes what it
saw; the tests read that record, the organization report it wrote and what it printed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from rolewatch.demo import moto_fidelity
from rolewatch.demo.invoke import LambdaContext, LogSink
from rolewatch.demo.org_run import DEFAULT_INPUT, LambdaDispatch, schedule_input
from rolewatch.demo.organization import OrgDemoRecord
from rolewatch.demo.resources import load_template

REPO = Path(__file__).resolve().parents[2]
DEMO_TIMEOUT = 600  # seconds; the demo takes about 20 s, this only stops a hung run
READER = "rolewatch-reader"


@pytest.fixture(scope="module")
def org_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    work = tmp_path_factory.mktemp("org-demo")
    record = work / "record.json"
    completed = subprocess.run(
        [sys.executable, "-m", "rolewatch.demo", "--organization", "--record", str(record), "--out", str(work / "out")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT,
        check=False,
    )
    assert record.is_file(), f"the demo wrote no record (exit {completed.returncode}):\n{completed.stderr[-3000:]}"
    return completed, json.loads(record.read_text(encoding="utf-8"))


def _members(record: dict[str, Any]) -> dict[str, str]:
    return dict(record["organization"]["members"])


@pytest.mark.slow
def test_the_organization_demo_exits_zero_with_everything_as_expected(org_demo: tuple) -> None:
    completed, record = org_demo
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert record["ok"] is True and record["event_as_expected"] and record["run_as_expected"]
    assert completed.stderr.strip() == ""  # no server log, no warning, no traceback


@pytest.mark.slow
def test_a_member_accounts_change_is_reported_centrally_for_that_account(org_demo: tuple) -> None:
    _, record = org_demo
    payments = _members(record)["payments-prod"]
    event = record["event"]
    assert event["account"] == payments and event["error"] == ""
    [message] = event["messages"]
    assert message["attributes"]["account"] == payments
    assert message["attributes"]["severity"] == "critical"
    assert "admin-access" in json.loads(message["attributes"]["category"])
    assert f"[rolewatch {payments}]" in message["subject"] and "Company1-Logs-Role" in message["subject"]
    # Read in the member (its role ARN), by the caller who made the change there.
    assert f"arn:aws:iam::{payments}:role/Company1-Logs-Role" in message["message"]
    assert f"arn:aws:iam::{payments}:user/ci-deployer" in message["message"]


@pytest.mark.slow
def test_the_weekly_run_reports_every_account_and_the_one_it_cannot_audit(org_demo: tuple) -> None:
    completed, record = org_demo
    members = _members(record)
    central = record["organization"]["central_account"]
    sandbox = members["sandbox-team"]
    run = record["run"]
    assert run["status"] == "SUCCEEDED"
    assert "MapRunStarted" in run["history"] and "MapRunSucceeded" in run["history"]
    steps = [s["step"] for s in run["steps"]]
    assert steps[0] == "list-accounts" and steps[-1] == "organization-report" and steps.count("audit-account") == 4
    report = json.loads(Path(run["json_report"]).read_text(encoding="utf-8"))
    ranked = [a["account_id"] for a in report["accounts"]]
    assert sorted(ranked) == sorted([central, members["payments-prod"], members["data-platform"]])
    # Worst first: payments-prod has the administrator role the event path reported.
    assert ranked[0] == members["payments-prod"]
    assert report["accounts"][0]["by_category"]["admin-access"] >= 1
    [missing] = report["unauditable"]
    assert (missing["account_id"], missing["name"], missing["kind"]) == (sandbox, "sandbox-team", "reader-role-refused")
    assert f"arn:aws:iam::{sandbox}:role/{READER} is missing or does not trust" in missing["reason"]
    assert "AccessDenied" in missing["reason"]
    assert f"cannot audit account {sandbox}: reader role arn:aws:iam::{sandbox}:role/{READER}" in completed.stdout
    html = Path(run["html_report"]).read_text(encoding="utf-8")
    assert "Could not be audited:" in html and "cannot audit</span> (reader-role-refused)" in html and sandbox in html
    [summary] = run["messages"]
    assert summary["subject"].startswith("[rolewatch] Organization audit, 3 accounts")
    assert summary["subject"].endswith("(1 not audited)")
    assert str(run["json_report"]) in completed.stdout and str(run["html_report"]) in completed.stdout


@pytest.mark.slow
def test_the_organization_demo_prints_for_a_terminal(org_demo: tuple) -> None:
    completed, _ = org_demo
    out = completed.stdout
    for heading in ("1. The organization", "2. A change in member account", "3. A member's administrator", "4. The"):
        assert heading in out
    assert all(c.isprintable() for line in out.splitlines() for c in line)  # no ESC, no control character
    assert not [line for line in out.splitlines() if line.lstrip().startswith("{")]  # no log or metric lines


# -- the parts -------------------------------------------------------------------------------------


def test_the_embedded_sts_refuses_a_role_that_does_not_exist_as_aws_does() -> None:
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_role(RoleName="present", AssumeRolePolicyDocument="{}")
        sts = boto3.client("sts", region_name="us-east-1")
        absent = "arn:aws:iam::123456789012:role/absent"
        with moto_fidelity.assume_role_needs_the_role("arn:aws:sts::123456789012:user/me"):
            sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/present", RoleSessionName="demo")
            with pytest.raises(ClientError) as refused:
                sts.assume_role(RoleArn=absent, RoleSessionName="demo")
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
        assert "arn:aws:sts::123456789012:user/me is not authorized to perform: sts:AssumeRole" in str(refused.value)
        sts.assume_role(RoleArn=absent, RoleSessionName="demo")  # moto's own behaviour once the demo is done


def test_the_schedules_input_comes_from_the_template() -> None:
    run_input, source = schedule_input(load_template(REPO / "template.yaml"))
    assert source.startswith("template.yaml")
    assert run_input["max_concurrency"] == 10 and run_input["publish_account_summaries"] is False
    assert set(run_input["selection"]) == {"include_ous", "include_accounts", "exclude_ous", "exclude_accounts"}
    assert schedule_input(None) == (DEFAULT_INPUT, schedule_input(None)[1])
    assert "defaults" in schedule_input({"Resources": {}})[1]


def test_the_dispatch_answers_like_the_lambda_runtime() -> None:
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event["step"] == "boom":
            raise RuntimeError("no bucket")
        return {"seen": event["account_id"]}

    dispatch = LambdaDispatch(handler, LambdaContext("f", "us-east-1", "123456789012"), LogSink())
    headers: dict[str, str] = {}
    ok = dispatch.invoke("f", None, json.dumps({"step": "audit-account", "account_id": "1"}), {}, headers)
    assert json.loads(ok) == {"seen": "1"} and headers == {}
    failed = dispatch.invoke("f", None, json.dumps({"step": "boom"}), {}, headers)
    assert headers["x-amz-function-error"] == "Unhandled"
    assert json.loads(failed) == {"errorType": "RuntimeError", "errorMessage": "no bucket"}
    assert [(i.step, i.error) for i in dispatch.invocations] == [
        ("audit-account", ""),
        ("boom", "RuntimeError: no bucket"),
    ]


def _record(**changes: Any) -> OrgDemoRecord:
    message = {"attributes": {"account": "111111111111"}}
    report = {
        "accounts": [{"account_id": "111111111111"}, {"account_id": "123456789012"}],
        "unauditable": [{"account_id": "222222222222", "kind": "reader-role-refused"}],
    }
    run = {
        "status": "SUCCEEDED",
        "report": report,
        "expected_audited": ["111111111111", "123456789012"],
        "expected_unauditable": "222222222222",
        "messages": [{"subject": "s"}],
        "json_report": "r.json",
        "html_report": "r.html",
    }
    event = {"account": "111111111111", "error": "", "messages": [message]}
    for key, value in changes.items():
        part, _, field = key.partition("__")
        {"run": run, "event": event, "report": report}[part][field] = value
    return OrgDemoRecord(event=event, run=run)


def test_the_demo_fails_unless_each_outcome_is_the_expected_one() -> None:
    assert _record().ok
    for broken in (
        _record(event__messages=[]),  # the member's change reached nobody
        _record(event__messages=[{"attributes": {"account": "123456789012"}}]),  # reported for the wrong account
        _record(event__error="RuntimeError: boom"),
        _record(run__status="FAILED"),
        _record(report__unauditable=[{"account_id": "222222222222", "kind": "step-failed"}]),  # the wrong reason
        _record(report__unauditable=[]),  # the deleted reader role went unnoticed
        _record(report__accounts=[{"account_id": "111111111111"}]),  # an account dropped
        _record(run__messages=[]),  # no summary
        _record(run__html_report=None),
    ):
        assert not broken.ok
