"""CloudTrail events and direct invocations -> audit requests: real records, every watched call, and
every malformed shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rolewatch.event.triggers import (
    CLOUDTRAIL_DETAIL_TYPE,
    DIRECT_INVOCATION,
    WATCHED_CALLS,
    AuditRequest,
    EventError,
    Skipped,
    Target,
    TargetKind,
    parse_cloudtrail_event,
    parse_direct_invocation,
    parse_event,
    wrap_cloudtrail_record,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / "../shared/data"
ACCOUNT = "123456789012"
ROLE, POLICY, PROFILE, INSTANCE, ASSOCIATION = (
    TargetKind.ROLE,
    TargetKind.POLICY,
    TargetKind.INSTANCE_PROFILE,
    TargetKind.INSTANCE,
    TargetKind.ASSOCIATION,
)


def shared_records(name: str) -> list[dict[str, Any]]:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{name} not found in ../shared/data (the shared test data is not part of a fresh clone)")
    return json.loads(path.read_text(encoding="utf-8"))


def cloudtrail_event(
    name: str,
    params: Any = None,
    response: Any = None,
    *,
    source: str | None = None,
    **detail: Any,
) -> dict[str, Any]:
    """A minimal EventBridge CloudTrail event, as in the real records but with only what matters."""
    source = source or ("ec2.amazonaws.com" if name in EC2_CALLS else "iam.amazonaws.com")
    record = {
        "eventVersion": "1.10",
        "eventID": f"evt-{name}",
        "eventName": name,
        "eventSource": source,
        "eventTime": "2026-01-15T09:00:00Z",
        "awsRegion": "us-east-1",
        "recipientAccountId": ACCOUNT,
        "sourceIPAddress": "203.0.113.24",
        "userAgent": "aws-cli/2.22.35",
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/alice", "principalId": "AIDAEXAMPLE"},
        "requestParameters": params,
        "responseElements": response,
        **detail,
    }
    return wrap_cloudtrail_record(record)


def targets(result: Any) -> tuple[Target, ...]:
    assert isinstance(result, AuditRequest), getattr(result, "reason", result)
    return result.targets


def skip_reason(result: Any) -> str:
    assert isinstance(result, Skipped), result
    return result.reason


# The triggers issue 3 names, in its words.
ROLE_NAMED_CALLS = [
    "CreateRole",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "PutRolePolicy",
    "DeleteRolePolicy",
    "UpdateAssumeRolePolicy",
    "PutRolePermissionsBoundary",
    "DeleteRolePermissionsBoundary",
    "UpdateRole",
    "TagRole",
    "UntagRole",
]
POLICY_CALLS = {"CreatePolicyVersion", "SetDefaultPolicyVersion"}
PROFILE_CALLS = {"CreateInstanceProfile", "AddRoleToInstanceProfile", "RemoveRoleFromInstanceProfile"}
EC2_CALLS = {
    "RunInstances",
    "AssociateIamInstanceProfile",
    "ReplaceIamInstanceProfileAssociation",
    "DisassociateIamInstanceProfile",
}
ISSUE_TRIGGERS = {*ROLE_NAMED_CALLS, *POLICY_CALLS, *PROFILE_CALLS, *EC2_CALLS}


def test_the_watched_calls_are_exactly_the_issues_triggers() -> None:
    assert len(ISSUE_TRIGGERS) == 20
    assert WATCHED_CALLS == ISSUE_TRIGGERS


# -- real CloudTrail records from ../shared/data ----------------------------------------------------

# Index in cloudtrail-target-events.json -> the targets it must route to, or a text its skip reason holds.
TARGET_RECORD_ROUTES: dict[int, tuple[Target, ...] | str] = {
    0: "failed (Client.UnauthorizedOperation)",
    1: (Target(ROLE, "stratus-red-team-backdoor-r-role"),),
    2: (Target(ROLE, "stratus-red-team-malicious-iam-role"),),
    3: (Target(ROLE, "stratus-red-team-malicious-iam-role"),),
    # Launched from a launch template: only the response names the profile.
    4: (
        Target(PROFILE, "arn:aws:iam::111122223333:instance-profile/profile-id"),
        Target(INSTANCE, "i-07d06021b0da55115"),
    ),
    5: "failed (Client.UnauthorizedOperation)",
    6: (
        Target(PROFILE, "arn:aws:iam::111122223333:instance-profile/profile-id"),
        Target(INSTANCE, "i-07d06021b0da55115"),
    ),
    7: "launched no instance with an instance profile",
    8: "failed (Client.DryRunOperation)",
    9: "launched no instance with an instance profile",
    10: "launched no instance with an instance profile",
    11: "launched no instance with an instance profile",
    12: (Target(ROLE, "LambdaFunctionRole-1111"),),
    13: "failed (NoSuchEntity)",
    14: (Target(ROLE, "new-role"),),
    15: (Target(ROLE, "new-role"),),
    # Hand-edited fixtures that dropped roleName: nothing can be re-read.
    16: "requestParameters.roleName is missing",
    17: "requestParameters.roleName is missing",
    18: "requestParameters.roleName is missing",
    19: (Target(ROLE, "new-role"),),
    20: "launched no instance with an instance profile",
    21: "failed (Client.DryRunOperation)",
}


def test_every_real_target_record_routes_to_the_right_targets() -> None:
    entries = shared_records("cloudtrail-target-events.json")
    assert len(entries) == len(TARGET_RECORD_ROUTES)
    for index, entry in enumerate(entries):
        result = parse_event(wrap_cloudtrail_record(entry["record"]))
        expected = TARGET_RECORD_ROUTES[index]
        assert result.event_name == entry["eventName"], index
        if isinstance(expected, str):
            assert expected in skip_reason(result), index
        else:
            assert targets(result) == expected, index


def test_real_records_carry_the_actor_time_and_place() -> None:
    entries = shared_records("cloudtrail-target-events.json")
    stratus = parse_event(wrap_cloudtrail_record(entries[3]["record"]))
    assert isinstance(stratus, AuditRequest)
    assert (stratus.event_id, stratus.time) == ("d2905ac3-9898-433f-b10d-9302abe4e208", "2024-08-01T13:37:41Z")
    assert (stratus.account, stratus.region) == ("609418236337", "sagov-west-2r")
    assert stratus.actor.type == "IAMUser" and stratus.actor.arn == "arn:aws:iam::609418236337:user/christophe"
    assert stratus.source_ip == "209.209.254.254" and stratus.user_agent.startswith("stratus-red-team_")
    assert stratus.request_parameters["permissionsBoundary"] == "arn:aws:iam::aws:policy/AWSDenyAll"

    via_cloudformation = parse_event(wrap_cloudtrail_record(entries[12]["record"]))
    assert isinstance(via_cloudformation, AuditRequest)
    actor = via_cloudformation.actor
    assert actor.type == "AssumedRole"
    assert actor.session_issuer_arn == "arn:aws:iam::123456789012:role/example-role"
    assert actor.invoked_by == "cloudformation.amazonaws.com"
    assert actor.display == (
        "arn:aws:sts::123456789012:assumed-role/example-role/example-user "
        "(session of arn:aws:iam::123456789012:role/example-role) via cloudformation.amazonaws.com"
    )


def test_every_real_unrelated_record_is_skipped_with_a_reason() -> None:
    entries = shared_records("cloudtrail-other-events.json")
    assert entries
    for index, entry in enumerate(entries):
        result = parse_event(wrap_cloudtrail_record(entry["record"]))
        if entry["eventName"] in WATCHED_CALLS:  # none today; a future record of a watched call must route
            assert targets(result), index
        else:
            assert f"{entry['eventName']} is not a watched call" in skip_reason(result), index


def test_real_scheduled_events_are_not_cloudtrail_events() -> None:
    for entry in shared_records("eventbridge-scheduled.json"):
        with pytest.raises(EventError, match="'detail-type'"):
            parse_cloudtrail_event(entry["event"])


# -- the EventBridge envelope ----------------------------------------------------------------------


def test_wrap_builds_the_envelope_as_eventbridge_does() -> None:
    record = {
        "eventID": "e-1",
        "eventName": "CreateRole",
        "eventSource": "iam.amazonaws.com",
        "eventTime": "2026-01-15T09:00:00Z",
        "awsRegion": "us-east-1",
        "recipientAccountId": ACCOUNT,
    }
    event = wrap_cloudtrail_record(record)
    assert set(event) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert event["version"] == "0" and event["detail-type"] == CLOUDTRAIL_DETAIL_TYPE
    assert (event["source"], event["account"], event["region"]) == ("aws.iam", ACCOUNT, "us-east-1")
    assert event["time"] == "2026-01-15T09:00:00Z" and event["resources"] == [] and event["detail"] == record
    assert event["id"] == wrap_cloudtrail_record(record)["id"]  # stable, so replays are recognised
    assert wrap_cloudtrail_record({**record, "eventSource": "ec2.amazonaws.com"})["source"] == "aws.ec2"


def test_wrap_takes_the_account_from_the_caller_when_the_recipient_is_missing() -> None:
    event = wrap_cloudtrail_record({"eventSource": "iam.amazonaws.com", "userIdentity": {"accountId": "111"}})
    assert event["account"] == "111"


# -- every watched call, hand-made -----------------------------------------------------------------


@pytest.mark.parametrize("name", ROLE_NAMED_CALLS)
def test_calls_that_name_a_role_audit_that_role(name: str) -> None:
    result = parse_event(cloudtrail_event(name, {"roleName": "S3AccessRole", "policyName": "x"}))
    assert targets(result) == (Target(ROLE, "S3AccessRole"),)
    assert result.role_names == ("S3AccessRole",)


@pytest.mark.parametrize("params", [{}, None, {"roleName": ""}, {"roleName": None}])
def test_a_role_call_without_a_role_name_is_skipped(params: Any) -> None:
    assert "requestParameters.roleName is missing" in skip_reason(
        parse_event(cloudtrail_event("PutRolePolicy", params))
    )


@pytest.mark.parametrize("name", ["CreatePolicyVersion", "SetDefaultPolicyVersion"])
def test_policy_version_changes_audit_the_policy(name: str) -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:policy/GithubDeployPolicy"
    result = parse_event(cloudtrail_event(name, {"policyArn": arn, "versionId": "v3", "setAsDefault": True}))
    assert targets(result) == (Target(POLICY, arn),)
    assert result.policy_arns == (arn,)


def test_a_policy_version_not_set_as_default_changes_nothing() -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:policy/GithubDeployPolicy"
    unset = parse_event(cloudtrail_event("CreatePolicyVersion", {"policyArn": arn, "setAsDefault": False}))
    assert "without setAsDefault" in skip_reason(unset)
    # When the flag is not logged at all, audit rather than guess.
    assert targets(parse_event(cloudtrail_event("CreatePolicyVersion", {"policyArn": arn}))) == (Target(POLICY, arn),)


def test_a_policy_version_change_without_a_policy_is_skipped() -> None:
    assert "policyArn is missing" in skip_reason(parse_event(cloudtrail_event("SetDefaultPolicyVersion", {})))


def test_creating_an_instance_profile_audits_the_profile() -> None:
    result = parse_event(cloudtrail_event("CreateInstanceProfile", {"instanceProfileName": "ops-admin"}))
    assert targets(result) == (Target(PROFILE, "ops-admin"),)


@pytest.mark.parametrize("name", ["AddRoleToInstanceProfile", "RemoveRoleFromInstanceProfile"])
def test_changing_a_profiles_role_audits_profile_and_role(name: str) -> None:
    result = parse_event(cloudtrail_event(name, {"instanceProfileName": "ops-admin", "roleName": "ops-admin"}))
    assert targets(result) == (Target(PROFILE, "ops-admin"), Target(ROLE, "ops-admin"))
    assert result.instance_profiles == ("ops-admin",) and result.role_names == ("ops-admin",)


def test_a_profile_call_without_a_profile_name_is_skipped() -> None:
    result = parse_event(cloudtrail_event("AddRoleToInstanceProfile", {"roleName": "ops-admin"}))
    assert "instanceProfileName is missing" in skip_reason(result)


def launched(*instance_ids: str, profile: dict[str, str] | None = None) -> dict[str, Any]:
    items = [{"instanceId": i, **({"iamInstanceProfile": profile} if profile else {})} for i in instance_ids]
    return {"instancesSet": {"items": items}}


PROFILE_ARN = f"arn:aws:iam::{ACCOUNT}:instance-profile/S3AccessRole"


@pytest.mark.parametrize(
    ("spec", "named"),
    [({"arn": PROFILE_ARN}, PROFILE_ARN), ({"name": "S3AccessRole"}, "S3AccessRole")],
)
def test_run_instances_with_a_profile_audits_profile_and_instances(spec: dict[str, str], named: str) -> None:
    event = cloudtrail_event(
        "RunInstances",
        {"iamInstanceProfile": spec, "instanceType": "t3.micro"},
        launched("i-1", "i-2", profile={"arn": PROFILE_ARN, "id": "AIPA"}),
    )
    result = parse_event(event)
    assert targets(result) == (Target(PROFILE, named), Target(INSTANCE, "i-1"), Target(INSTANCE, "i-2"))
    assert result.instance_ids == ("i-1", "i-2")


def test_run_instances_from_a_launch_template_takes_the_profile_from_the_response() -> None:
    event = cloudtrail_event(
        "RunInstances", {"launchTemplate": {"launchTemplateId": "lt-1"}}, launched("i-1", profile={"arn": PROFILE_ARN})
    )
    assert targets(parse_event(event)) == (Target(PROFILE, PROFILE_ARN), Target(INSTANCE, "i-1"))


def test_run_instances_without_a_profile_is_skipped() -> None:
    result = parse_event(cloudtrail_event("RunInstances", {"instanceType": "t3.micro"}, launched("i-1")))
    assert skip_reason(result) == "RunInstances launched no instance with an instance profile"


def wrapped(name: str, request: dict[str, Any], association: dict[str, Any] | None) -> dict[str, Any]:
    """EC2's logged form of these calls: {"<Call>Request": {...}} / {"<Call>Response": {...}}."""
    response = {f"{name}Response": {"iamInstanceProfileAssociation": association}} if association else None
    return cloudtrail_event(name, {f"{name}Request": request}, response)


