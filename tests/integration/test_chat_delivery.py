"""The chat topic end to end against moto: the custom notification read back through an SQS subscriber
and checked against the documented format; a missing or failing chat topic leaves the audit and its SNS
report complete, names the failure in the report and counts it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest
from botocore.stub import Stubber
from event_account import SeededAccount, load_event, replay
from event_stack import REGION, EventStack, LambdaContext
from test_account_audit import WEEK1, Account, weekly
from test_account_audit import account as weekly_account  # noqa: F401 (fixture)

from rolewatch.integrations.chat import publish_chat
from rolewatch.weekly.store import report_keys

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[1] / "schemas" / "chat-custom-notification.schema.json").read_text()
)
MISSING_TOPIC = "arn:aws:sns:us-east-1:123456789012:no-such-chat-topic"
CONTEXT = LambdaContext()


def chat_topic(name: str = "rolewatch-chat") -> tuple[str, str]:
    """A topic as a Chatbot channel configuration would use, with an SQS subscriber (raw delivery: the
    queue receives the message body exactly as Amazon Q Developer does)."""
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{name}-reader")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    return topic, queue_url


def chat_messages(queue_url: str) -> list[dict[str, Any]]:
    got = boto3.client("sqs", region_name=REGION).receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def emitted_metrics(output: str) -> dict[str, Any]:
    [metrics] = [json.loads(line) for line in output.splitlines() if line.startswith("{") and '"_aws"' in line]
    return metrics


def test_an_event_audit_posts_one_custom_notification_to_the_chat_topic(
    stack: EventStack, account: SeededAccount, monkeypatch: pytest.MonkeyPatch, function: Any
) -> None:
    topic, queue = chat_topic()
    monkeypatch.setenv("CHAT_TOPIC_ARN", topic)
    function.runtime.cache_clear()

    outcome = function.handler(replay(account, load_event("iam-attach-role-policy.json")), CONTEXT)

    assert outcome["status"] == "published" and outcome["integrations"]["chat"] == {"status": "delivered", "sent": 1}
    [message] = chat_messages(queue)
    jsonschema.validate(message, SCHEMA)
    content = message["content"]
    assert content["title"].startswith(":rotating_light: rolewatch CRITICAL: AttachRolePolicy on `Company1-Logs-Role`")
    assert "*Who:* `arn:aws:iam::123456789012:user/ci-deployer`" in content["description"]
    assert "*What changed:* `role Company1-Logs-Role: AttachRolePolicy" in content["description"]
    assert content["nextSteps"][0].startswith("Fix first: `aws iam detach-role-policy --role-name Company1-Logs-Role")
    # The link is the full JSON report, stored for it under reports/events/.
    link = content["nextSteps"][-1].removeprefix("Read the full report: ")
    key = link.split("prefix=", 1)[1]
    assert key.startswith("reports/events/") and key.endswith(".json")
    stored = json.loads(stack.clients.s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read())
    assert stored["event"]["name"] == "AttachRolePolicy" and stored["findings"]
    [report] = stack.messages()  # the SNS report is unchanged: no chat note
    assert "chat failed" not in report["Message"]


def test_a_missing_chat_topic_leaves_the_report_complete_names_the_failure_and_counts_it(
    stack: EventStack,
    account: SeededAccount,
    monkeypatch: pytest.MonkeyPatch,
    function: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CHAT_TOPIC_ARN", MISSING_TOPIC)
    function.runtime.cache_clear()

    outcome = function.handler(replay(account, load_event("iam-attach-role-policy.json")), CONTEXT)

    assert outcome["status"] == "published" and outcome["message_id"]
    assert outcome["integrations"]["chat"]["status"] == "failed"
    assert "NotFound" in outcome["integrations"]["chat"]["reason"]
    [report] = stack.messages()
    assert f"chat failed: chat topic {MISSING_TOPIC}: NotFound" in report["Message"]
    assert "Company1-Logs-Role" in report["Message"]
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["ChatNotificationsFailed"] == [1.0] and metrics["ReportsPublished"] == [1.0]
    assert metrics["IntegrationFailures"] == [1.0]


def test_a_chat_topic_that_is_not_an_sns_arn_is_a_configuration_error(
    stack: EventStack, monkeypatch: pytest.MonkeyPatch, function: Any
) -> None:
    monkeypatch.setenv("CHAT_TOPIC_ARN", "https://hooks.slack.com/services/T000/B000/XXX")
    function.runtime.cache_clear()
    with pytest.raises(ValueError, match=r"CHAT_TOPIC_ARN=.* is not an SNS topic ARN"):
        function.handler({"roles": ["x"]}, CONTEXT)


@pytest.mark.parametrize("code", ["Throttling", "AuthorizationError", "KMSAccessDenied", "InternalError"])
def test_a_failing_publish_is_returned_never_raised(stack: EventStack, code: str) -> None:
    sns = boto3.client("sns", region_name=REGION)
    with Stubber(sns) as stub:
        stub.add_client_error("publish", service_error_code=code, service_message="no", http_status_code=400)
        delivery = publish_chat({"version": "1.0"}, sns=sns, topic_arn="arn:aws:sns:us-east-1:123456789012:c")
        stub.assert_no_pending_responses()
    assert (delivery.name, delivery.status, delivery.sent) == ("chat", "failed", 0)
    assert delivery.reason == f"chat topic arn:aws:sns:us-east-1:123456789012:c: {code}: no"


# -- the weekly audit --------------------------------------------------------------------------------


def test_the_weekly_audit_posts_its_summary_linking_the_html_report(weekly_account: Account) -> None:  # noqa: F811
    topic, queue = chat_topic("weekly-chat")
    weekly_account.settings = replace(weekly_account.settings, chat_topic_arn=topic)

    outcome = weekly(weekly_account, WEEK1)

    [message] = chat_messages(queue)
    jsonschema.validate(message, SCHEMA)
    content = message["content"]
    assert content["title"].startswith(":rotating_light: rolewatch CRITICAL: Weekly audit on `ops-admin`")
    assert "*What changed:* `0 new, 0 resolved (first run)`" in content["description"]
    _, html_key = report_keys("123456789012", "2026-11-23")
    assert content["description"].endswith(f"prefix={html_key}")
    assert outcome.integrations.to_dict()["chat"] == {"status": "delivered", "sent": 1}
    assert len(weekly_account.messages()) == 1


def test_a_missing_weekly_chat_topic_is_written_into_the_reports_and_counted(
    weekly_account: Account,  # noqa: F811
) -> None:
    weekly_account.settings = replace(weekly_account.settings, chat_topic_arn=MISSING_TOPIC)

    outcome = weekly(weekly_account, WEEK1)

    chat = outcome.to_dict()["integrations"]["chat"]
    assert chat["status"] == "failed" and "NotFound" in chat["reason"]
    assert outcome.metrics()["ChatNotificationsFailed"] == 1 and outcome.metrics()["IntegrationFailures"] == 1
    report = weekly_account.json(outcome.stored.json_key)
    assert any(n.startswith(f"chat failed: chat topic {MISSING_TOPIC}") for n in report["summary"]["notes"])
    assert f"chat failed: chat topic {MISSING_TOPIC}" in weekly_account.text(outcome.stored.html_key)
    [summary] = weekly_account.messages()  # the summary still went out, naming the failure
    assert "NOT DELIVERED to an integration" in summary["Message"] and "chat failed" in summary["Message"]
