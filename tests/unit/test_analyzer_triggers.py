"""Access Analyzer's own EventBridge events -> audits of the role, deduplicated per role across regions."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from rolewatch.event.triggers import (
    ACCESS_ANALYZER_SOURCE,
    AuditRequest,
    EventError,
    Skipped,
    TargetKind,
    access_analyzer_idempotency_key,
    parse_access_analyzer_event,
    parse_event,
    wrap_cloudtrail_record,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"
EXTERNAL = json.loads((EVENTS / "access-analyzer-external-access.json").read_text())
UNUSED = json.loads((EVENTS / "access-analyzer-unused-access.json").read_text())


def variant(event: dict[str, Any], **detail: Any) -> dict[str, Any]:
    out = copy.deepcopy(event)
    out["detail"].update(detail)
    return out


def in_region(event: dict[str, Any], region: str, finding_id: str, time: str) -> dict[str, Any]:
    """The same role's finding as another region's analyzer reports it."""
    out = copy.deepcopy(event)
    out.update(region=region, time=time, id=f"event-{region}")
    out["resources"] = [f"arn:aws:access-analyzer:{region}:123456789012:analyzer/rolewatch"]
    key = "findingId" if "findingId" in out["detail"] else "id"
    out["detail"][key] = finding_id
    return out


@pytest.mark.parametrize(
    ("event", "role", "finding_type"),
    [(EXTERNAL, "vendor-monitoring", "ExternalAccess"), (UNUSED, "S3AccessRole", "UnusedPermission")],
    ids=["external-access", "unused-access"],
)
def test_the_sample_events_become_an_audit_of_the_role(event, role, finding_type) -> None:
    request = parse_event(event)
    assert isinstance(request, AuditRequest)
    assert request.role_names == (role,)
    assert request.event_source == ACCESS_ANALYZER_SOURCE
    assert request.event_name == event["detail-type"]
    assert request.request_parameters["findingType"] == finding_type
    assert request.request_parameters["roleArn"] == event["detail"]["resource"]
    assert request.actor.arn == event["resources"][0]
    assert request.event_id.startswith("access-analyzer:")


def test_the_same_role_from_several_regions_within_the_hour_is_one_audit() -> None:
    ids = {
        parse_event(in_region(EXTERNAL, region, f"finding-{region}", time)).event_id  # type: ignore[union-attr]
        for region, time in [
            ("us-east-1", "2026-03-02T09:41:27Z"),
            ("eu-west-1", "2026-03-02T09:43:02Z"),
            ("ap-southeast-2", "2026-03-02T09:58:59Z"),
        ]
    }
    assert len(ids) == 1


def test_other_roles_other_families_and_later_hours_are_separate_audits() -> None:
    base = parse_event(EXTERNAL)
    other_role = parse_event(variant(EXTERNAL, resource="arn:aws:iam::123456789012:role/ops-admin"))
    unused_same_role = parse_event(variant(UNUSED, resource=EXTERNAL["detail"]["resource"]))
    next_hour = parse_event({**EXTERNAL, "time": "2026-03-02T10:41:27Z"})
    ids = [r.event_id for r in (base, other_role, unused_same_role, next_hour)]  # type: ignore[union-attr]
    assert len(set(ids)) == 4


def test_an_event_without_a_usable_time_deduplicates_on_the_role_alone() -> None:
    role = "arn:aws:iam::123456789012:role/x"
    assert access_analyzer_idempotency_key("unused-access", role, "") == f"access-analyzer:unused-access:{role}:0"


def test_a_role_with_a_path_is_audited_by_its_name() -> None:
    request = parse_event(variant(UNUSED, resource="arn:aws:iam::123456789012:role/service-role/orders-api-lambda"))
    assert isinstance(request, AuditRequest)
    assert request.targets[0].kind is TargetKind.ROLE and request.role_names == ("orders-api-lambda",)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (variant(EXTERNAL, status="ARCHIVED"), "is ARCHIVED"),
        (variant(UNUSED, status="RESOLVED"), "is RESOLVED"),
        (variant(EXTERNAL, isDeleted=True), "is deleted"),
        (variant(UNUSED, error="INTERNAL_ERROR"), "could not analyze"),
        (variant(EXTERNAL, resourceType="AWS::S3::Bucket", resource="arn:aws:s3:::logs"), "not on an IAM role"),
        (variant(UNUSED, resource="arn:aws:iam::444455556666:role/member"), "belongs to account 444455556666"),
        ({**EXTERNAL, "detail-type": "Internal Access Finding"}, "not a watched event"),
    ],
    ids=["archived", "resolved", "deleted", "error-finding", "not-a-role", "other-account", "internal-access"],
)
def test_findings_that_need_no_audit_are_skipped_with_the_reason(event, reason) -> None:
    result = parse_event(event)
    assert isinstance(result, Skipped), result
    assert reason in result.reason
    assert result.event_source == ACCESS_ANALYZER_SOURCE


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({**EXTERNAL, "detail": "x"}, "missing field 'detail'"),
        (variant(EXTERNAL, resource=None), "missing field 'detail.resource'"),
        (variant(EXTERNAL, resource="arn:aws:iam::123456789012:user/alice"), "not a role ARN"),
        ([], "must be a JSON object"),
    ],
    ids=["detail-not-an-object", "no-resource", "user-arn-as-role", "not-an-object"],
)
def test_malformed_access_analyzer_events_raise_a_clear_error(event, message) -> None:
    with pytest.raises(EventError, match=message):
        parse_access_analyzer_event(event)


def test_access_analyzer_api_calls_through_cloudtrail_are_not_routed_here() -> None:
    record = {
        "eventVersion": "1.08",
        "eventSource": "access-analyzer.amazonaws.com",
        "eventName": "CreateAnalyzer",
        "eventID": "0b1f0f1e-1a2b-4c3d-8e9f-0a1b2c3d4e5f",
        "awsRegion": "us-east-1",
        "recipientAccountId": "123456789012",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/admin/alice"},
    }
    event = wrap_cloudtrail_record(record)
    assert event["source"] == ACCESS_ANALYZER_SOURCE
    result = parse_event(event)
    assert isinstance(result, Skipped) and "not a watched call" in result.reason


def test_the_aws_documentation_examples_parse(shared_data: Path) -> None:
    examples = json.loads((shared_data / "eventbridge-access-analyzer.json").read_text())
    results = [parse_event(e["event"]) for e in examples]
    # Every example there concerns an S3 bucket or an access preview: skipped, none raises.
    assert results and all(isinstance(r, Skipped) for r in results)
    assert {r.event_name for r in results} == {"Access Analyzer Finding", "Access Preview State Change"}


# -- organization mode: an organization analyzer in the security account reports member roles ------------

MEMBER_ROLE = "arn:aws:iam::444455556666:role/member"


def test_in_organization_mode_a_member_roles_finding_is_audited_in_the_members_account() -> None:
    event = variant(UNUSED, resource=MEMBER_ROLE)  # delivered to the security account's bus
    assert isinstance(parse_event(event), Skipped)  # account mode: not this auditor's account
    request = parse_event(event, organization=True)
    assert isinstance(request, AuditRequest)
    assert request.account == "444455556666" and request.role_names == ("member",)
    assert request.event_id.startswith(f"access-analyzer:unused-access:{MEMBER_ROLE}:")
    # The central account's own role is still its own account's.
    own = parse_event(UNUSED, organization=True)
    assert isinstance(own, AuditRequest) and own.account == UNUSED["account"]


def test_in_organization_mode_a_role_arn_without_a_valid_account_is_a_clear_error() -> None:
    with pytest.raises(EventError, match=r"'detail\.resource' must be a 12-digit account id"):
        parse_event(variant(UNUSED, resource="arn:aws:iam::12345:role/member"), organization=True)
