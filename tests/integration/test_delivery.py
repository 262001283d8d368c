"""Reports to SNS (read back through an SQS subscription) and the S3 overflow, against moto."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from rolewatch.delivery import DeliveryError, publish
from rolewatch.model import AuditResult, Finding, Remediation, Severity
from rolewatch.report import build_report
from rolewatch.report.notification import SNS_MESSAGE_LIMIT, compose, fit_subject, truncate_to_bytes

REGION = "us-east-1"


def finding(
    severity: Severity, rule: str = "admin-access", category: str = "admin-access", detail: str = "d"
) -> Finding:
    return Finding(
        rule=rule,
        category=category,
        severity=severity,
        resource="arn:aws:iam::123456789012:role/ops-admin",
        title="Role has administrator access",
        detail=detail,
        remediation=Remediation("Detach it.", ("aws iam detach-role-policy --role-name ops-admin --policy-arn x",)),
    )


@pytest.fixture
def topic(aws):
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic_arn = sns.create_topic(Name="reports")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="reports-bucket")
    return sns, sqs, s3, topic_arn, queue_url


def received(sqs, queue_url) -> list[dict]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_subscriber_receives_subject_message_and_attributes(topic):
    sns, sqs, _, topic_arn, queue_url = topic
    result = AuditResult(findings=(finding(Severity.CRITICAL), finding(Severity.LOW, "x", "baseline")), roles_audited=1)
    note = compose(result, account="123456789012", header=["Who: alice", "What changed: AttachRolePolicy"])
    assert note is not None
    publish(note, build_report(result), sns=sns, topic_arn=topic_arn)
    [body] = received(sqs, queue_url)
    assert body["Subject"].startswith("[rolewatch] CRITICAL ops-admin: Role has administrator access (+1 more)")
    assert "Who: alice" in body["Message"] and "detach-role-policy" in body["Message"]
    attrs = {k: (v["Type"], v["Value"]) for k, v in body["MessageAttributes"].items()}
    assert attrs == {
        "account": ("String", "123456789012"),
        "severity": ("String", "critical"),
        "category": ("String.Array", '["admin-access", "baseline"]'),
        "rule": ("String.Array", '["admin-access", "x"]'),
    }


def test_below_minimum_severity_and_clean_audits_publish_nothing():
    low_only = AuditResult(findings=(finding(Severity.LOW),), roles_audited=1)
    assert compose(low_only, account="1", min_severity=Severity.MEDIUM) is None
    clean = AuditResult(findings=(), roles_audited=1)
    assert compose(clean, account="1") is None
    note = compose(clean, account="1", publish_clean=True)
    assert note is not None and note.subject.startswith("[rolewatch] clean")


def test_suppressed_findings_are_not_published():
    from dataclasses import replace

    result = AuditResult(findings=(replace(finding(Severity.HIGH), suppressed_by="accepted (until 2099-01-01)"),))
    assert compose(result, account="1") is None


def test_oversize_report_goes_to_s3_with_a_link(topic):
    sns, sqs, s3, topic_arn, queue_url = topic
    # Multi-byte characters: fewer characters than bytes, which moto would not catch.
    big = tuple(finding(Severity.HIGH, detail="é" * 2000 + str(i)) for i in range(100))
    result = AuditResult(findings=big, roles_audited=1)
    note = compose(result, account="123456789012")
    assert note is not None and len(note.message) < SNS_MESSAGE_LIMIT < note.size_in_bytes()
    delivered = publish(
        note, build_report(result), sns=sns, topic_arn=topic_arn, s3=s3, bucket="reports-bucket", key="reports/e1.json"
    )
    assert delivered.overflow_key == "reports/e1.json"
    assert delivered.bytes <= SNS_MESSAGE_LIMIT
    [body] = received(sqs, queue_url)
    assert "s3://reports-bucket/reports/e1.json" in body["Message"]
    assert len(body["Message"].encode()) <= SNS_MESSAGE_LIMIT
    stored = json.loads(s3.get_object(Bucket="reports-bucket", Key="reports/e1.json")["Body"].read())
    assert len(stored["findings"]) == 100


def test_oversize_without_bucket_raises(topic):
    sns, _, _, topic_arn, _ = topic
    result = AuditResult(findings=tuple(finding(Severity.HIGH, detail="x" * 5000) for _ in range(60)))
    note = compose(result, account="1")
    with pytest.raises(DeliveryError, match="no report bucket"):
        publish(note, build_report(result), sns=sns, topic_arn=topic_arn)


def test_sns_failure_raises_so_lambda_retries(aws):
    sns = boto3.client("sns", region_name=REGION)
    note = compose(AuditResult(findings=(finding(Severity.HIGH),)), account="1")
    with pytest.raises(DeliveryError, match=r"NotFound|does not exist"):
        publish(note, {}, sns=sns, topic_arn="arn:aws:sns:us-east-1:123456789012:missing")


def test_throttled_publish_raises_after_retries():
    sns = boto3.client("sns", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    note = compose(AuditResult(findings=(finding(Severity.HIGH),)), account="1")
    with Stubber(sns) as stub:
        stub.add_client_error("publish", service_error_code="Throttled", http_status_code=400)
        with pytest.raises(DeliveryError, match="Throttled"):
            publish(note, {}, sns=sns, topic_arn="arn:aws:sns:us-east-1:123456789012:t")


def test_subject_is_one_ascii_line_under_100():
    subject = fit_subject("[rolewatch] CRITICAL rôle-ü\n" + "x" * 300)
    assert len(subject) < 100 and "\n" not in subject and subject.isascii() and subject.endswith("...")


def test_truncate_never_splits_a_character():
    text = "é" * 100
    cut = truncate_to_bytes(text, 51, "!")
    assert cut.endswith("!") and len(cut.encode()) <= 51
    cut[:-1].encode()  # valid UTF-8
