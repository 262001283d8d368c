"""The audit-result event on EventBridge, read back through a rule that targets an SQS queue (moto).

PutEvents' partial failures (FailedEntryCount) and call errors are served by botocore's Stubber: moto
accepts every well-formed entry.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber

from rolewatch.integrations.event_bus import MAX_ATTEMPTS, AuditEventPublisher
from rolewatch.model import AuditResult, Finding, Remediation, Severity
from rolewatch.report.audit_event import DETAIL_TYPE, ENTRY_BYTES_LIMIT, SOURCE, audit_detail, entry_size

REGION = "us-east-1"
ACCOUNT = "123456789012"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
SAMPLE_EVENT = ROOT / "events" / "outputs" / "audit-result.json"


def readme_rule() -> dict:
    """The sample rule of README.md ("Security Hub and EventBridge"): critical and high results only."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- sample-rule -->", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    return json.loads(block)


SAMPLE_PATTERN = readme_rule()


def finding(role: str = "app", severity: Severity = Severity.CRITICAL, detail: str = "d") -> Finding:
    return Finding(
        rule="admin-access",
        category="admin-access",
        severity=severity,
        resource=f"arn:aws:iam::{ACCOUNT}:role/{role}",
        title="Role has administrator access",
        detail=detail,
        remediation=Remediation("Detach it."),
    )


@pytest.fixture
def bus(aws):
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="reports-bucket")
    queue_url = sqs.create_queue(QueueName="audit-results")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="rolewatch-urgent", EventPattern=json.dumps(SAMPLE_PATTERN))
    events.put_targets(Rule="rolewatch-urgent", Targets=[{"Id": "queue", "Arn": queue_arn}])
    return events, sqs, s3, queue_url


def received(sqs, queue_url) -> list[dict]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def put(events, s3, result: AuditResult, **kw):
    detail = audit_detail(
        result, kind="event", account=ACCOUNT, generated_at=NOW, trigger={"event_name": "AttachRolePolicy"}
    )
    publisher = AuditEventPublisher(events, s3=s3, bucket="reports-bucket", sleep=lambda _: None)
    return publisher.put(detail, result, report={"schema": "rolewatch.report/v1"}, report_key="reports/x.json", **kw)


def test_the_sample_rule_routes_a_critical_audit_result(bus):
    events, sqs, s3, queue_url = bus
    result = AuditResult(findings=(finding(),), roles_audited=1)
    outcome = put(events, s3, result)
    assert (outcome.status, outcome.sent) == ("delivered", 1)
    [event] = received(sqs, queue_url)
    assert (event["source"], event["detail-type"]) == (SOURCE, DETAIL_TYPE)
    assert event["resources"] == [f"arn:aws:iam::{ACCOUNT}:role/app"]
    detail = event["detail"]
    assert (detail["schema"], detail["audit"], detail["account"]) == ("rolewatch.audit-event/v1", "event", ACCOUNT)
    assert detail["highest_severity"] == "critical" and detail["findings_included"] is True
    assert detail["summary"]["by_severity"]["critical"] == 1
    assert [f["rule"] for f in detail["findings"]] == ["admin-access"]
    assert detail["trigger"] == {"event_name": "AttachRolePolicy"}


def test_the_sample_rule_lets_a_low_result_pass_by(bus):
    events, sqs, s3, queue_url = bus
    outcome = put(events, s3, AuditResult(findings=(finding(severity=Severity.LOW),), roles_audited=1))
    assert outcome.status == "delivered"
    assert received(sqs, queue_url) == []


def test_a_large_result_points_to_the_report_in_s3(bus):
    events, sqs, s3, queue_url = bus
    # Multi-byte text: 90,000 characters, 270,000 bytes. Counting characters would not move it to S3.
    findings = tuple(finding(f"role-{i}", detail="漢" * 9_000) for i in range(10))
    result = AuditResult(findings=findings, roles_audited=10)
    full = audit_detail(result, kind="event", account=ACCOUNT, generated_at=NOW)
    assert (
        len(json.dumps(full, ensure_ascii=False))
        < ENTRY_BYTES_LIMIT
        < len(json.dumps(full, ensure_ascii=False).encode())
    )
    outcome = put(events, s3, result)
    assert outcome.status == "delivered"
    [event] = received(sqs, queue_url)
    detail = event["detail"]
    assert detail["findings_included"] is False and detail["findings"] == []
    assert detail["report"] == "s3://reports-bucket/reports/x.json"
    assert detail["summary"]["findings"] == 10
    stored = json.loads(s3.get_object(Bucket="reports-bucket", Key="reports/x.json")["Body"].read())
    assert stored == {"schema": "rolewatch.report/v1"}


