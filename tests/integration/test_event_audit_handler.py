"""The Lambda handler of the event function: configuration, idempotency, failures, logs and metrics."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from event_account import SeededAccount, load_event, replay
from event_stack import EventStack, LambdaContext

from rolewatch.delivery import DeliveryError
from rolewatch.event.triggers import EventError
from rolewatch.handlers import tracing_wanted
from rolewatch.settings import ConfigurationError

CONTEXT = LambdaContext()


def emitted(output: str) -> list[dict[str, Any]]:
    """JSON lines the function wrote to stdout (structured logs and EMF metrics)."""
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_a_duplicate_delivery_publishes_nothing_new(function: Any, stack: EventStack, account: SeededAccount) -> None:
    event = replay(account, load_event("iam-attach-role-policy.json"))
    first = function.handler(event, CONTEXT)
    second = function.handler(event, CONTEXT)
    assert first["status"] == "published" and not first["duplicate"]
    assert second["duplicate"] and second["message_id"] == first["message_id"]
    assert len(stack.messages()) == 1
    [item] = stack.idempotency_records()
    assert item["status"]["S"] == "COMPLETED" and "expiration" in item


def test_the_same_cloudtrail_record_forwarded_in_another_envelope_is_a_duplicate(
    function: Any, stack: EventStack, account: SeededAccount
) -> None:
    event = replay(account, load_event("iam-attach-role-policy.json"))
    forwarded = {**event, "id": "another-envelope-id"}  # e.g. re-sent by another region's bus
    function.handler(event, CONTEXT)
    assert function.handler(forwarded, CONTEXT)["duplicate"]
    assert len(stack.messages()) == 1


def test_direct_invocations_are_deduplicated_only_on_a_given_id(
    function: Any, stack: EventStack, account: SeededAccount
) -> None:
    function.handler({"roles": ["ops-admin"]}, CONTEXT)
    function.handler({"roles": ["ops-admin"]}, CONTEXT)
    assert len(stack.messages()) == 2 and stack.idempotency_records() == []
    function.handler({"roles": ["ops-admin"], "id": "ticket-42"}, CONTEXT)
    assert function.handler({"roles": ["ops-admin"], "id": "ticket-42"}, CONTEXT)["duplicate"]
    assert len(stack.messages()) == 1


def test_a_malformed_event_fails_the_invocation_for_the_dead_letter_queue(function: Any, stack: EventStack) -> None:
    with pytest.raises(EventError, match="detail-type"):
        function.handler({"detail-type": "Scheduled Event", "detail": {}}, CONTEXT)
    assert stack.idempotency_records() == [] and stack.messages() == []


def test_an_sns_failure_fails_the_invocation_and_the_retry_audits_again(
    function: Any, stack: EventStack, account: SeededAccount
) -> None:
    sns = boto3.client("sns", region_name="us-east-1")
    sns.delete_topic(TopicArn=stack.topic_arn)
    event = replay(account, load_event("iam-attach-role-policy.json"))
    with pytest.raises(DeliveryError):
        function.handler(event, CONTEXT)
    assert stack.idempotency_records() == []  # the failed attempt leaves no record that would block the retry
    sns.create_topic(Name="rolewatch-reports")
    assert function.handler(event, CONTEXT)["status"] == "published"


@pytest.fixture
def logs(function: Any) -> Iterator[io.StringIO]:
    """What the function's Powertools logger writes (its handler keeps the stream of its first setup)."""
    [stream_handler] = [h for h in logging.getLogger("rolewatch").handlers if isinstance(h, logging.StreamHandler)]
    stream = io.StringIO()
    previous = stream_handler.setStream(stream)
    yield stream
    if previous is not None:
        stream_handler.setStream(previous)


def test_skipped_events_are_logged_and_counted(
    function: Any, stack: EventStack, logs: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    event = load_event("iam-attach-role-policy.json")
    event["detail"]["errorCode"] = "AccessDenied"
    assert function.handler(event, CONTEXT)["status"] == "skipped"
    [metrics] = [line for line in emitted(capsys.readouterr().out) if "_aws" in line]
    assert metrics["SkippedEvents"] == [1.0]
    [skipped] = [line for line in emitted(logs.getvalue()) if str(line["message"]).startswith("skipped")]
    assert skipped["correlation_id"] == event["id"] and skipped["service"] == "rolewatch"
    assert "AttachRolePolicy failed (AccessDenied)" in skipped["message"]


def test_findings_per_severity_are_emitted_as_metrics(
    function: Any, stack: EventStack, account: SeededAccount, capsys: pytest.CaptureFixture[str]
) -> None:
    event = replay(account, load_event("iam-attach-role-policy.json"))
    function.handler(event, CONTEXT)
    [metrics] = [line for line in emitted(capsys.readouterr().out) if "_aws" in line]
    names = {m["Name"] for m in metrics["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"Audits", "FindingsCritical", "FindingsHigh", "ReportsPublished", "DeletedBeforeAudit"} <= names
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "rolewatch"
    assert metrics["FindingsCritical"] == [1.0] and metrics["ReportsPublished"] == [1.0]


def test_a_missing_setting_is_a_clear_configuration_error(
    function: Any, stack: EventStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IDEMPOTENCY_TABLE")
    with pytest.raises(ConfigurationError, match="IDEMPOTENCY_TABLE is not set"):
        function.handler({"roles": ["x"]}, CONTEXT)


def test_tracing_is_off_outside_lambda_and_when_disabled() -> None:
    assert tracing_wanted({"AWS_LAMBDA_FUNCTION_NAME": "f"})
    assert not tracing_wanted({})
    assert not tracing_wanted({"AWS_LAMBDA_FUNCTION_NAME": "f", "POWERTOOLS_TRACE_DISABLED": "true"})
    assert not tracing_wanted({"AWS_LAMBDA_FUNCTION_NAME": "f", "AWS_SAM_LOCAL": "true"})


def test_the_idempotency_store_calls_only_what_it_declares(
    function: Any, stack: EventStack, account: SeededAccount
) -> None:
    from rolewatch.aws_permissions import actions_of

    event = replay(account, load_event("iam-attach-role-policy.json"))
    function.handler(event, CONTEXT)
    function.handler(event, CONTEXT)  # duplicate
    boto3.client("sns", region_name="us-east-1").delete_topic(TopicArn=stack.topic_arn)
    with pytest.raises(DeliveryError):
        function.handler({"roles": ["ops-admin"], "id": "fails"}, CONTEXT)
    service, _ = function.runtime(function.load_settings())
    used = {op for op in service.clients.counter.operations() if op.startswith("dynamodb:")}
    assert used and used <= actions_of(function.idempotency_store)
