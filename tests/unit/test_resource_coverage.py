"""Issue "verdicts": "every resource" decided by ARN formats, NotResource both ways, mixed-case actions.

Each case pairs a role that must be detected with one that must stay clean, through the real rules.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import NOW, allow, deny, findings, make_role, policy

from rolewatch.policy.catalogue import catalogue
from rolewatch.policy.permissions import Permissions, compile_policy

ACCOUNT_ROLE = "arn:aws:iam::111122223333:role/app-runtime"


def perms(*documents: dict[str, Any], boundary: dict[str, Any] | None = None) -> Permissions:
    compiled = [(f"p{i}", compile_policy(d)) for i, d in enumerate(documents)]
    return Permissions(compiled, compile_policy(boundary) if boundary else None, NOW)


def bit(action: str) -> int:
    return catalogue().expand(action)


def rules_hit(rule: str, *documents: dict[str, Any]) -> list[str]:
    return [f.rule for f in findings(make_role("r", *documents), [rule])]


# -- 1. wildcards inside ARNs ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("s3:GetObject", "arn:aws:s3:::*"),
        ("s3:GetObject", "arn:aws:s3:::*/*"),
        ("s3:GetObject", "arn:*:s3:::*"),
        ("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:*:*:secret:*"),
        ("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:111122223333:secret:*"),
        ("iam:PassRole", "arn:aws:iam::*:role/*"),
        ("ssm:GetParameter", "arn:aws:ssm:*:*:parameter/*"),
        ("kms:Decrypt", "arn:aws:kms:*:*:key/*"),
    ],
)
def test_a_wildcard_arn_covering_the_type_is_every_resource(action: str, resource: str) -> None:
    assert perms(policy(allow(action, resource))).unrestricted & bit(action) == bit(action)


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("s3:GetObject", "arn:aws:s3:::logs-*"),
        ("s3:GetObject", "arn:aws:s3:::bucket/*"),
        ("s3:GetObject", "arn:aws:s3:::*/public/*"),
        ("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:*:*:secret:app/*"),
        ("iam:PassRole", "arn:aws:iam::*:role/app-*"),
        ("iam:PassRole", "arn:aws:iam::*:user/*"),  # not a role at all: not even granted
    ],
)
def test_a_scoped_arn_is_not_every_resource(action: str, resource: str) -> None:
    assert not perms(policy(allow(action, resource))).unrestricted & bit(action)


@pytest.mark.parametrize(
    ("rule", "action", "wide", "narrow"),
    [
        ("data-exfiltration", "s3:GetObject", "arn:aws:s3:::*", "arn:aws:s3:::reports/*"),
        ("data-exfiltration", "secretsmanager:GetSecretValue", "arn:aws:secretsmanager:*:*:secret:*", None),
        ("resource-exposure", "s3:PutBucketPolicy", "arn:aws:s3:::*", "arn:aws:s3:::reports"),
        ("credentials-exposure", "iam:CreateAccessKey", "arn:aws:iam::*:user/*", None),
        ("privilege-escalation", "iam:CreatePolicyVersion", "arn:aws:iam::*:policy/*", None),
    ],
)
def test_every_rule_that_cares_sees_wildcard_arns(rule: str, action: str, wide: str, narrow: str | None) -> None:
    assert rules_hit(rule, policy(allow(action, wide))) == [rule]
    if narrow is not None:
        assert rules_hit(rule, policy(allow(action, narrow))) == []


def test_service_wildcard_on_a_whole_type_arn_is_on_every_resource() -> None:
    [wide] = findings(make_role("r", policy(allow("s3:*", "arn:aws:s3:::*"))), ["service-wildcard"])
    assert "on every resource: s3:*" in wide.detail
    [scoped] = findings(make_role("r", policy(allow("s3:*", "arn:aws:s3:::reports*"))), ["service-wildcard"])
    assert "on every resource" not in scoped.detail


@pytest.mark.parametrize("written", ["S3:*", "s3:*", "S3:GetObject", "s3:getobject"])
def test_mixed_case_service_prefixes_are_the_same_actions(written: str) -> None:
    assert perms(policy(allow(written))).allowed & bit("s3:GetObject")
    assert rules_hit("data-exfiltration", policy(allow(written))) == ["data-exfiltration"]


def test_mixed_case_pass_role_escalates_like_lower_case() -> None:
    upper = rules_hit("privilege-escalation", policy(allow(["IAM:PassRole", "EC2:RunInstances"])))
    lower = rules_hit("privilege-escalation", policy(allow(["iam:PassRole", "ec2:RunInstances"])))
    assert upper == lower


# -- 2. NotResource ----------------------------------------------------------------------------------
def test_allow_not_resource_is_every_resource_except_those() -> None:
    p = perms(policy({"Effect": "Allow", "Action": "iam:PassRole", "NotResource": "arn:aws:iam::*:role/admin*"}))
    [scope] = p.scopes("iam:PassRole")
    assert scope.everywhere and scope.excludes == ("arn:aws:iam::*:role/admin*",)
    assert scope.matches(ACCOUNT_ROLE)
    assert not scope.matches("arn:aws:iam::111122223333:role/admin-break-glass")


def test_allow_not_resource_covering_the_whole_type_grants_nothing() -> None:
    p = perms(policy({"Effect": "Allow", "Action": "iam:PassRole", "NotResource": "arn:aws:iam::*:role/*"}))
    assert not p.allows("iam:PassRole")
    # arn:aws:s3:::* names buckets and their objects, not access points: s3:GetObject through one remains.
    p = perms(policy({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::*"}))
    assert p.allows("s3:GetObject")
    nothing = perms(policy({"Effect": "Allow", "Action": "s3:*", "NotResource": "*"}))
    assert nothing.allowed == 0


def test_deny_not_resource_guardrail_leaves_only_that_role() -> None:
    guardrail = {"Effect": "Deny", "Action": "iam:*", "NotResource": ACCOUNT_ROLE}
    p = perms(policy(allow("iam:*"), guardrail))
    # Actions on roles remain, on that role only; actions on users, policies or "*" are gone.
    assert p.allows("iam:PassRole") and p.allows("iam:AttachRolePolicy")
    assert not p.allows("iam:CreateUser") and not p.allows("iam:ListRoles") and not p.allows("iam:CreatePolicy")
    assert not p.unrestricted & bit("iam:*")
    for scope in p.scopes("iam:PassRole"):
        assert scope.matches(ACCOUNT_ROLE)
        assert not scope.matches("arn:aws:iam::111122223333:role/admin")


def test_deny_not_resource_guardrail_quiets_the_rules() -> None:
    guardrail = {"Effect": "Deny", "Action": "iam:*", "NotResource": ACCOUNT_ROLE}
    everything = [f.rule for f in findings(make_role("r", policy(allow("iam:*"), guardrail)))]
    assert "admin-access" not in everything
    # Without the guardrail the same grant is an escalation.
    assert "privilege-escalation" in [f.rule for f in findings(make_role("r", policy(allow("iam:*"))))]


def test_deny_not_resource_removes_what_its_exceptions_cannot_name() -> None:
    # Deny s3:* except on one bucket's objects: bucket-level actions go everywhere.
    guard = {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::reports/*"}
    p = perms(policy(allow("s3:*"), guard))
    assert p.allows("s3:GetObject") and not p.allows("s3:PutBucketPolicy") and not p.allows("s3:ListAllMyBuckets")
    [scope] = p.scopes("s3:GetObject")
    assert scope.includes == ("arn:aws:s3:::reports/*",)
    assert not p.unrestricted & bit("s3:GetObject")


def test_deny_on_a_wildcard_arn_covering_every_type_removes_the_action() -> None:
    p = perms(policy(allow("s3:GetObject"), deny("s3:GetObject", "arn:aws:s3:::*")))
    # s3:GetObject also takes access-point objects, which arn:aws:s3:::* does not name.
    assert p.allows("s3:GetObject")
    both = deny("s3:GetObject", ["arn:aws:s3:::*", "arn:aws:s3:*:*:accesspoint/*"])
    assert not perms(policy(allow("s3:GetObject"), both)).allows("s3:GetObject")
    assert not perms(policy(allow("iam:PassRole"), deny("iam:PassRole", "arn:aws:iam::*:role/*"))).allows(
        "iam:PassRole"
    )


def test_deny_on_some_resources_excepts_them_from_an_everywhere_grant() -> None:
    p = perms(policy(allow("iam:PassRole"), deny("iam:PassRole", "arn:aws:iam::*:role/admin*")))
    [scope] = p.scopes("iam:PassRole")
    assert scope.everywhere and not scope.matches("arn:aws:iam::1:role/admin") and scope.matches(ACCOUNT_ROLE)


def test_a_boundary_scoped_to_some_roles_limits_pass_role_to_them() -> None:
    boundary = policy(allow("iam:PassRole", "arn:aws:iam::*:role/app-*"), allow("s3:*"))
    p = perms(policy(allow(["iam:PassRole", "s3:GetObject"])), boundary=boundary)
    assert p.allows("s3:GetObject") and p.unrestricted & bit("s3:GetObject")
    assert not p.unrestricted & bit("iam:PassRole")
    assert all(s.matches(ACCOUNT_ROLE) and not s.matches("arn:aws:iam::1:role/admin") for s in p.scopes("iam:PassRole"))


def test_a_deny_in_the_boundary_denies() -> None:
    boundary = policy(allow("*"), {"Effect": "Deny", "Action": "iam:*", "NotResource": ACCOUNT_ROLE})
    p = perms(policy(allow("iam:*")), boundary=boundary)
    assert not p.allows("iam:CreateUser") and p.allows("iam:PassRole")


# -- 3. conditions that decide ----------------------------------------------------------------------
def test_kms_via_service_is_not_every_key() -> None:
    via = {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}
    assert rules_hit("data-exfiltration", policy(allow("kms:Decrypt", Condition=via))) == []
    assert rules_hit("data-exfiltration", policy(allow("kms:Decrypt"))) == ["data-exfiltration"]


@pytest.mark.parametrize(
    ("policy_arn", "escalates"),
    [
        ("arn:aws:iam::aws:policy/ReadOnlyAccess", False),
        ("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", False),
        ("arn:aws:iam::aws:policy/AdministratorAccess", True),
        ("arn:aws:iam::aws:policy/*", True),
        ("arn:aws:iam::111122223333:policy/team/*", True),  # customer-managed: contents unknown, conservative
    ],
)
def test_policy_arn_condition_decides_attach_escalation(policy_arn: str, escalates: bool) -> None:
    condition = {"ArnLike": {"iam:PolicyARN": policy_arn}}
    hit = rules_hit("privilege-escalation", policy(allow("iam:AttachRolePolicy", "*", Condition=condition)))
    assert bool(hit) is escalates
