"""The permission delta of one call: the state before is rebuilt from the state now and the event."""

from __future__ import annotations

from dataclasses import replace

import pytest
from helpers import ACCOUNT, allow, make_role, policy

from rolewatch.event.delta import (
    Before,
    before_instance_change,
    before_role_change,
    by_service,
    compute_delta,
    permissions_of,
)
from rolewatch.model import AttachedPolicy
from rolewatch.policy.catalogue import catalogue

ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
LOGS = policy(allow(["logs:CreateLogStream", "logs:PutLogEvents"]))
S3_READ = policy(allow(["s3:GetObject", "s3:ListBucket"]))
PASS_AND_RUN = policy(allow(["iam:PassRole", "ec2:RunInstances"]))


def names(mask: int) -> set[str]:
    return set(catalogue().names_in(mask))


def test_attach_gains_exactly_what_the_policy_adds() -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:policy/s3-read"
    now = make_role("r", LOGS, managed=[(arn, S3_READ)])
    before = before_role_change("AttachRolePolicy", {"roleName": "r", "policyArn": arn}, now)
    delta = compute_delta("role r", f"AttachRolePolicy {arn}", before, now)
    assert delta.known and names(delta.gained) == {"s3:GetObject", "s3:ListBucket"} and delta.lost == 0
    assert "gained 2 action(s) in 1 service(s): s3 (List 1, Read 1)" in "\n".join(delta.lines())


def test_attaching_administrator_access_names_the_new_admin() -> None:
    now = make_role("r", LOGS, managed=[(ADMIN_ARN, policy(allow("*")))])
    before = before_role_change("AttachRolePolicy", {"policyArn": ADMIN_ARN}, now)
    delta = compute_delta("role r", "AttachRolePolicy", before, now)
    assert delta.gained_admin and delta.admin_before is None and delta.admin_after == "full"
    assert delta.escalation_gained == ()  # an administrator is named as such, not by escalation paths
    assert "  NEW: full administrator access" in delta.lines()


def test_a_newly_possible_privilege_escalation_is_named() -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:policy/launcher"
    now = make_role("r", LOGS, managed=[(arn, PASS_AND_RUN)])
    delta = compute_delta(
        "role r", "AttachRolePolicy", before_role_change("AttachRolePolicy", {"policyArn": arn}, now), now
    )
    assert delta.escalation_gained, "iam:PassRole + ec2:RunInstances is a published escalation method"
    assert any(line.startswith("  NEW privilege escalation: ") for line in delta.lines())


def test_detach_loses_what_the_detached_policy_granted() -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:policy/s3-read"
    now = make_role("r", LOGS)
    detached = AttachedPolicy(name="s3-read", document=S3_READ, arn=arn)
    before = before_role_change("DetachRolePolicy", {"policyArn": arn}, now, policy_before=detached)
    delta = compute_delta("role r", "DetachRolePolicy", before, now)
    assert names(delta.lost) == {"s3:GetObject", "s3:ListBucket"} and delta.gained == 0


def test_an_action_still_granted_by_another_policy_is_not_lost() -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:policy/s3-read"
    now = make_role("r", policy(allow("s3:GetObject")))
    detached = AttachedPolicy(name="s3-read", document=S3_READ, arn=arn)
    delta = compute_delta(
        "role r",
        "DetachRolePolicy",
        before_role_change("DetachRolePolicy", {"policyArn": arn}, now, policy_before=detached),
        now,
    )
    assert names(delta.lost) == {"s3:ListBucket"}


def test_detach_of_a_deleted_policy_is_unknown_not_guessed() -> None:
    before = before_role_change("DetachRolePolicy", {"policyArn": "arn:x"}, make_role("r", LOGS), policy_before=None)
    delta = compute_delta("role r", "DetachRolePolicy", before, make_role("r", LOGS))
    assert not delta.known and delta.gained == delta.lost == 0
    assert delta.lines()[1].startswith("  permission delta unknown: ")


def test_attach_of_a_policy_detached_since_is_unknown() -> None:
    before = before_role_change("AttachRolePolicy", {"policyArn": ADMIN_ARN}, make_role("r", LOGS))
    assert not before.known and "changed again" in before.basis