def test_associate_audits_instance_profile_and_association() -> None:
    event = wrapped(
        "AssociateIamInstanceProfile",
        {"InstanceId": "i-1", "IamInstanceProfile": {"Name": "S3AccessRole"}},
        {"associationId": "iip-assoc-1", "instanceId": "i-1", "iamInstanceProfile": {"arn": PROFILE_ARN}},
    )
    result = parse_event(event)
    assert targets(result) == (
        Target(INSTANCE, "i-1"),
        Target(PROFILE, "S3AccessRole"),
        Target(ASSOCIATION, "iip-assoc-1"),
    )
    assert result.association_ids == ("iip-assoc-1",)


def test_replace_audits_the_new_profile_and_names_the_old_association() -> None:
    event = wrapped(
        "ReplaceIamInstanceProfileAssociation",
        {"AssociationId": "iip-assoc-old", "IamInstanceProfile": {"Arn": "arn:aws:iam::1:instance-profile/ops-admin"}},
        {"associationId": "iip-assoc-new", "instanceId": "i-1", "iamInstanceProfile": {"arn": "ignored"}},
    )
    assert targets(parse_event(event)) == (
        Target(INSTANCE, "i-1"),
        Target(PROFILE, "arn:aws:iam::1:instance-profile/ops-admin"),
        Target(ASSOCIATION, "iip-assoc-old"),
    )