def test_a_large_result_without_a_bucket_still_sends_the_summary(bus):
    events, sqs, _, queue_url = bus
    result = AuditResult(findings=tuple(finding(f"r{i}", detail="x" * 30_000) for i in range(10)), roles_audited=10)
    detail = audit_detail(result, kind="weekly", account=ACCOUNT, generated_at=NOW)
    outcome = AuditEventPublisher(events, sleep=lambda _: None).put(detail, result)
    assert outcome.status == "partial" and "no report bucket" in outcome.reason
    [event] = received(sqs, queue_url)
    assert event["detail"]["findings_included"] is False and event["detail"]["report"] is None


def test_entry_size_counts_bytes_of_every_counted_field():
    entry = {"Source": "rolewatch", "DetailType": "x", "Detail": '{"a":"é"}', "Resources": ["arn:1"], "Time": NOW}
    assert entry_size(entry) == 14 + 9 + 1 + len('{"a":"é"}'.encode()) + 5


# -- faults --------------------------------------------------------------------------------------------


def stubbed(sleeps: list[float]):
    events = boto3.client("events", region_name=REGION)
    return events, Stubber(events), AuditEventPublisher(events, sleep=sleeps.append)


def small_detail():
    result = AuditResult(findings=(finding(),), roles_audited=1)
    return audit_detail(result, kind="on-demand", account=ACCOUNT, generated_at=NOW), result


def test_a_failed_entry_is_retried_with_backoff_then_reported():
    sleeps: list[float] = []
    _, stub, publisher = stubbed(sleeps)
    failed = {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try later"}]}
    for _ in range(MAX_ATTEMPTS):
        stub.add_response("put_events", failed, {"Entries": ANY})
    detail, result = small_detail()
    with stub:
        outcome = publisher.put(detail, result)
        stub.assert_no_pending_responses()
    assert sleeps == [0.5, 1.0]
    assert (outcome.status, outcome.failed) == ("failed", 1)
    assert "InternalFailure try later" in outcome.note()


def test_a_retry_that_is_accepted_delivers():
    _, stub, publisher = stubbed([])
    stub.add_response("put_events", {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException"}]})
    stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]})
    detail, result = small_detail()
    with stub:
        assert publisher.put(detail, result).status == "delivered"


def test_an_entry_error_no_retry_can_fix_is_not_retried():
    _, stub, publisher = stubbed([])
    stub.add_response(
        "put_events", {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "NotAuthorizedForSourceException"}]}
    )
    detail, result = small_detail()
    with stub:
        outcome = publisher.put(detail, result)
        stub.assert_no_pending_responses()
    assert outcome.status == "failed"


def test_a_missing_bus_fails_the_integration_only():
    _, stub, publisher = stubbed([])
    stub.add_client_error("put_events", "ResourceNotFoundException", "Event bus nope does not exist.")
    detail, result = small_detail()
    with stub:
        outcome = publisher.put(detail, result)
    assert outcome.status == "failed" and "ResourceNotFoundException" in outcome.reason


# -- the published sample and rule ---------------------------------------------------------------------


def test_the_readme_rule_routes_the_sample_event_and_only_urgent_ones(bus):
    """moto has no TestEventPattern: the sample goes through PutEvents and the README's rule (the `bus` fixture)."""
    events, sqs, _, queue_url = bus
    sample = json.loads(SAMPLE_EVENT.read_text(encoding="utf-8"))
    low = {**sample["detail"], "highest_severity": "low"}
    for detail in (sample["detail"], low):
        entry = {"Source": sample["source"], "DetailType": sample["detail-type"], "Detail": json.dumps(detail)}
        assert events.put_events(Entries=[{**entry, "Resources": sample["resources"]}])["FailedEntryCount"] == 0
    [routed] = received(sqs, queue_url)
    assert routed["detail"] == sample["detail"]


def test_the_sample_event_is_what_a_consumer_lambda_parses():
    """A routed Lambda reads it with Powertools' EventBridge model (the envelope AWS delivers)."""
    from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

    sample = json.loads(SAMPLE_EVENT.read_text(encoding="utf-8"))
    parsed = EventBridgeModel(**sample)
    assert (parsed.source, parsed.detail_type, parsed.account) == (SOURCE, DETAIL_TYPE, sample["detail"]["account"])
    assert parsed.detail["schema"] == "rolewatch.audit-event/v1"


def test_the_sample_event_has_the_shape_the_code_puts():
    sample = json.loads(SAMPLE_EVENT.read_text(encoding="utf-8"))
    assert (sample["source"], sample["detail-type"]) == (SOURCE, DETAIL_TYPE)
    result = AuditResult(findings=(finding(),), roles_audited=1)
    produced = audit_detail(result, kind="event", account=ACCOUNT, integrations={"security-hub": "delivered"})
    detail = sample["detail"]
    assert set(detail) == set(produced)
    assert set(detail["summary"]) == set(produced["summary"])
    assert [set(f) for f in detail["findings"]] == [set(produced["findings"][0])]
    assert detail["schema"] == produced["schema"] and detail["audit"] in ("event", "weekly", "on-demand")
    assert sample["resources"] == [f["resource"] for f in detail["findings"]]
