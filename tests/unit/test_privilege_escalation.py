"""privilege-escalation (the 119 published methods) and role-chain-escalation."""

from __future__ import annotations

import pytest
from helpers import ACCOUNT, allow, deny, findings, make_role, policy

from rolewatch.model import Severity
from rolewatch.rules.escalation.methods import methods


def escalations(*documents, rule="privilege-escalation", **kw):
    return [f for f in findings(make_role("r", *documents, **kw), [rule]) if f.rule == rule]


def test_all_published_methods_are_loaded():
    loaded = methods()
    assert len(loaded) == 119
    assert all(m.actions and m.names for m in loaded)


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        (["iam:PutRolePolicy"], ("iam:PutRolePolicy",)),
        (["iam:CreatePolicyVersion"], ("iam:CreatePolicyVersion",)),
        (["iam:PassRole", "ec2:RunInstances"], ("iam:PassRole", "ec2:RunInstances")),
        (["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"], None),
        (["ssm:SendCommand"], ("ssm:SendCommand",)),
    ],
    ids=["put-role-policy", "create-policy-version", "passrole-ec2", "passrole-lambda", "ssm-send-command"],
)
def test_methods_detected(actions, expected):
    found = escalations(policy(allow(actions)))
    assert found, actions
    if expected:
        assert any(set(f.actions) == set(expected) for f in found), [f.actions for f in found]


def test_direct_iam_method_is_critical_and_names_sources():
    [f] = escalations(policy(allow("iam:AttachRolePolicy")))
    assert f.severity is Severity.CRITICAL
    assert any(e.startswith("method: ") for e in f.evidence)


def test_combination_across_two_policies():
    found = escalations(policy(allow("ec2:RunInstances")), policy(allow("iam:PassRole")))
    assert any(set(f.actions) == {"iam:PassRole", "ec2:RunInstances"} for f in found)


def test_half_a_method_is_clean():
    assert escalations(policy(allow(["ec2:RunInstances", "ec2:DescribeInstances"]))) == []


def test_deny_breaks_the_method():
    assert escalations(policy(allow(["iam:PassRole", "ec2:RunInstances"]), deny("iam:PassRole"))) == []


def test_passed_to_service_restricts_methods():
    doc = policy(
        allow(["lambda:CreateFunction", "lambda:InvokeFunction", "ec2:RunInstances"]),
        allow("iam:PassRole", Condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
    )
    found = escalations(doc)
    assert any("ec2:RunInstances" in f.actions for f in found)
    assert not any("lambda:CreateFunction" in f.actions for f in found)


def test_aws_managed_namespace_is_immutable():
    assert escalations(policy(allow("iam:CreatePolicyVersion", "arn:aws:iam::aws:policy/x-*"))) == []


def test_customer_policy_pattern_is_exploitable():
    assert escalations(policy(allow("iam:CreatePolicyVersion", "arn:aws:iam::*:policy/team-*")))


def test_permissions_boundary_delegation_is_not_escalation():
    doc = policy(
        allow(
            ["iam:CreateRole", "iam:AttachRolePolicy", "iam:PutRolePolicy"],
            Condition={"StringEquals": {"iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/boundary"}},
        )
    )
    assert escalations(doc) == []


def test_conditional_grant_lowers_severity():
    doc = policy(allow("iam:PutRolePolicy", Condition={"StringEquals": {"aws:ResourceTag/team": "data"}}))
    [f] = escalations(doc)
    assert f.severity is Severity.HIGH
    assert "conditions" in f.detail


def test_expired_time_window_is_clean_and_open_window_is_not():
    closed = {"DateLessThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}
    opened = {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}
    assert escalations(policy(allow("iam:CreatePolicyVersion", Condition=closed))) == []
    assert escalations(policy(allow("iam:CreatePolicyVersion", Condition=opened)))


def test_scoped_assume_role_is_not_a_method_but_star_is():
    scoped = policy(allow("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/reader"))
    assert escalations(scoped) == []
    assert escalations(policy(allow("sts:AssumeRole")))


def test_only_minimal_methods_are_reported():
    found = escalations(policy(allow(["iam:PassRole", "ec2:RunInstances", "ec2:AssociateIamInstanceProfile"])))
    action_sets = [set(f.actions) for f in found]
    for a in action_sets:
        assert not any(b < a for b in action_sets)


def test_administrators_are_left_to_admin_access():
    assert escalations(policy(allow("*"))) == []


class TestRoleChain:
    def _account(self, target_policy):
        start = make_role("start", trust={"Version": "2012-10-17", "Statement": []})
        middle_trust = policy_trust(f"arn:aws:iam::{ACCOUNT}:role/start")
        middle = make_role("middle", trust=middle_trust)
        end = make_role("end", target_policy, trust=policy_trust(f"arn:aws:iam::{ACCOUNT}:role/middle"))
        return [start, middle, end]

    def test_chain_to_admin_is_reported(self):
        roles = self._account(policy(allow("*")))
        found = [f for f in findings(roles, ["role-chain-escalation"]) if f.resource.endswith("role/start")]
        assert len(found) == 1
        assert "start -> middle -> end" in found[0].detail

    def test_chain_to_harmless_role_is_clean(self):
        roles = self._account(policy(allow("s3:ListAllMyBuckets")))
        assert findings(roles, ["role-chain-escalation"]) == []

    def test_assume_via_own_policy_and_root_trust(self):
        target = make_role("admin", policy(allow("*")), trust=policy_trust(f"arn:aws:iam::{ACCOUNT}:root"))
        caller = make_role("caller", policy(allow("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/adm*")))
        found = [f for f in findings([target, caller], ["role-chain-escalation"]) if "caller" in f.resource]
        assert found and "admin" in found[0].detail
        other = make_role("caller", policy(allow("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/reader")))
        assert not [f for f in findings([target, other], ["role-chain-escalation"]) if "caller" in f.resource]


def policy_trust(principal_arn: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal_arn}, "Action": "sts:AssumeRole"}],
    }
