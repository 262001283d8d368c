"""The services call the integrations once per audit: Security Hub's life cycle and the audit-result
event happen on the event path and the weekly path, and a failed integration is named in the SNS
report and counted, while the audit and its report complete (moto; the refusal through the Stubber)."""

from __future__ import annotations

import json
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

    def service(self) -> EventAuditService:
        return EventAuditService(
            self.clients,
            topic_arn=self.topic,
            bucket=BUCKET,
            integrations=Integrations(self.clients, security_hub=True, bucket=BUCKET, sleep=lambda _: None),
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
