"""Offline policy validation: unknown actions, resource mismatches, redundancy, contradictions."""

from __future__ import annotations

from helpers import allow, deny, findings, make_role, policy


def only(rule, *documents, **kw):
    return [f for f in findings(make_role("r", *documents, **kw), [rule]) if f.rule == rule]


def test_unknown_action_and_service():
    [f] = only("policy-unknown-action", policy(allow(["s3:GetObjekt", "nosuchservice:Get*", "s3:GetObject"])))
    assert set(f.actions) == {"s3:GetObjekt", "nosuchservice:Get*"}
    assert any("unknown service prefix" in e for e in f.evidence)
    assert any("Statement[0].Action[0]" in e for e in f.evidence)


def test_known_actions_are_clean():
    assert only("policy-unknown-action", policy(allow(["s3:GetObject", "ec2:Describe*"]))) == []


def test_aws_managed_policies_are_not_validated():
    doc = policy(allow("brandnewservice:DoThing"))
    role = make_role("r", managed=[("arn:aws:iam::aws:policy/Fresh", doc)])
    assert findings(role, ["policy-unknown-action"]) == []


def test_resource_that_no_action_can_use():
    [f] = only("policy-resource-mismatch", policy(allow("s3:GetObject", "arn:aws:s3:::bucket")))
    assert "inline-0 Statement[0].Resource[0]: arn:aws:s3:::bucket" in f.evidence


def test_matching_resource_is_clean():
    assert (
        only(
            "policy-resource-mismatch",
            policy(allow(["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::b", "arn:aws:s3:::b/*"])),
        )
        == []
    )


def test_redundant_statement():
    [f] = only("policy-redundant-statement", policy(allow("s3:*"), allow("s3:GetObject", "arn:aws:s3:::b/*")))
    assert f.evidence == ("inline-0: Statement[1] is covered by Statement[0]",)


def test_duplicate_statements_reported_once():
    [f] = only("policy-redundant-statement", policy(allow("sqs:SendMessage"), allow("sqs:SendMessage")))
    assert f.evidence == ("inline-0: Statement[1] is covered by Statement[0]",)


def test_distinct_statements_are_clean():
    assert (
        only(
            "policy-redundant-statement",
            policy(allow("s3:GetObject", "arn:aws:s3:::a/*"), allow("s3:GetObject", "arn:aws:s3:::b/*")),
        )
        == []
    )


def test_allow_cancelled_by_deny():
    [f] = only("policy-contradictory-statement", policy(allow("iam:*"), deny("iam:*")))
    assert "Statement[0]" in f.evidence[0]


def test_partial_deny_is_not_a_contradiction():
    assert only("policy-contradictory-statement", policy(allow("iam:*"), deny("iam:Delete*"))) == []


def test_one_finding_per_role_names_every_policy_in_a_fixed_order():
    a = policy(allow("s3:*"), allow("s3:GetObject", "arn:aws:s3:::b/*"))
    b = policy(allow("sqs:SendMessage"), allow("sqs:SendMessage"))
    [one] = only("policy-redundant-statement", a, b)
    assert one.evidence == (
        "inline-0: Statement[1] is covered by Statement[0]",
        "inline-1: Statement[1] is covered by Statement[0]",
    )
    assert "Policies inline-0, inline-1" in one.detail
    [unknown] = only("policy-unknown-action", policy(allow("s3:NoSuchThing")), policy(allow("ec2:NorThis")))
    assert len(unknown.evidence) == 2