def test_replace_in_flat_form_is_read_too() -> None:
    event = cloudtrail_event(
        "ReplaceIamInstanceProfileAssociation",
        {"associationId": "iip-assoc-old", "iamInstanceProfile": {"name": "ops-admin"}},
        {"iamInstanceProfileAssociation": {"instanceId": "i-1", "associationId": "iip-assoc-new"}},
    )
    assert targets(parse_event(event)) == (
        Target(INSTANCE, "i-1"),
        Target(PROFILE, "ops-admin"),
        Target(ASSOCIATION, "iip-assoc-old"),
    )


def test_associate_in_flat_form_is_read_too() -> None:
    event = cloudtrail_event(
        "AssociateIamInstanceProfile", {"instanceId": "i-1", "iamInstanceProfile": {"arn": PROFILE_ARN}}
    )
    assert targets(parse_event(event)) == (Target(INSTANCE, "i-1"), Target(PROFILE, PROFILE_ARN))


def test_disassociate_takes_instance_and_old_profile_from_the_response() -> None:
    event = wrapped(
        "DisassociateIamInstanceProfile",
        {"AssociationId": "iip-assoc-1"},
        {"associationId": "iip-assoc-1", "instanceId": "i-1", "iamInstanceProfile": {"arn": PROFILE_ARN}},
    )
    assert targets(parse_event(event)) == (
        Target(INSTANCE, "i-1"),
        Target(PROFILE, PROFILE_ARN),
        Target(ASSOCIATION, "iip-assoc-1"),
    )


