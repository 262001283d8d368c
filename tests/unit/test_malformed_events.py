"""Malformed and absurd events: each raises EventError naming the field, before any AWS call.

Also the generated-envelope fuzz of the parser: whatever the envelope, the outcome is an EventError
naming a field, a Skipped, or an AuditRequest within AWS's limits; never another exception.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from event_strategies import any_event
from hypothesis import given, settings
from test_triggers import cloudtrail_event

from rolewatch.event.triggers import (
    MAX_DIRECT_TARGETS,
    MAX_TARGET,
    AuditRequest,
    EventError,
    Skipped,
    parse_event,
)

NAMES_A_FIELD = re.compile(
    r"field '[^']+'|missing field|must be a JSON object|not an EventBridge event|bare CloudTrail"
)


def access_analyzer_event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "version": "0",
        "id": "aa-1",
        "detail-type": "Access Analyzer Finding",
        "source": "aws.access-analyzer",
        "account": "111122223333",
        "time": "2026-01-15T09:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:access-analyzer:us-east-1:111122223333:analyzer/a"],
        "detail": {
            "resource": "arn:aws:iam::111122223333:role/app",
            "resourceType": "AWS::IAM::Role",
            "status": "ACTIVE",
            "id": "f-1",
        },
    }
    event.update(changes)
    return event


@pytest.mark.parametrize("code", ["", "   ", None, 0, False, ["AccessDenied"], {"code": "x"}])
def test_an_error_code_that_is_not_a_non_empty_string_is_malformed_not_a_success(code: Any) -> None:
    event = cloudtrail_event("AttachRolePolicy", {"roleName": "app", "policyArn": "arn:aws:iam::aws:policy/x"})
    event["detail"]["errorCode"] = code
    with pytest.raises(EventError, match=r"detail\.errorCode"):
        parse_event(event)


def test_a_real_error_code_is_still_a_skipped_failed_call() -> None:
    event = cloudtrail_event("AttachRolePolicy", {"roleName": "app"})
    event["detail"]["errorCode"] = "AccessDenied"
    assert isinstance(parse_event(event), Skipped)


@pytest.mark.parametrize(
    ("response", "field"),
    [
        ({"instancesSet": {"items": "i-1"}}, "instancesSet.items"),
        ({"instancesSet": {"items": [1, 2]}}, "instancesSet.items"),
        ({"instancesSet": ["i-1"]}, "responseElements.instancesSet"),
        ("ok", "detail.responseElements"),
        ({"instancesSet": {"items": [{"instanceId": 5, "iamInstanceProfile": {"arn": "arn:x"}}]}}, "instanceId"),
        ({"instancesSet": {"items": [{"iamInstanceProfile": "p"}]}}, "iamInstanceProfile"),
    ],
)
def test_run_instances_fields_of_the_wrong_type_name_the_field(response: Any, field: str) -> None:
    with pytest.raises(EventError, match=re.escape(field)):
        parse_event(cloudtrail_event("RunInstances", {}, response))


@pytest.mark.parametrize("resources", ["arn:aws:access-analyzer:us-east-1:1:analyzer/a", 7, {"a": 1}])
def test_access_analyzer_resources_of_the_wrong_type_name_the_field(resources: Any) -> None:
    with pytest.raises(EventError, match="field 'resources'"):
        parse_event(access_analyzer_event(resources=resources))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"userIdentity": "root"}, "detail.userIdentity"),
        ({"userIdentity": {"arn": ["a"]}}, "detail.userIdentity.arn"),
        ({"userIdentity": {"sessionContext": {"sessionIssuer": 1}}}, "sessionIssuer"),
        ({"userAgent": 3}, "detail.userAgent"),
        ({"requestParameters": ["roleName", "app"]}, "detail.requestParameters"),
        ({"recipientAccountId": "not-an-account"}, "detail.recipientAccountId"),
        ({"eventID": "e" * 1_000_000}, "detail.eventID"),
        ({"requestParameters": {"roleName": "r" * 1_000_000}}, "detail.requestParameters.roleName"),
        ({"requestParameters": {"roleName": 7}}, "detail.requestParameters.roleName"),
    ],
)
def test_malformed_or_absurd_cloudtrail_fields_name_the_field(change: dict[str, Any], field: str) -> None:
    event = cloudtrail_event("AttachRolePolicy", {"roleName": "app", "policyArn": "arn:aws:iam::aws:policy/x"})
    event["detail"].update(change)
    with pytest.raises(EventError, match=re.escape(field)):
        parse_event(event)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"roles": ["r" * 65]}, "roles[0]"),
        ({"roles": ["0\x1f"]}, "roles[0]"),  # found by the handler fuzz: IAM names are [\w+=,.@-]
        ({"roles": ["ok", "a b"]}, "roles[1]"),
        ({"instance_ids": ["x-123"]}, "instance_ids[0]"),
        ({"roles": ["ok", "r" * 1_000_000]}, "roles[1]"),
        ({"roles": [f"role-{n}" for n in range(MAX_DIRECT_TARGETS + 1)], "id": "x"}, "'roles'"),
        ({"instance_ids": ["i-" + "0" * 100]}, "instance_ids[0]"),
        ({"roles": ["app"], "id": "x" * 1_000_000}, "'id'"),
        ({"roles": ["app"], "account": "1" * 5000}, "'account'"),
        ({"roles": ["app"], "region": "r" * 5000}, "'region'"),
        ({"roles": ["app"], "id": 5}, "'id'"),
    ],
)
def test_absurd_direct_invocations_are_rejected_naming_the_field(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(EventError, match=re.escape(field)):
        parse_event(payload)


def test_the_largest_legal_direct_invocation_is_accepted() -> None:
    names = [f"{n:02d}" + "r" * (MAX_TARGET["role"] - 2) for n in range(MAX_DIRECT_TARGETS)]
    request = parse_event({"roles": names, "id": "i" * 128, "account": "111122223333"})
    assert isinstance(request, AuditRequest) and len(request.role_names) == MAX_DIRECT_TARGETS


# -- generated envelopes -----------------------------------------------------------------------------

OUTCOMES: Counter[str] = Counter()


def classify(event: Any) -> str:
    try:
        result = parse_event(event)
    except EventError as exc:
        assert NAMES_A_FIELD.search(str(exc)), str(exc)
        return "EventError"
    if isinstance(result, Skipped):
        return "skipped"
    assert isinstance(result, AuditRequest)
    assert result.targets and len(result.event_id) <= 128
    assert all(len(t.value) <= MAX_TARGET[t.kind.value] for t in result.targets)
    assert all(isinstance(t.value, str) and t.value.strip() for t in result.targets)
    return "audit"


@given(any_event)
@settings(max_examples=1500, deadline=None)
def test_generated_envelopes_end_as_a_named_event_error_a_skip_or_an_audit(event: Any) -> None:
    OUTCOMES[classify(event)] += 1
