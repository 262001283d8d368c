"""Instance-profile rules: roles EC2 hands to instances, through the audit engine (no AWS)."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import NOW

from rolewatch.audit import audit_roles
from rolewatch.baseline import Baseline, Profile
from rolewatch.model import AttachedPolicy, Finding, InstanceProfileRef, RoleSnapshot, Severity

ACCOUNT = "111122223333"
PROFILE = InstanceProfileRef(
    name="web", arn=f"arn:aws:iam::{ACCOUNT}:instance-profile/web", instance_ids=("i-0123456789abcdef0",)
)
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions: str | list[str], resource: str | list[str] = "*") -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


def make_role(
    trust: Any = EC2_TRUST,
    *,
    profiles: tuple[InstanceProfileRef, ...] = (PROFILE,),
    inline: tuple[dict, ...] = (),
    partition: str = "aws",
) -> RoleSnapshot:
    return RoleSnapshot(
        arn=f"arn:{partition}:iam::{ACCOUNT}:role/web-server",
        name="web-server",
        trust_policy=trust,
        instance_profiles=profiles,
        inline_policies=tuple(AttachedPolicy(f"app{i}", doc) for i, doc in enumerate(inline)),
    )


def findings(rule_id: str, role: RoleSnapshot, baseline: Baseline | None = None) -> list[Finding]:
    result = audit_roles([role], baseline, rules=[rule_id], now=NOW)
    assert result.errors == ()  # a crashing rule would show up here, not as a silent pass
    return [f for f in result.findings if f.rule == rule_id]


# -- instance-profile-trust -----------------------------------------------------------------------
TRUST = "instance-profile-trust"


def test_instance_role_that_does_not_trust_ec2() -> None:
    [finding] = findings(TRUST, make_role(LAMBDA_TRUST))
    assert finding.severity is Severity.MEDIUM
    assert "web-server" in finding.detail and "web" in finding.detail and "i-0123456789abcdef0" in finding.detail
    assert f"InstanceProfile={PROFILE.arn}" in finding.evidence
    assert finding.remediation.cli == (
        "aws iam remove-role-from-instance-profile --instance-profile-name web --role-name web-server",
        "aws iam update-assume-role-policy --role-name web-server --policy-document file://web-server-trust.json",
    )
    assert finding.remediation.policy is not None
    added = finding.remediation.policy["Statement"][-1]
    assert added == {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}


@pytest.mark.parametrize(
    "trust",
    [
        EC2_TRUST,
        policy(
            {
                "Effect": "Allow",
                "Principal": {"Service": ["lambda.amazonaws.com", "EC2.amazonaws.com"]},
                "Action": "sts:*",
            }
        ),
    ],
    ids=["ec2", "service-list-other-case"],
)
def test_instance_role_that_trusts_ec2_passes(trust: dict) -> None:
    assert findings(TRUST, make_role(trust)) == []


def test_ec2_in_a_deny_or_for_another_action_does_not_count() -> None:
    deny = policy({"Effect": "Deny", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})
    tag_only = policy({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:TagSession"})
    assert len(findings(TRUST, make_role(deny))) == 1
    assert len(findings(TRUST, make_role(tag_only))) == 1


def test_china_partition_uses_its_ec2_principal() -> None:
    cn_trust = policy({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com.cn"}, "Action": "sts:AssumeRole"})
    assert findings(TRUST, make_role(cn_trust, partition="aws-cn")) == []
    [finding] = findings(TRUST, make_role(LAMBDA_TRUST, partition="aws-cn"))
    assert finding.remediation.policy is not None
    assert finding.remediation.policy["Statement"][-1]["Principal"] == {"Service": "ec2.amazonaws.com.cn"}


def test_roles_outside_instance_profiles_or_without_trust_are_not_judged() -> None:
    assert findings(TRUST, make_role(LAMBDA_TRUST, profiles=())) == []
    assert findings(TRUST, make_role(None)) == []


# -- instance-profile-excess-permissions ----------------------------------------------------------
EXCESS = "instance-profile-excess-permissions"


def test_instance_role_within_the_default_baseline_passes() -> None:
    role = make_role(
        inline=(
            policy(
                allow(["s3:GetObject"], "arn:aws:s3:::web-assets/*"),
                allow(["logs:CreateLogStream", "logs:PutLogEvents", "cloudwatch:PutMetricData"]),
            ),
        )
    )
    assert findings(EXCESS, role) == []


def test_instance_role_with_full_s3_and_iam_exceeds_the_default_baseline() -> None:
    role = make_role(inline=(policy(allow("s3:*"), allow("iam:PassRole")),))
    [finding] = findings(EXCESS, role)
    assert finding.severity is Severity.HIGH
    assert "instance-role" in finding.detail and "web-server" in finding.detail
    assert "1 of them sensitive" in finding.detail  # iam:PassRole is sensitive for instance roles
    assert finding.actions[0] == "iam:PassRole"  # sensitive actions are named first
    assert "s3:DeleteBucket" in finding.detail or "more" in finding.detail
    assert len(finding.actions) <= 20
    assert "profile=instance-role" in finding.evidence
    assert any(e.startswith("app0 Statement[0] grants") for e in finding.evidence)
    # The corrected policy keeps what the role has and the profile allows: a few S3 object actions.
    assert finding.remediation.policy is not None
    kept = {a for s in finding.remediation.policy["Statement"] for a in s["Action"]}
    assert "s3:GetObject" in kept
    assert not kept & {"iam:PassRole", "s3:DeleteBucket", "s3:PutBucketPolicy"}
    assert any("delete-role-policy" in c and "app0" in c for c in finding.remediation.cli)


def test_reads_of_a_service_outside_the_profile_are_low() -> None:
    profile = Profile(name="readers", allowed_services=("s3",))
    baseline = Baseline(profiles=(profile,))
    role = make_role(inline=(policy(allow(["s3:GetObject", "dynamodb:GetItem"])),))
    [finding] = findings(EXCESS, role, baseline)
    assert finding.severity is Severity.LOW
    assert finding.actions == ("dynamodb:GetItem",)
    assert "1 action(s) outside the 'readers' baseline profile" in finding.detail


def test_sensitive_action_inside_an_allowed_service_is_excess() -> None:
    profile = Profile(name="t", sensitive_actions=("ec2:RunInstances",))  # every other action is allowed
    baseline = Baseline(profiles=(profile,))
    [finding] = findings(
        EXCESS, make_role(inline=(policy(allow(["ec2:RunInstances", "ec2:DescribeInstances"])),)), baseline
    )
    assert finding.actions == ("ec2:RunInstances",)
    assert finding.severity is Severity.HIGH
    assert findings(EXCESS, make_role(inline=(policy(allow("ec2:DescribeInstances")),)), baseline) == []


def test_roles_outside_instance_profiles_are_left_to_the_baseline_rules() -> None:
    role = make_role(LAMBDA_TRUST, profiles=(), inline=(policy(allow("s3:*")),))
    assert findings(EXCESS, role) == []


@pytest.mark.parametrize(
    ("statement", "severity"),
    [
        pytest.param(allow(["iam:GetRole", "iam:ListRoles"]), Severity.MEDIUM, id="iam-reads-everywhere"),
        pytest.param(
            allow("sqs:SendMessage", "arn:aws:sqs:us-east-1:111122223333:jobs"), Severity.LOW, id="scoped-write"
        ),
        pytest.param(allow("sqs:DeleteQueue"), Severity.MEDIUM, id="write-everywhere"),
        pytest.param(
            allow("kms:Decrypt", "arn:aws:kms:us-east-1:111122223333:key/k"), Severity.LOW, id="sensitive-scoped"
        ),
        pytest.param(allow("sqs:AddPermission"), Severity.HIGH, id="permissions-everywhere"),
        pytest.param(allow("iam:PassRole", "arn:aws:iam::111122223333:role/x"), Severity.HIGH, id="profile-sensitive"),
    ],
)
def test_excess_is_graded_by_what_it_reaches(statement: dict, severity: Severity) -> None:
    profile = Profile(name="p", allowed_services=("s3",), sensitive_actions=("iam:PassRole",))
    role = make_role(inline=(policy(statement),))
    [finding] = findings(EXCESS, role, Baseline(profiles=(profile,)))
    assert finding.severity is severity


def test_the_fix_revises_a_policy_that_also_grants_legitimate_actions() -> None:
    """With no corrected policy to swap in (the profile lists no services), the sensitive statement is
    removed by revising its policy: the policy's legitimate statement must not be deleted with it."""
    profile = Profile(name="t", sensitive_actions=("ec2:RunInstances",))
    role = make_role(inline=(policy(allow("ec2:RunInstances"), allow("s3:GetObject", "arn:aws:s3:::app/*")),))
    [finding] = findings(EXCESS, role, Baseline(profiles=(profile,)))
    assert not [c for c in finding.remediation.cli if "delete-role-policy" in c]
    assert any("put-role-policy" in c for c in finding.remediation.cli)


def test_the_fix_deletes_a_policy_made_only_of_the_excess() -> None:
    profile = Profile(name="t", sensitive_actions=("ec2:RunInstances",))
    role = make_role(inline=(policy(allow("ec2:RunInstances")),))
    [finding] = findings(EXCESS, role, Baseline(profiles=(profile,)))
    assert [c for c in finding.remediation.cli if "delete-role-policy" in c]