def test_disassociate_without_a_response_names_nothing_to_audit() -> None:
    result = parse_event(wrapped("DisassociateIamInstanceProfile", {"AssociationId": "iip-assoc-1"}, None))
    assert "names neither an instance nor an instance profile" in skip_reason(result)


# -- skipped events --------------------------------------------------------------------------------


def test_a_failed_call_is_skipped_with_its_error_code() -> None:
    event = cloudtrail_event("AttachRolePolicy", {"roleName": "S3AccessRole"}, errorCode="AccessDenied")
    result = parse_event(event)
    assert isinstance(result, Skipped)
    assert (
        result.error_code == "AccessDenied"
        and result.reason == "AttachRolePolicy failed (AccessDenied): nothing changed"
    )
    assert (result.event_id, result.event_name, result.event_source) == (
        "evt-AttachRolePolicy",
        "AttachRolePolicy",
        "iam.amazonaws.com",
    )


def test_an_unwatched_call_is_skipped() -> None:
    result = parse_event(cloudtrail_event("AttachUserPolicy", {"userName": "bob"}))
    assert skip_reason(result) == "iam.amazonaws.com AttachUserPolicy is not a watched call"


def test_a_watched_name_from_another_service_is_skipped() -> None:
    result = parse_event(cloudtrail_event("CreateRole", {"roleName": "x"}, source="sts.amazonaws.com"))
    assert "is not a watched call" in skip_reason(result)


