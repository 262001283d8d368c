"""Invariants of policy evaluation (hypothesis): what IAM's evaluation logic guarantees must hold here too.

- adding a Deny, or a permissions boundary, never adds an action (allowed or on every resource);
- Allow NotResource X together with Allow on X is Allow on "*";
- a role's effective permissions do not depend on the order of its policies or of their statements.
"""

from __future__ import annotations

from typing import Any

from helpers import NOW
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rolewatch.policy.permissions import Permissions, compile_policy

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ACTIONS = (
    "*",
    "iam:*",
    "iam:PassRole",
    "iam:CreateUser",
    "iam:Put*",
    "IAM:AttachRolePolicy",
    "s3:GetObject",
    "s3:*",
    "S3:ListAllMyBuckets",
    "s3:PutBucketPolicy",
    "kms:Decrypt",
    "secretsmanager:GetSecretValue",
    "ec2:RunInstances",
    "sts:AssumeRole",
    "lambda:CreateFunction",
)
RESOURCES = (
    "*",
    "arn:aws:s3:::*",
    "arn:aws:s3:::*/*",
    "arn:aws:s3:::bucket",
    "arn:aws:s3:::bucket/*",
    "arn:aws:s3:*:*:accesspoint/*",
    "arn:aws:iam::*:role/*",
    "arn:aws:iam::111122223333:role/app-*",
    "arn:aws:iam::111122223333:role/app-runtime",
    "arn:aws:iam::111122223333:user/*",
    "arn:aws:iam::aws:policy/*",
    "arn:aws:secretsmanager:*:*:secret:*",
    "arn:aws:kms:*:*:key/*",
    "arn:*:*:*:*:*",
)
CONDITIONS = (
    None,
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"StringEquals": {"iam:PermissionsBoundary": "arn:aws:iam::111122223333:policy/b"}},
    {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
    {"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
    {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
    {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
)


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    actions = draw(st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=3, unique=True))
    statement["NotAction" if draw(st.integers(0, 5)) == 0 else "Action"] = actions
    resources = draw(st.lists(st.sampled_from(RESOURCES), min_size=1, max_size=3, unique=True))
    statement["NotResource" if draw(st.integers(0, 3)) == 0 else "Resource"] = resources
    condition = draw(st.sampled_from(CONDITIONS))
    if condition is not None:
        statement["Condition"] = condition
    return statement


def document(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": items}


def evaluate(documents: list[dict[str, Any]], boundary: dict[str, Any] | None = None) -> Permissions:
    compiled = [(f"p{i}", compile_policy(d)) for i, d in enumerate(documents)]
    return Permissions(compiled, compile_policy(boundary) if boundary is not None else None, NOW)


def masks(p: Permissions) -> tuple[int, int, int, int]:
    return p.allowed, p.unrestricted, p.definite, p.escalation


def subset(smaller: int, larger: int) -> bool:
    return smaller & ~larger == 0


policies = st.lists(st.lists(statements(), min_size=1, max_size=4), min_size=1, max_size=3)


@SETTINGS
@given(policies, statements(effect="Deny"))
def test_adding_a_deny_never_adds_an_action(items: list[list[dict[str, Any]]], extra: dict[str, Any]) -> None:
    before = evaluate([document(s) for s in items])
    after = evaluate([document(s) for s in items] + [document([extra])])
    assert subset(after.allowed, before.allowed)
    assert subset(after.unrestricted, before.unrestricted)
    assert subset(after.escalation, before.escalation)


@SETTINGS
@given(policies, st.lists(statements(), min_size=1, max_size=4))
def test_a_boundary_never_adds_an_action(items: list[list[dict[str, Any]]], bound: list[dict[str, Any]]) -> None:
    before = evaluate([document(s) for s in items])
    after = evaluate([document(s) for s in items], boundary=document(bound))
    assert subset(after.allowed, before.allowed)
    assert subset(after.unrestricted, before.unrestricted)
    assert subset(after.escalation, before.escalation)


@SETTINGS
@given(
    st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=3, unique=True),
    st.lists(st.sampled_from(RESOURCES), min_size=1, max_size=3, unique=True),
)
def test_not_resource_and_its_complement_make_every_resource(actions: list[str], resources: list[str]) -> None:
    split = evaluate(
        [
            document(
                [
                    {"Effect": "Allow", "Action": actions, "NotResource": resources},
                    {"Effect": "Allow", "Action": actions, "Resource": resources},
                ]
            )
        ]
    )
    whole = evaluate([document([{"Effect": "Allow", "Action": actions, "Resource": "*"}])])
    assert (split.allowed, split.unrestricted) == (whole.allowed, whole.unrestricted)


@SETTINGS
@given(policies, st.randoms(use_true_random=False))
def test_order_of_policies_and_statements_does_not_matter(items: list[list[dict[str, Any]]], rng: Any) -> None:
    original = evaluate([document(s) for s in items])
    shuffled_items = [list(s) for s in items]
    for statements_of_one in shuffled_items:
        rng.shuffle(statements_of_one)
    rng.shuffle(shuffled_items)
    shuffled = evaluate([document(s) for s in shuffled_items])
    assert masks(shuffled) == masks(original)


def test_two_denies_that_together_cover_an_allows_resources_remove_it_in_either_order() -> None:
    """Found by the property above: Deny on arn:aws:s3:::* and Deny on every resource but
    arn:aws:s3:::* together deny everything, whichever policy (and so whichever deny) comes first."""
    covering = [
        {"Effect": "Allow", "NotAction": ["*"], "NotResource": ["*"]},
        {"Effect": "Deny", "Action": ["*"], "NotResource": ["arn:aws:s3:::*"]},
    ]
    allow_and_deny = [
        {"Effect": "Allow", "Action": ["*"], "Resource": ["arn:aws:s3:::*", "arn:aws:iam::*:role/*"]},
        {"Effect": "Deny", "Action": ["*"], "Resource": ["arn:aws:s3:::*"]},
    ]
    for order in ([covering, allow_and_deny], [allow_and_deny, covering]):
        assert masks(evaluate([document(s) for s in order])) == (0, 0, 0, 0)


def test_a_deny_of_the_objects_and_a_deny_of_all_but_the_objects_remove_a_bucket_wide_allow() -> None:
    """The second example the property found: the allow's pattern (s3:::*) is wider than either deny's."""
    all_but_objects = [
        {"Effect": "Allow", "NotAction": ["*"], "NotResource": ["*"]},
        {"Effect": "Deny", "Action": ["*"], "NotResource": ["arn:aws:s3:::*/*"]},
    ]
    allow_and_deny = [
        {"Effect": "Allow", "Action": ["*"], "Resource": ["arn:aws:s3:::*"]},
        {"Effect": "Deny", "Action": ["*"], "Resource": ["arn:aws:s3:::*/*"]},
    ]
    for order in ([all_but_objects, allow_and_deny], [allow_and_deny, all_but_objects]):
        assert masks(evaluate([document(s) for s in order])) == (0, 0, 0, 0)