def test_put_role_policy_states_its_assumption() -> None:
    now = make_role("r", LOGS, S3_READ)  # inline-0 (logs), inline-1 (s3)
    before = before_role_change("PutRolePolicy", {"policyName": "inline-1"}, now)
    delta = compute_delta("role r", "PutRolePolicy inline-1", before, now)
    assert names(delta.gained) == {"s3:GetObject", "s3:ListBucket"}
    assert "CloudTrail does not log the replaced document" in delta.basis


@pytest.mark.parametrize("call", ["DeleteRolePolicy", "DeleteRolePermissionsBoundary"])
def test_what_cloudtrail_does_not_log_is_unknown(call: str) -> None:
    assert not before_role_change(call, {"roleName": "r"}, make_role("r", LOGS)).known


def test_a_new_boundary_shows_what_it_takes_away() -> None:
    now = make_role("r", LOGS, S3_READ, boundary=policy(allow("s3:*")))
    delta = compute_delta(
        "role r", "PutRolePermissionsBoundary", before_role_change("PutRolePermissionsBoundary", {}, now), now
    )
    assert names(delta.lost) == {"logs:CreateLogStream", "logs:PutLogEvents"} and delta.gained == 0


def test_a_new_default_version_is_compared_with_the_previous_one() -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:policy/deploy"
    now = make_role("r", managed=[(arn, policy(allow(["s3:GetObject", "iam:PassRole"])))])
    previous = AttachedPolicy(name="deploy", document=S3_READ, arn=arn, location="v1")
    before = before_role_change("CreatePolicyVersion", {"policyArn": arn}, now, policy_before=previous)
    delta = compute_delta("role r", "CreatePolicyVersion", before, now)
    assert names(delta.gained) == {"iam:PassRole"} and names(delta.lost) == {"s3:ListBucket"}


def test_a_policy_version_change_also_applies_where_the_policy_is_the_boundary() -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:policy/b"  # make_role's boundary ARN
    now = make_role("r", S3_READ, boundary=policy(allow("s3:GetObject")))
    previous = AttachedPolicy(name="b", document=policy(allow("s3:*")), arn=arn)
    before = before_role_change("SetDefaultPolicyVersion", {"policyArn": arn}, now, policy_before=previous)
    assert names(compute_delta("role r", "x", before, now).lost) == {"s3:ListBucket"}


def test_instance_swap_compares_old_role_with_new_role() -> None:
    old = make_role("old", LOGS, S3_READ)
    new = make_role("new", LOGS, PASS_AND_RUN)
    delta = compute_delta("instance i-1", "profile swapped", before_instance_change(old, "old association"), new)
    assert names(delta.gained) == {"iam:PassRole", "ec2:RunInstances"}
    assert names(delta.lost) == {"s3:GetObject", "s3:ListBucket"}
    assert delta.escalation_gained


def test_launch_gains_everything_and_removal_loses_everything() -> None:
    role = make_role("r", S3_READ)
    gained = compute_delta("instance i-1", "launched", before_instance_change(None, "new"), role)
    lost = compute_delta("instance i-1", "profile removed", before_instance_change(role, "had it"), None)
    assert gained.gained == lost.lost == permissions_of(role).allowed and not gained.lost and not lost.gained


def test_denies_and_boundaries_count_in_the_effective_actions() -> None:
    deny_all_s3 = {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}
    role = make_role("r", policy(allow(["s3:GetObject", "logs:PutLogEvents"]), deny_all_s3))
    assert names(permissions_of(role).allowed) == {"logs:PutLogEvents"}


def test_summary_by_service_and_access_level() -> None:
    mask = catalogue().mask_of(["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "iam:PassRole"])
    summary = {s.service: dict(s.levels) for s in by_service(mask)}
    assert summary == {"s3": {"Write": 2, "Read": 1}, "iam": {"Permissions management": 1}}
    assert [s.service for s in by_service(mask)] == ["s3", "iam"]  # most actions first


def test_unknown_delta_has_no_numbers_in_the_json() -> None:
    delta = compute_delta("role r", "DeleteRolePolicy", Before(None, "not logged", known=False), make_role("r"))
    data = delta.to_dict()
    assert data["known"] is False and data["gained"]["count"] == 0 and data["basis"] == "not logged"


def test_an_unreadable_document_grants_nothing_in_the_delta() -> None:
    role = make_role("r", LOGS)
    broken = replace(role, inline_policies=(*role.inline_policies, AttachedPolicy(name="bad", document="{not json")))
    assert permissions_of(broken).allowed == permissions_of(role).allowed