# -- event fields ----------------------------------------------------------------------------------


def test_an_audit_request_carries_who_when_and_where() -> None:
    event = cloudtrail_event(
        "TagRole",
        {"roleName": "S3AccessRole", "tags": [{"key": "owner", "value": "x"}]},
        userIdentity={
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/PlatformEngineer/alice",
            "principalId": "AROAEXAMPLE:alice",
            "accountId": ACCOUNT,
            "sessionContext": {"sessionIssuer": {"arn": f"arn:aws:iam::{ACCOUNT}:role/PlatformEngineer"}},
        },
    )
    result = parse_event(event)
    assert isinstance(result, AuditRequest)
    assert (result.event_id, result.event_name, result.event_source) == ("evt-TagRole", "TagRole", "iam.amazonaws.com")
    assert (result.time, result.region, result.account) == ("2026-01-15T09:00:00Z", "us-east-1", ACCOUNT)
    assert (result.source_ip, result.user_agent) == ("203.0.113.24", "aws-cli/2.22.35")
    assert result.request_parameters["tags"] == [{"key": "owner", "value": "x"}]
    assert result.actor.principal_id == "AROAEXAMPLE:alice" and result.actor.account_id == ACCOUNT
    assert result.actor.session_issuer_arn == f"arn:aws:iam::{ACCOUNT}:role/PlatformEngineer"
    assert result.actor.invoked_by is None and result.error_code is None


def test_missing_detail_fields_fall_back_to_the_envelope() -> None:
    event = cloudtrail_event("UpdateRole", {"roleName": "S3AccessRole"})
    for key in ("eventID", "eventTime", "awsRegion", "recipientAccountId", "userIdentity"):
        del event["detail"][key]
    event.update(id="envelope-id", time="2026-02-01T00:00:00Z", region="eu-west-1", account="999999999999")
    result = parse_event(event)
    assert isinstance(result, AuditRequest)
    assert (result.event_id, result.time, result.region, result.account) == (
        "envelope-id",
        "2026-02-01T00:00:00Z",
        "eu-west-1",
        "999999999999",
    )
    assert result.actor.type == "Unknown" and result.actor.display == "Unknown"


