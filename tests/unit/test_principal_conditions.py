"""Conditions on the principal itself are decided with what the audit knows of the role (the
principal's ARN, account and tags, keys a role session never carries, MFA for sessions a service
obtained); tags an attacker can set stay undecided."""

from __future__ import annotations

from typing import Any

from helpers import ACCOUNT, allow, deny, findings, make_role, policy

from rolewatch.model import Severity

TEAM_DATA = {"StringEquals": {"aws:PrincipalTag/team": "data"}}
HUMAN_TRUST = policy(
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
)
TAG_SESSION_TRUST = policy(
    {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
    }
)


def exfil(*documents: dict[str, Any], **role: Any) -> list[Severity]:
    return [f.severity for f in findings(make_role(role.pop("name", "r"), *documents, **role), ["data-exfiltration"])]


def escalation(*documents: dict[str, Any], **role: Any) -> list[Severity]:
    return [
        f.severity for f in findings(make_role(role.pop("name", "r"), *documents, **role), ["privilege-escalation"])
    ]


def test_a_principal_tag_the_role_does_not_have_voids_the_grant() -> None:
    grant = policy(allow("s3:GetObject", Condition=TEAM_DATA))
    assert exfil(grant, tags=(("team", "web"),)) == []
    assert exfil(grant) == []  # no tag at all


def test_a_principal_tag_the_role_has_makes_the_grant_definite() -> None:
    grant = policy(allow("s3:GetObject", Condition=TEAM_DATA))
    unconditional = exfil(policy(allow("s3:GetObject")))
    assert exfil(grant, tags=(("Team", "data"),)) == unconditional  # tag keys compare case-insensitively


def test_a_role_that_can_tag_itself_gets_what_the_tag_unlocks() -> None:
    grant = policy(allow("s3:GetObject", Condition=TEAM_DATA), allow("iam:TagRole", f"arn:aws:iam::{ACCOUNT}:role/r"))
    assert exfil(grant, tags=(("team", "web"),))  # undecided: still reported (conditional)


def test_session_tags_admitted_by_the_trust_policy_leave_tag_conditions_undecided() -> None:
    grant = policy(allow("s3:GetObject", Condition=TEAM_DATA))
    assert exfil(grant, tags=(("team", "web"),), trust=TAG_SESSION_TRUST)
    assert exfil(grant, tags=(("team", "web"),), trust=HUMAN_TRUST) == []


def test_a_guardrail_deny_on_other_principals_holds_for_this_role() -> None:
    guardrail = deny("iam:*", Condition={"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/admin-*"}})
    assert escalation(policy(allow("iam:*"), guardrail), name="app") == []
    assert escalation(policy(allow("iam:*"), guardrail), name="admin-breakglass")


def test_a_grant_for_another_principal_arn_does_not_apply() -> None:
    only_ci = {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/ci"}}
    assert escalation(policy(allow("iam:*", Condition=only_ci)), name="app") == []
    assert escalation(policy(allow("iam:*", Condition=only_ci)), name="ci")


def test_mfa_never_present_for_sessions_a_service_obtains() -> None:
    mfa = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    assert escalation(policy(allow("iam:*", Condition=mfa))) == []  # EC2-trusted role: never MFA
    assert escalation(policy(allow("iam:*", Condition=mfa)), trust=HUMAN_TRUST)  # a person's session may have it


def test_user_only_keys_are_absent_from_role_sessions() -> None:
    by_user = {"StringEquals": {"aws:username": "alice"}}
    assert escalation(policy(allow("iam:*", Condition=by_user))) == []
    if_exists = {"StringEqualsIfExists": {"aws:username": "alice"}}
    assert escalation(policy(allow("iam:*", Condition=if_exists)))
