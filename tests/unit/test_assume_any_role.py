"""assume-any-role: sts:AssumeRole on every role, judged by the scopes the engine computes, with the
roles the principal graph shows it reaches."""

from __future__ import annotations

import pytest
from helpers import ACCOUNT, NEUTRAL, NOW, allow, deny, make_role, policy

from rolewatch.audit import audit_roles
from rolewatch.model import Severity

RULE = "assume-any-role"
OTHER_ACCOUNT = "444455556666"


def arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def trusting(principal: object) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}],
    }


ACCOUNT_TRUST = trusting(f"arn:aws:iam::{ACCOUNT}:root")


def audit(*roles, complete: bool = True):
    result = audit_roles(list(roles), NEUTRAL, now=NOW, rules=[RULE], complete=complete)
    assert not result.errors, result.errors
    return [f for f in result.findings if f.resource == arn("hopper")]


def hopper(*statements: dict):
    return make_role("hopper", policy(*statements))


# -- must detect -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("sts:AssumeRole", "*"),
        ("sts:AssumeRole*", "*"),
        ("sts:*", "*"),
        ("sts:AssumeRole", "arn:aws:iam::*:role/*"),
        ("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/*"),
        ("sts:AssumeRole", "arn:*:iam::*:*"),
        (["s3:GetObject", "sts:Assume*"], "*"),
    ],
)
def test_every_role_grant_is_reported_with_the_roles_that_trust_the_account(action, resource):
    roles = [
        hopper(allow(action, resource)),
        make_role("billing-reader", trust=ACCOUNT_TRUST),
        make_role("named-only", trust=trusting(arn("someone-else"))),
        make_role("web-server"),  # trusts EC2
    ]
    [finding] = audit(*roles)
    assert finding.severity is Severity.MEDIUM
    assert finding.category == "privilege-escalation"
    assert finding.actions == ("sts:AssumeRole",)
    assert "reaches 1 role(s)" in finding.detail
    assert [e for e in finding.evidence if e.startswith("reaches")] == ["reaches billing-reader"]
    assert any(e.startswith("granted by inline-0 ") for e in finding.evidence)


def test_a_role_trusting_every_principal_is_reached_too():
    roles = [hopper(allow("sts:AssumeRole")), make_role("open-door", trust=trusting("*"))]
    [finding] = audit(*roles)
    assert "reaches open-door" in finding.evidence


def test_no_role_to_reach_today_is_low_and_says_so():
    [finding] = audit(hopper(allow("sts:AssumeRole")), make_role("web-server"))
    assert finding.severity is Severity.LOW
    assert "no role of the account admits it today" in finding.detail


def test_an_audit_without_every_role_cannot_know_the_targets_and_says_so():
    [finding] = audit(hopper(allow("sts:AssumeRole")), make_role("billing-reader", trust=ACCOUNT_TRUST), complete=False)
    assert finding.severity is Severity.LOW
    assert "which ones is not known" in finding.detail


def test_a_conditional_grant_is_one_step_lower_and_shows_its_condition():
    grant = allow("sts:AssumeRole", Condition={"StringEquals": {"aws:ResourceTag/team": "data"}})
    [finding] = audit(hopper(grant), make_role("billing-reader", trust=ACCOUNT_TRUST))
    assert finding.severity is Severity.LOW
    assert any("aws:ResourceTag/team" in e for e in finding.evidence)


def test_the_fix_revises_the_policy_that_grants_it():
    [finding] = audit(hopper(allow("sts:AssumeRole"), allow("s3:GetObject", "arn:aws:s3:::bucket/*")))
    assert any("get-role-policy" in c for c in finding.remediation.cli)


# -- must stay clean ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statements",
    [
        [allow("sts:AssumeRole", arn("deployer"))],
        [allow("sts:AssumeRole", [arn("deployer"), arn("reader")])],
        [allow("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/deploy-*")],
        [allow("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/ci/*")],
        [allow("sts:AssumeRole", f"arn:aws:iam::{OTHER_ACCOUNT}:role/*")],
        [allow("sts:AssumeRole"), deny("sts:AssumeRole")],
        [allow(["sts:AssumeRoleWithWebIdentity", "sts:GetCallerIdentity", "sts:TagSession"])],
        [allow("s3:*", "arn:aws:s3:::bucket/*")],
    ],
    ids=["one-role", "two-roles", "name-prefix", "path", "other-account", "denied", "other-sts", "no-sts"],
)
def test_scoped_or_absent_grants_are_clean(statements):
    roles = [hopper(*statements), make_role("billing-reader", trust=ACCOUNT_TRUST)]
    assert audit(*roles) == []


def test_an_administrator_is_left_to_admin_access():
    assert audit(hopper(allow("*")), make_role("billing-reader", trust=ACCOUNT_TRUST)) == []
