"""Property: any value given as a policy yields a usable compiled policy or a PolicyError, never a crash,
in the policy layer alone and through the whole audit engine."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from helpers import NOW
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rolewatch.audit import audit_roles
from rolewatch.baseline import Baseline, load_baseline
from rolewatch.model import AttachedPolicy, AuditResult, PolicyError, RoleSnapshot
from rolewatch.policy.catalogue import catalogue
from rolewatch.policy.document import parse_policy
from rolewatch.policy.permissions import Permissions, compile_policy

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies ------------------------------------------------------------------------------------
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=16,
)

ACTION_EXAMPLES = (
    "*",
    "iam:*",
    "iam:PassRole",
    "iam:Put*",
    "iam:Put?olePolicy",
    "s3:GetObject",
    "s3:*",
    "*:GetObject",
    "ec2:RunInstances",
    "sts:AssumeRole",
    "codestar:CreateProjectFromTemplate",
    "code?tar:*",
    "nosuch:Thing",
)
action_names = st.sampled_from(ACTION_EXAMPLES) | st.text(max_size=16)
RESOURCE_EXAMPLES = (
    "*",
    "arn:aws:s3:::bucket",
    "arn:aws:s3:::bucket/*",
    "arn:aws:iam::111122223333:role/*",
    "arn:aws:iam::aws:policy/*",
    "arn:aws:logs:*:*:log-group:app:*",
    "arn:*:*:*:*:*",
    "arn:aws:s3:*:123:job/1",
    "arn:aws",
)
resource_names = st.sampled_from(RESOURCE_EXAMPLES) | st.text(max_size=24)
OPERATOR_EXAMPLES = (
    "StringEquals",
    "StringLike",
    "ForAnyValue:StringLike",
    "ForAllValues:StringEquals",
    "StringEqualsIfExists",
    "DateLessThan",
    "DateGreaterThan",
    "NumericLessThan",
    "Bool",
    "IpAddress",
    "Null",
)
condition_operators = st.sampled_from(OPERATOR_EXAMPLES) | st.text(max_size=12)
KEY_EXAMPLES = (
    "aws:SourceIp",
    "aws:CurrentTime",
    "aws:EpochTime",
    "iam:PassedToService",
    "iam:PermissionsBoundary",
    "aws:ResourceTag/team",
    "s3:prefix",
)
condition_keys = st.sampled_from(KEY_EXAMPLES) | st.text(max_size=12)
condition_values = st.sampled_from(["2020-01-01T00:00:00Z", "2099-01-01T00:00:00Z", "1500000000", "ec2.amazonaws.com"])


def one_or_list(element: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return element | st.lists(element, max_size=3) | json_values


conditions = st.dictionaries(
    condition_operators,
    st.dictionaries(condition_keys, one_or_list(condition_values | scalars), max_size=2) | json_values,
    max_size=3,
)
principals = st.sampled_from(["*", {"AWS": "*"}, {"Service": "ec2.amazonaws.com"}]) | st.dictionaries(
    st.sampled_from(["AWS", "Service", "Federated", "CanonicalUser", "Other"]),
    one_or_list(st.text(max_size=24)),
    max_size=3,
)
statement_fields = {
    "Sid": st.text(max_size=8) | json_values,
    "Effect": st.sampled_from(["Allow", "Deny"]) | json_values,
    "Action": one_or_list(action_names),
    "NotAction": one_or_list(action_names),
    "Resource": one_or_list(resource_names),
    "NotResource": one_or_list(resource_names),
    "Principal": principals | json_values,
    "NotPrincipal": principals | json_values,
    "Condition": conditions | json_values,
}
statements = st.fixed_dictionaries({}, optional=statement_fields) | st.fixed_dictionaries(
    {"Effect": st.sampled_from(["Allow", "Deny"]), "Action": one_or_list(action_names)},
    optional={"Resource": one_or_list(resource_names), "Condition": conditions},
)


@st.composite
def well_formed_statements(draw: st.DrawFn) -> dict[str, Any]:
    """Statements IAM would accept (mostly), so that many examples get past the parser into the analysis."""
    known_actions = st.sampled_from(ACTION_EXAMPLES)
    known_resources = st.sampled_from(RESOURCE_EXAMPLES)
    statement: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Deny"]))}
    statement[draw(st.sampled_from(["Action", "NotAction"]))] = draw(
        known_actions | st.lists(known_actions, min_size=1, max_size=3)
    )
    statement[draw(st.sampled_from(["Resource", "NotResource"]))] = draw(
        known_resources | st.lists(known_resources, min_size=1, max_size=3)
    )
    operators = st.sampled_from(OPERATOR_EXAMPLES)
    keys = st.sampled_from(KEY_EXAMPLES)
    values = condition_values | st.lists(condition_values, max_size=2) | st.booleans() | st.integers(0, 2**40)
    condition = draw(st.dictionaries(operators, st.dictionaries(keys, values, min_size=1, max_size=2), max_size=2))
    if condition:
        statement["Condition"] = condition
    return statement


well_formed_policies = st.fixed_dictionaries(
    {
        "Version": st.sampled_from(["2012-10-17", "2008-10-17"]),
        "Statement": st.lists(well_formed_statements(), min_size=1, max_size=4),
    }
)
policy_shaped = st.fixed_dictionaries(
    {},
    optional={
        "Version": st.sampled_from(["2012-10-17", "2008-10-17"]) | json_values,
        "Id": st.text(max_size=8) | json_values,
        "Statement": statements | st.lists(statements, max_size=4) | json_values,
        "Extra": json_values,
    },
)
as_text = well_formed_policies | policy_shaped | json_values
policy_values = (
    well_formed_policies
    | well_formed_policies.map(json.dumps)
    | well_formed_policies.map(lambda v: quote(json.dumps(v)))
    | json_values
    | policy_shaped
    | st.text()
    | as_text.map(json.dumps)
    | as_text.map(lambda v: quote(json.dumps(v)))
    | st.text().map(quote)
)


# -- the policy layer ---------------------------------------------------------------------------------
def query(permissions: Permissions) -> None:
    """Exercise every read of a Permissions object; they must all work on any compiled input."""
    cat = catalogue()
    assert permissions.allowed & ~cat.all == 0
    assert permissions.unrestricted & ~permissions.allowed == 0
    assert permissions.definite & ~permissions.allowed == 0
    for action in ("iam:PassRole", "s3:GetObject", "codestar:CreateProjectFromTemplate", "nosuch:Thing"):
        assert isinstance(permissions.allows(action), bool)
    assert all(t is None or isinstance(t, frozenset) for t in permissions.pass_role_targets())
    assert all(lg.mask & permissions.allowed == lg.mask for lg in permissions.grants_for(cat.all))


@SETTINGS
@given(policy_values)
def test_any_value_compiles_or_is_a_policy_error(value: Any) -> None:
    try:
        compiled = compile_policy(value, "Doc")
    except PolicyError as exc:
        assert exc.location.startswith("Doc")
        assert exc.message
        return
    query(Permissions([("p", compiled)]))
    query(Permissions([("p", compiled)], boundary=compiled))


@SETTINGS
@given(policy_values, st.sampled_from(["identity", "trust", "any"]))
def test_any_value_parses_or_is_a_policy_error(value: Any, kind: str) -> None:
    try:
        document = parse_policy(value, "Doc", kind)  # type: ignore[arg-type]
    except PolicyError as exc:
        assert exc.location.startswith("Doc")
        return
    for statement in document.statements:
        assert statement.effect in ("Allow", "Deny")
        assert statement.actions
        assert all(isinstance(a, str) for a in statement.actions + statement.resources)


@SETTINGS
@given(st.binary() | as_text.map(lambda v: json.dumps(v).encode()))
def test_any_bytes_parse_or_are_a_policy_error(value: bytes) -> None:
    try:
        parse_policy(value, "Doc")
    except PolicyError as exc:
        assert exc.location == "Doc" or exc.location.startswith("Doc.")


# -- the whole engine --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return load_baseline()


def role_with(value: Any) -> RoleSnapshot:
    return RoleSnapshot(
        arn="arn:aws:iam::111122223333:role/fuzzed",
        name="fuzzed",
        trust_policy=value,
        inline_policies=(AttachedPolicy(name="inline", document=value, location="RolePolicyList[0].PolicyDocument"),),
        permissions_boundary=AttachedPolicy(
            name="boundary", document=value, arn="arn:aws:iam::111122223333:policy/boundary", location="Boundary"
        ),
    )


def compiles(value: Any) -> bool:
    try:
        compile_policy(value)
    except PolicyError:
        return False
    return True


@SETTINGS
@given(value=policy_values)
def test_audit_never_raises_on_any_policy_value(baseline: Baseline, value: Any) -> None:
    result = audit_roles([role_with(value)], baseline, now=NOW)
    assert isinstance(result, AuditResult)
    assert result.roles_audited == 1
    if not compiles(value):
        assert any(e.location.startswith("RolePolicyList[0].PolicyDocument") for e in result.errors)
    crashed = [e for e in result.errors if e.location.startswith("rule:")]
    assert not crashed, crashed
