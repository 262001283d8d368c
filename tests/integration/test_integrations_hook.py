"""The services call the integrations once per audit: Security Hub's life cycle, the chat copy and the
audit-result event happen on the event path and the weekly path, and a failed integration is named in
the SNS report and counted, while the audit and its report complete (moto; the refusal through the
Stubber). The chat copy is one of them: same result shape, same notes, same metrics."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from botocore.stub import Stubber

from rolewatch.account_service import run_weekly_audit
from rolewatch.event_service import EventAuditService
from rolewatch.integrations.dispatch import Integrations
from rolewatch.inventory.clients import AwsClients
from rolewatch.settings import Settings

BUCKET = "rolewatch-reports-test"
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
EVERY_RESULT = {"source": ["rolewatch"], "detail-type": ["rolewatch Audit Result"]}


class Account:
    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients
        clients.s3.create_bucket(Bucket=BUCKET)
        self.topic = clients.sns.create_topic(Name="reports")["TopicArn"]
        self.reports = self._queue("reports")
        clients.sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=self._arn(self.reports))
        self.events = self._queue("events")
        clients.client("events").put_rule(Name="all-results", EventPattern=json.dumps(EVERY_RESULT))
        clients.client("events").put_targets(Rule="all-results", Targets=[{"Id": "q", "Arn": self._arn(self.events)}])
        clients.client("securityhub").enable_security_hub()
        clients.iam.create_role(RoleName="ops-admin", AssumeRolePolicyDocument=json.dumps(TRUST))
        clients.iam.put_role_policy(RoleName="ops-admin", PolicyName="main", PolicyDocument=json.dumps(ADMIN))
        self.settings = Settings(report_topic_arn=self.topic, report_bucket=BUCKET, security_hub=True)

    def _queue(self, name: str) -> str:
        return self.clients.client("sqs").create_queue(QueueName=name)["QueueUrl"]

    def _arn(self, url: str) -> str:
        attrs = self.clients.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return attrs["Attributes"]["QueueArn"]

    def received(self, url: str) -> list[dict]:
        got = self.clients.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for m in got:
            self.clients.client("sqs").delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in got]

    def hub_findings(self) -> dict[str, str]:
        found = self.clients.client("securityhub").get_findings()["Findings"]
        return {f["GeneratorId"]: f["RecordState"] for f in found if f["Id"].startswith("rolewatch/")}

    def chat_topic(self) -> str:
        """A chat topic with a queue reading it: returns the queue URL."""
        topic = self.clients.sns.create_topic(Name="chat")["TopicArn"]
        queue = self._queue("chat")
        self.clients.sns.subscribe(
            TopicArn=topic, Protocol="sqs", Endpoint=self._arn(queue), Attributes={"RawMessageDelivery": "true"}
        )
        return queue

    def service(self, chat_topic_arn: str | None = None) -> EventAuditService:
        return EventAuditService(
            self.clients,
            topic_arn=self.topic,
            bucket=BUCKET,
            integrations=Integrations(
                self.clients, security_hub=True, chat_topic_arn=chat_topic_arn, bucket=BUCKET, sleep=lambda _: None
            ),
            sleep=lambda _: None,
        )


@pytest.fixture
def account(clients: AwsClients) -> Account:
    return Account(clients)


def test_an_on_demand_event_audit_imports_puts_its_event_then_archives_when_fixed(account: Account) -> None:
    outcome = account.service().handle_event({"roles": ["ops-admin"]})
    assert outcome.status == "published"
    assert account.hub_findings()["admin-access"] == "ACTIVE"
    [event] = account.received(account.events)
    assert event["detail"]["audit"] == "on-demand" and event["detail"]["highest_severity"] == "critical"
    assert event["detail"]["integrations"] == {"security-hub": "delivered"}
    metrics = outcome.metrics()
    assert (metrics["IntegrationFailures"], metrics["AuditEventsFailed"]) == (0, 0)
    assert metrics["SecurityHubImported"] >= 1
    account.clients.iam.delete_role_policy(RoleName="ops-admin", PolicyName="main")
    fixed = account.service().handle_event({"roles": ["ops-admin"]})
    assert account.hub_findings()["admin-access"] == "ARCHIVED"
    assert fixed.metrics()["SecurityHubArchived"] >= 1


def test_security_hub_refusing_is_named_in_the_sns_report_and_counted(account: Account) -> None:
    hub = account.clients.client("securityhub")
    with Stubber(hub) as stub:
        stub.add_client_error("get_findings", "InvalidAccessException", "not subscribed to AWS Security Hub")
        outcome = account.service().handle_event({"roles": ["ops-admin"]})
    assert outcome.status == "published"  # the audit and its report complete
    [message] = account.received(account.reports)
    assert "security-hub not-enabled" in message["Message"]
    assert outcome.metrics()["IntegrationFailures"] == 1
    [event] = account.received(account.events)
    assert event["detail"]["integrations"] == {"security-hub": "not-enabled"}


def test_the_weekly_audit_imports_account_wide_and_puts_a_weekly_event(account: Account) -> None:
    outcome = run_weekly_audit(account.clients, account.settings, regions=["us-east-1"], now=NOW)
    assert account.hub_findings()["admin-access"] == "ACTIVE"
    [event] = account.received(account.events)
    assert event["detail"]["audit"] == "weekly"
    assert event["detail"]["report"] is None or event["detail"]["report"].startswith(f"s3://{BUCKET}/")
    assert outcome.to_dict()["integrations"]["security-hub"]["status"] == "delivered"
    account.clients.iam.delete_role_policy(RoleName="ops-admin", PolicyName="main")
    account.clients.iam.delete_role(RoleName="ops-admin")
    later = run_weekly_audit(account.clients, account.settings, regions=["us-east-1"], now=NOW + timedelta(days=7))
    assert account.hub_findings()["admin-access"] == "ARCHIVED"
    assert later.metrics()["SecurityHubArchived"] >= 1


def test_a_failed_audit_event_is_named_in_the_weekly_summary(account: Account) -> None:
    events = account.clients.client("events")
    with Stubber(events) as stub:
        for _ in range(3):
            stub.add_response("put_events", {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]})
        outcome = run_weekly_audit(account.clients, account.settings, regions=["us-east-1"], now=NOW)
    [message] = account.received(account.reports)
    assert "NOT DELIVERED to an integration" in message["Message"] and "eventbridge failed" in message["Message"]
    assert outcome.metrics()["AuditEventsFailed"] == 1


# -- the chat copy, one integration among the others ------------------------------------------------------

CHAT_TOPIC = "arn:aws:sns:us-east-1:123456789012:chat"
MISSING_CHAT_TOPIC = "arn:aws:sns:us-east-1:123456789012:no-such-chat-topic"


def test_the_chat_copy_is_an_integration_result_like_the_others(account: Account) -> None:
    queue = account.chat_topic()
    outcome = account.service(CHAT_TOPIC).handle_event({"roles": ["ops-admin"]})
    integrations = outcome.to_dict()["integrations"]
    assert list(integrations) == ["security-hub", "chat", "eventbridge"]
    assert integrations["chat"] == {"status": "delivered", "sent": 1}
    assert all(entry["status"] == "delivered" for entry in integrations.values())
    [message] = account.received(queue)
    assert message["content"]["title"].startswith(":rotating_light: rolewatch CRITICAL")
    [event] = account.received(account.events)
    assert event["detail"]["integrations"] == {"security-hub": "delivered", "chat": "delivered"}
    # The report stored for the chat message's link is the one the event points to (stored once).
    key = event["detail"]["report"].removeprefix(f"s3://{BUCKET}/")
    assert key.startswith("reports/events/") and message["content"]["nextSteps"][-1].endswith(f"prefix={key}")
    assert account.clients.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    metrics = outcome.metrics()
    assert (metrics["IntegrationFailures"], metrics["ChatNotificationsFailed"], metrics["AuditEventsFailed"]) == (
        0,
        0,
        0,
    )


def test_security_hub_and_chat_failing_are_named_together_and_counted_once_each(account: Account) -> None:
    hub = account.clients.client("securityhub")
    with Stubber(hub) as stub:
        stub.add_client_error("get_findings", "InvalidAccessException", "not subscribed to AWS Security Hub")
        outcome = account.service(MISSING_CHAT_TOPIC).handle_event({"roles": ["ops-admin"]})
    assert outcome.status == "published"
    [message] = account.received(account.reports)
    notes = [line for line in message["Message"].splitlines() if line.startswith("note: ")]
    assert any(n.startswith("note: security-hub not-enabled") for n in notes)
    assert any(n.startswith(f"note: chat failed: chat topic {MISSING_CHAT_TOPIC}: NotFound") for n in notes)
    integrations = outcome.to_dict()["integrations"]
    assert integrations["chat"]["status"] == "failed" and integrations["chat"]["failed"] == 1
    metrics = outcome.metrics()
    assert (metrics["IntegrationFailures"], metrics["ChatNotificationsFailed"]) == (2, 1)
    [event] = account.received(account.events)
    assert event["detail"]["integrations"] == {"security-hub": "not-enabled", "chat": "failed"}


def test_an_audit_below_the_threshold_posts_no_chat_message_but_still_puts_its_event(account: Account) -> None:
    queue = account.chat_topic()
    account.clients.iam.delete_role_policy(RoleName="ops-admin", PolicyName="main")
    outcome = account.service(CHAT_TOPIC).handle_event({"roles": ["ops-admin"]})
    assert outcome.status == "below-threshold" and outcome.message_id is None
    assert outcome.to_dict()["integrations"]["chat"] == {"status": "skipped", "sent": 0}
    assert account.received(queue) == []
    [event] = account.received(account.events)
    assert event["detail"]["integrations"]["chat"] == "skipped"
    assert outcome.metrics()["ChatNotificationsFailed"] == 0


def test_the_weekly_chat_failure_sits_with_the_other_integrations_in_the_summary(account: Account) -> None:
    settings = replace(account.settings, chat_topic_arn=MISSING_CHAT_TOPIC)
    events = account.clients.client("events")
    with Stubber(events) as stub:
        for _ in range(3):
            stub.add_response("put_events", {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]})
        outcome = run_weekly_audit(account.clients, settings, regions=["us-east-1"], now=NOW)
    [message] = account.received(account.reports)
    section = message["Message"].split("NOT DELIVERED to an integration:", 1)[1].split("\n\n", 1)[0]
    assert "- chat failed: chat topic" in section and "- eventbridge failed: PutEvents refused" in section
    metrics = outcome.metrics()
    assert (metrics["IntegrationFailures"], metrics["ChatNotificationsFailed"], metrics["AuditEventsFailed"]) == (
        2,
        1,
        1,
    )


def test_a_report_the_chat_message_cannot_link_stops_the_message_only(account: Account) -> None:
    queue = account.chat_topic()
    with Stubber(account.clients.s3) as stub:
        stub.add_client_error("put_object", "AccessDenied", "no")
        outcome = account.service(CHAT_TOPIC).handle_event({"roles": ["ops-admin"]})
        stub.assert_no_pending_responses()
    assert outcome.status == "published"
    chat = outcome.to_dict()["integrations"]["chat"]
    assert chat["status"] == "failed" and "could not be stored" in chat["reason"] and "AccessDenied" in chat["reason"]
    assert account.received(queue) == []  # no message with a dead link
    [event] = account.received(account.events)
    assert event["detail"]["report"] is None and event["detail"]["integrations"]["chat"] == "failed"