# -- malformed events ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "CreateRole", 42, ["detail"]])
def test_an_event_that_is_not_an_object_is_rejected(value: Any) -> None:
    with pytest.raises(EventError, match="must be a JSON object"):
        parse_event(value)


def _without(key: str) -> dict[str, Any]:
    event = cloudtrail_event("CreateRole", {"roleName": "x"})
    del event[key]
    return event


def _detail_without(key: str) -> dict[str, Any]:
    event = cloudtrail_event("CreateRole", {"roleName": "x"})
    del event["detail"][key]
    return event


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({}, "missing field 'detail-type'"),
        (_without("detail-type"), "missing field 'detail-type'"),
        (_without("detail"), "missing field 'detail'"),
        ({**_without("detail"), "detail": "CreateRole"}, "field 'detail' must be an object"),
        ({**_without("detail-type"), "detail-type": "Scheduled Event"}, "field 'detail-type' is 'Scheduled Event'"),
        (_detail_without("eventName"), "missing field 'detail.eventName'"),
        (_detail_without("eventSource"), "missing field 'detail.eventSource'"),
        ({**_without("id"), "detail": _detail_without("eventID")["detail"]}, "missing field 'detail.eventID'"),
    ],
)
def test_a_malformed_event_names_the_field(event: Any, message: str) -> None:
    with pytest.raises(EventError, match=message.replace("(", r"\(")):
        parse_event(event)


def test_a_bare_cloudtrail_record_is_recognised() -> None:
    record = cloudtrail_event("CreateRole", {"roleName": "x"})["detail"]
    with pytest.raises(EventError, match="bare CloudTrail record"):
        parse_event(record)


def test_event_error_is_a_value_error() -> None:
    assert issubclass(EventError, ValueError)


# -- direct invocation -----------------------------------------------------------------------------


def test_a_direct_invocation_names_roles_and_instances() -> None:
    result = parse_event({"roles": ["S3AccessRole", "github-deploy-role"], "instance_ids": ["i-0a1b2c3d4e5f67890"]})
    assert isinstance(result, AuditRequest)
    assert result.targets == (
        Target(ROLE, "S3AccessRole"),
        Target(ROLE, "github-deploy-role"),
        Target(INSTANCE, "i-0a1b2c3d4e5f67890"),
    )
    assert result.actor.type == DIRECT_INVOCATION and result.actor.display == DIRECT_INVOCATION
    assert result.event_source == DIRECT_INVOCATION and result.event_name == "DirectInvocation"
    assert result.event_id.startswith("direct-") and result.time.endswith("Z")


def test_each_direct_invocation_is_its_own_audit_unless_it_names_an_id() -> None:
    first, second = parse_direct_invocation({"roles": ["a"]}), parse_direct_invocation({"roles": ["a"]})
    assert first.event_id != second.event_id
    named = parse_direct_invocation({"roles": ["a"], "id": "ticket-42", "account": ACCOUNT, "region": "us-east-1"})
    assert (named.event_id, named.account, named.region) == ("ticket-42", ACCOUNT, "us-east-1")


def test_a_direct_invocation_of_instances_only() -> None:
    assert parse_direct_invocation({"instance_ids": ["i-1"]}).instance_ids == ("i-1",)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"roles": []}, "missing field 'roles' or 'instance_ids'"),
        ({"roles": [], "instance_ids": []}, "missing field 'roles' or 'instance_ids'"),
        ({"roles": "S3AccessRole"}, "field 'roles' must be a list"),
        ({"roles": ["S3AccessRole", ""]}, "field 'roles' must be a list of non-empty strings"),
        ({"instance_ids": [1]}, "field 'instance_ids' must be a list"),
        ({"roles": ["a"], "role": ["b"]}, "unknown field 'role'"),
        (["S3AccessRole"], "must be a JSON object"),
    ],
)
def test_a_malformed_direct_invocation_names_the_field(payload: Any, message: str) -> None:
    with pytest.raises(EventError, match=message):
        parse_direct_invocation(payload)
