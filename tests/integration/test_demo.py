"""`make demo` end to end: the demo runs as `make demo` runs it (a fresh interpreter) and its record is checked.

The demo starts moto in its own process, makes the scenario's changes through the API, replays their
CloudTrail events through the real handler and reads what the SNS topic delivered to an SQS subscriber;
`--record` writes every step's outcome and every received message as JSON, which these tests read.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from rolewatch.demo import scenario
from rolewatch.demo.account import SeedError, load_sample
from rolewatch.demo.cloudtrail import TemplateError, load_template
from rolewatch.demo.embedded_aws import EmbeddedAwsError, verify_managed_policies
from rolewatch.demo.invoke import Invocation
from rolewatch.demo.main import NOTHING, PUBLISHED, SKIPPED, DemoRecord, StepRecord, classify
from rolewatch.demo.resources import DemoResources, function_environment
from rolewatch.demo.subscriber import ReceivedMessage, parse_envelope
from rolewatch.demo.weekly import WeeklyAuditRun

REPO = Path(__file__).resolve().parents[2]
ACTOR_ARN = "arn:aws:iam::123456789012:user/ci-deployer"
DEMO_TIMEOUT = 300  # seconds; the demo takes about 10 s, this only stops a hung run


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    work = tmp_path_factory.mktemp("demo")
    record = work / "record.json"
    completed = subprocess.run(
        [sys.executable, "-m", "rolewatch.demo", "--record", str(record), "--out", str(work / "out")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT,
        check=False,
    )
    assert record.is_file(), f"the demo wrote no record (exit {completed.returncode}):\n{completed.stderr[-3000:]}"
    return completed, json.loads(record.read_text(encoding="utf-8"))


def _step(record: dict[str, Any], key: str) -> dict[str, Any]:
    return next(s for s in record["steps"] if s["key"] == key)


def _only_message(step: dict[str, Any]) -> dict[str, Any]:
    assert len(step["messages"]) == 1, f"{step['key']}: expected one SNS message, got {len(step['messages'])}"
    return step["messages"][0]


def _array(value: str) -> list[str]:
    """A String.Array message attribute as SNS delivers it (JSON text), or a String as a one-item list."""
    return json.loads(value) if value.startswith("[") else [value]


@pytest.mark.slow
def test_demo_exits_zero_with_every_event_as_expected(demo_run: tuple[subprocess.CompletedProcess[str], dict]) -> None:
    completed, record = demo_run
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert record["ok"] is True
    assert [s["key"] for s in record["steps"]] == [
        "oidc-role",
        "admin-attach",
        "instance-swap",
        "denied-call",
        "benign-tag",
        "duplicate-delivery",
    ]
    assert all(s["as_expected"] for s in record["steps"]), [(s["key"], s["outcome"]) for s in record["steps"]]


@pytest.mark.slow
def test_admin_attach_publishes_an_admin_access_report_naming_the_actor(demo_run: tuple) -> None:
    _, record = demo_run
    message = _only_message(_step(record, "admin-attach"))
    assert message["attributes"]["severity"] in {"critical", "high"}
    assert "admin-access" in _array(message["attributes"]["category"])
    assert "admin-access" in _array(message["attributes"]["rule"])
    assert message["attributes"]["account"] == "123456789012"
    assert ACTOR_ARN in message["message"]
    assert "Company1-Logs-Role" in message["subject"]
    assert len(message["subject"]) < 100


@pytest.mark.slow
def test_oidc_role_with_wildcard_sub_publishes_a_trust_policy_finding(demo_run: tuple) -> None:
    _, record = demo_run
    message = _only_message(_step(record, "oidc-role"))
    assert "trust-policy" in _array(message["attributes"]["category"])
    assert "github-deploy-role" in message["message"]
    assert "repo:example-org/*" in message["message"]


@pytest.mark.slow
def test_instance_swap_reports_the_permission_delta_old_role_vs_new(demo_run: tuple) -> None:
    _, record = demo_run
    message = _only_message(_step(record, "instance-swap"))
    text = message["message"]
    assert "What changed" in text
    assert re.search(r"gained [\d,]+ action", text), text[:2000]
    assert "S3AccessRole" in text  # the role the instance had before
    assert "ops-admin" in text  # the role it has now
    assert message["attributes"]["severity"] in {"critical", "high"}


@pytest.mark.slow
def test_benign_change_denied_call_and_duplicate_publish_nothing(demo_run: tuple) -> None:
    _, record = demo_run
    benign, denied, duplicate = (_step(record, k) for k in ("benign-tag", "denied-call", "duplicate-delivery"))
    assert (benign["outcome"], benign["messages"]) == (NOTHING, [])
    assert (denied["outcome"], denied["messages"]) == (SKIPPED, [])
    assert "AccessDenied" in denied["detail"]
    assert (duplicate["outcome"], duplicate["messages"]) == (NOTHING, [])
    assert duplicate["event_id"] == _step(record, "admin-attach")["event_id"]


@pytest.mark.slow
def test_output_is_for_a_person_no_log_lines(demo_run: tuple) -> None:
    completed, _ = demo_run
    out = completed.stdout
    for heading in ("1. The stack", "2. The account", "3. Changes", "4. One line per event", "5. The weekly audit"):
        assert heading in out
    # Powertools logs and EMF metrics are JSON lines; werkzeug logs one line per request.
    assert not [line for line in out.splitlines() if line.lstrip().startswith("{")]
    assert "POST / HTTP/1.1" not in out + completed.stderr
    assert completed.stderr.strip() == ""


@pytest.mark.slow
def test_weekly_audit_writes_the_html_report(demo_run: tuple) -> None:
    _, record = demo_run
    weekly = record["weekly"]
    assert weekly["status"] == "done", weekly
    assert len(weekly["messages"]) == 1  # the weekly summary, as the subscriber receives it
    assert weekly["messages"][0]["attributes"]["account"] == "123456789012"
    html = Path(weekly["html_report"])
    assert html.is_file()
    assert "<html" in html.read_text(encoding="utf-8").lower()
    report = json.loads(Path(weekly["json_report"]).read_text(encoding="utf-8"))
    assert report["schema"] == "rolewatch.report/v1"
    assert {f["rule"] for f in report["findings"]} >= {"admin-access", "trust-oidc-unscoped"}  # the demo's changes


# -- the parts, and the failure modes the demo handles ---------------------------------------------


def test_missing_seed_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="not found"):
        load_sample(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text('{"Roles": []}', encoding="utf-8")
    with pytest.raises(SeedError, match="RoleDetailList"):
        load_sample(tmp_path / "bad.json")


def test_missing_event_template_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"absent\.json: not found"):
        load_template("absent.json", tmp_path)
    (tmp_path / "bare.json").write_text('{"eventName": "CreateRole"}', encoding="utf-8")
    with pytest.raises(TemplateError, match="no 'detail' object"):
        load_template("bare.json", tmp_path)


def test_embedded_iam_without_managed_policies_is_refused() -> None:
    with mock_aws(), pytest.raises(EmbeddedAwsError, match="MOTO_IAM_LOAD_MANAGED_POLICIES"):
        verify_managed_policies()


def _invocation(response: Any = None, error: BaseException | None = None) -> Invocation:
    return Invocation(response=response, error=error, seconds=0.0, output="")


def test_classify_outcomes() -> None:
    message = ReceivedMessage(subject="s", message="m")
    assert classify(_invocation({"status": "published"}), [message]) == (PUBLISHED, "1 message(s)")
    assert classify(_invocation({"status": "skipped", "reason": "failed call"}), []) == (SKIPPED, "failed call")
    assert classify(_invocation({"status": "published", "duplicate": True}), [])[0] == NOTHING
    assert classify(_invocation({"status": "below-threshold", "reason": "nothing at or above medium"}), []) == (
        NOTHING,
        "nothing at or above medium",
    )
    assert classify(_invocation(error=RuntimeError("SNS down")), [])[0] == "failed"


def test_a_step_with_an_unexpected_outcome_fails_the_demo() -> None:
    step = StepRecord("k", "t", "TagRole", "id", scenario.PUBLISHES_NOTHING, PUBLISHED, "", 0.0)
    assert not step.as_expected
    assert not DemoRecord(steps=[step]).ok


def test_the_demo_fails_unless_the_weekly_audit_delivers_its_summary_and_reports() -> None:
    message = {"subject": "s", "message": "m", "attributes": {}}
    delivered = WeeklyAuditRun("done", messages=[message], html_report="a.html", json_report="a.json")
    assert DemoRecord(weekly=delivered.to_dict()).ok
    for weekly in (
        WeeklyAuditRun("failed", detail="RuntimeError: boom"),
        WeeklyAuditRun("done", html_report="a.html", json_report="a.json"),  # no summary reached the subscriber
        WeeklyAuditRun("done", messages=[message], json_report="a.json"),  # no HTML report in the bucket
    ):
        assert not weekly.as_expected
        assert not DemoRecord(weekly=weekly.to_dict()).ok
    assert not DemoRecord().ok  # a demo that never reached the weekly audit


def test_sns_envelope_is_read_as_a_subscriber_sees_it() -> None:
    body = json.dumps(
        {
            "Type": "Notification",
            "Subject": "[rolewatch] HIGH x",
            "Message": "text",
            "MessageAttributes": {"category": {"Type": "String.Array", "Value": '["trust-policy"]'}},
        }
    )
    received = parse_envelope(body)
    assert (received.subject, received.message) == ("[rolewatch] HIGH x", "text")
    assert received.attributes == {"category": '["trust-policy"]'}
    assert received.attribute_types == {"category": "String.Array"}


def _resources() -> DemoResources:
    return DemoResources(
        key_id="k-1",
        key_arn="arn:aws:kms:us-east-1:123456789012:key/k-1",
        topic_arn="arn:aws:sns:us-east-1:123456789012:topic",
        bucket="bucket",
        table="table",
        queue_url="http://q",
        queue_arn="arn:aws:sqs:us-east-1:123456789012:q",
        subscription_arn="arn:aws:sns:us-east-1:123456789012:topic:s",
    )


def test_function_environment_resolves_the_templates_references() -> None:
    template = {
        "Parameters": {"MinimumSeverity": {"Type": "String", "Default": "high"}},
        "Globals": {"Function": {"Environment": {"Variables": {"REPORT_TOPIC_ARN": {"Ref": "ReportTopic"}}}}},
        "Resources": {
            "EventAuditFunction": {
                "Properties": {
                    "Environment": {
                        "Variables": {
                            "MIN_SEVERITY": {"Ref": "MinimumSeverity"},
                            "REPORT_KMS_KEY_ID": {"Fn::GetAtt": ["ReportKey", "Arn"]},
                            "IDEMPOTENCY_TABLE": {"Ref": "IdempotencyTable"},
                            "BASELINE_PATH": {"Fn::If": ["HasBaseline", "x", ""]},
                        }
                    }
                }
            }
        },
    }
    env = function_environment(_resources(), template)
    assert env.variables["REPORT_TOPIC_ARN"] == "arn:aws:sns:us-east-1:123456789012:topic"
    assert env.variables["MIN_SEVERITY"] == "high"
    assert env.variables["REPORT_KMS_KEY_ID"] == "arn:aws:kms:us-east-1:123456789012:key/k-1"
    assert env.variables["IDEMPOTENCY_TABLE"] == "table"
    assert env.variables["BASELINE_PATH"] == ""  # unresolvable here: the contract's default, and a note
    assert any(note.startswith("BASELINE_PATH") for note in env.notes)
    assert env.variables["POWERTOOLS_LOG_LEVEL"] == "WARNING"


def test_function_environment_without_template_uses_the_contract() -> None:
    env = function_environment(_resources(), None)
    assert env.variables["MIN_SEVERITY"] == "medium"
    assert env.variables["REPORT_BUCKET"] == "bucket"
    assert env.from_template == ()
    assert "template.yaml not found" in env.notes[0]
