"""The event function against forged, garbled and oversized input (issue 9): the handler through moto."""

from __future__ import annotations

import json
from typing import Any

import pytest
from event_account import SeededAccount, load_event, replay
from event_stack import EventStack, LambdaContext

import rolewatch.handlers.event_audit
from rolewatch.event.triggers import MAX_DIRECT_TARGETS, MAX_TARGET, EventError, parse_event

CONTEXT = LambdaContext()


def test_a_lone_surrogate_in_the_user_agent_is_delivered_escaped(
    function: Any, stack: EventStack, account: SeededAccount
) -> None:
    event = replay(account, load_event("iam-attach-role-policy.json"))
    event["detail"]["userAgent"] = "aws-cli/2 \ud800 \x1b]0;owned\x07\nFix: forged"

    assert function.handler(event, CONTEXT)["status"] == "published"

    [message] = stack.messages()
    assert "user agent: aws-cli/2 \\ud800 \\x1b]0;owned\\x07\\nFix: forged" in message["Message"]
    assert all(line.isprintable() for line in message["Message"].split("\n"))


def test_the_idempotency_record_keeps_a_digest_and_counts_never_the_payload(
    function: Any, stack: EventStack, account: SeededAccount
) -> None:
    names = [f"{n:02d}-" + "r" * (MAX_TARGET["role"] - 3) for n in range(MAX_DIRECT_TARGETS)]
    call_id = "i" * 128
    first = function.handler({"roles": names, "id": call_id}, CONTEXT)
    assert first["status"] == "below-threshold" and len(first["deleted"]) == MAX_DIRECT_TARGETS

    [item] = stack.idempotency_records()
    stored = json.loads(item["data"]["S"])
    assert stored["roles"] == 0 and stored["deleted"] == MAX_DIRECT_TARGETS
    assert call_id not in json.dumps(item) and names[0] not in json.dumps(item)
    assert len(json.dumps(item)) < 2_000
    second = function.handler({"roles": names, "id": call_id}, CONTEXT)
    assert second["duplicate"] and second["status"] == first["status"]


def test_an_absurd_direct_invocation_is_rejected_before_any_aws_call(function: Any, stack: EventStack) -> None:
    service, _ = function.runtime(rolewatch.handlers.event_audit.load_settings())
    with pytest.raises(EventError, match=r"roles\[0\]"):
        function.handler({"roles": ["r" * 1_000_000], "id": "big"}, CONTEXT)
    assert service.clients.counter.total() == 0 and stack.idempotency_records() == [] and stack.messages() == []


def test_a_caller_id_cannot_pre_empt_an_access_analyzer_event(
    function: Any, stack: EventStack, account: SeededAccount
) -> None:
    event = load_event("access-analyzer-external-access.json")
    role = event["detail"]["resource"].rsplit("/", 1)[-1]
    key = parse_event(event).event_id  # access-analyzer:<family>:<role ARN>:<hour>
    function.handler({"roles": [role], "id": key}, CONTEXT)  # a caller tries to take the real event's key
    stack.messages()

    outcome = function.handler(event, CONTEXT)

    assert not outcome["duplicate"]
    assert len({i["id"]["S"] for i in stack.idempotency_records()}) == 2


def test_reports_not_from_a_cloudtrail_event_say_the_actor_is_not_verified(
    function: Any, stack: EventStack, account: SeededAccount
) -> None:
    function.handler({"roles": ["ops-admin"]}, CONTEXT)
    function.handler(load_event("access-analyzer-external-access.json"), CONTEXT)
    function.handler(replay(account, load_event("iam-attach-role-policy.json")), CONTEXT)

    direct, analyzer, cloudtrail = stack.messages()
    for message in (direct, analyzer):
        assert message["Subject"].startswith("[rolewatch on-demand]")
        assert "Who: on demand, actor not verified" in message["Message"]
    assert cloudtrail["Subject"].startswith("[rolewatch] ")
    assert "actor not verified" not in cloudtrail["Message"]
