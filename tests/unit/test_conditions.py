"""How condition blocks are classified (time, delegation, pass-to, restricting, unknown) and PassedToService."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from rolewatch.policy.conditions import (
    ConditionClass,
    classify,
    harmless_policy_arn,
    passed_to_services,
    time_state,
)
from rolewatch.policy.document import Condition, parse_policy

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PAST = "2020-01-01T00:00:00Z"
FUTURE = "2030-01-01T00:00:00Z"
PAST_EPOCH = "1500000000"  # 2017
FUTURE_EPOCH = "4000000000"  # 2096

TIME_CLOSED = ConditionClass.TIME_CLOSED
TIME_OPEN = ConditionClass.TIME_OPEN
TIME_PENDING = ConditionClass.TIME_PENDING
UNKNOWN = ConditionClass.UNKNOWN


def conditions(block: dict[str, Any]) -> tuple[Condition, ...]:
    """Conditions as the parser builds them from a real Condition block."""
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*", "Condition": block}],
    }
    return parse_policy(document, "", "identity").statements[0].conditions


def condition(operator: str, key: str, values: Any) -> Condition:
    [only] = conditions({operator: {key: values}})
    return only


@pytest.mark.parametrize(
    ("operator", "key", "values", "expected"),
    [
        pytest.param("DateLessThan", "aws:CurrentTime", PAST, TIME_CLOSED, id="upper-bound-past-closes"),
        pytest.param("DateLessThanEquals", "aws:CurrentTime", PAST, TIME_CLOSED, id="upper-bound-equals-past"),
        pytest.param("DateLessThan", "aws:CurrentTime", FUTURE, TIME_OPEN, id="upper-bound-future-open"),
        pytest.param("DateGreaterThan", "aws:CurrentTime", PAST, TIME_OPEN, id="lower-bound-past-open"),
        pytest.param("DateGreaterThan", "aws:CurrentTime", FUTURE, TIME_PENDING, id="lower-bound-future-holds-later"),
        pytest.param("DateGreaterThanEquals", "aws:CurrentTime", [FUTURE, PAST], TIME_OPEN, id="lower-bounds-are-ored"),
        pytest.param("NumericGreaterThan", "aws:EpochTime", FUTURE_EPOCH, TIME_PENDING, id="epoch-lower-bound-future"),
        pytest.param("DateEquals", "aws:CurrentTime", PAST, TIME_PENDING, id="equality-is-not-now"),
        pytest.param("DateNotEquals", "aws:CurrentTime", PAST, TIME_PENDING, id="inequality-is-not-relied-on"),
        pytest.param("DateLessThan", "aws:CurrentTime", [PAST, FUTURE], TIME_OPEN, id="values-are-ored"),
        pytest.param("DateLessThan", "aws:CurrentTime", [PAST, "2019-05-05T00:00:00Z"], TIME_CLOSED, id="all-past"),
        pytest.param("DateLessThan", "aws:CurrentTime", "2020-01-01", TIME_CLOSED, id="date-only-is-utc"),
        pytest.param("DateLessThan", "aws:CurrentTime", "2020-01-01T00:00:00+02:00", TIME_CLOSED, id="offset"),
        pytest.param("DateLessThan", "aws:CurrentTime", "2025-06-01T12:00:00Z", TIME_CLOSED, id="bound-equal-to-now"),
        pytest.param("DateLessThanIfExists", "aws:CurrentTime", PAST, TIME_CLOSED, id="if-exists"),
        pytest.param("DateLessThan", "aws:TokenIssueTime", PAST, TIME_CLOSED, id="token-issue-time"),
        pytest.param("DateLessThan", "AWS:CURRENTTIME", PAST, TIME_CLOSED, id="key-case-insensitive"),
        pytest.param("NumericLessThan", "aws:EpochTime", PAST_EPOCH, TIME_CLOSED, id="epoch-past"),
        pytest.param("NumericLessThan", "aws:EpochTime", FUTURE_EPOCH, TIME_OPEN, id="epoch-future"),
        pytest.param("NumericLessThanEquals", "aws:EpochTime", 1500000000, TIME_CLOSED, id="epoch-as-json-number"),
        pytest.param("DateLessThan", "aws:EpochTime", PAST_EPOCH, TIME_CLOSED, id="epoch-with-date-operator"),
        pytest.param("NumericGreaterThan", "aws:EpochTime", PAST_EPOCH, TIME_OPEN, id="epoch-lower-bound"),
        pytest.param("DateLessThan", "aws:CurrentTime", "next tuesday", UNKNOWN, id="unparseable"),
        pytest.param("DateLessThan", "aws:CurrentTime", [PAST, "soon"], UNKNOWN, id="one-unparseable"),
        pytest.param("NumericLessThan", "aws:EpochTime", "99999999999999999999", UNKNOWN, id="epoch-out-of-range"),
        pytest.param("DateLessThan", "aws:CurrentTime", [], UNKNOWN, id="no-values"),
        pytest.param("StringEquals", "aws:CurrentTime", PAST, UNKNOWN, id="string-operator-on-time-key"),
    ],
)
def test_time_conditions_are_evaluated_against_now(operator: str, key: str, values: Any, expected: object) -> None:
    assert classify(condition(operator, key, values)) is ConditionClass.TIME
    assert time_state(condition(operator, key, values), NOW) is expected


def test_time_is_an_input_never_the_clock() -> None:
    # The same condition is decided by the `now` given; without one, the window is undecided (pending).
    window = condition("DateLessThan", "aws:CurrentTime", "2026-01-01T00:00:00Z")
    assert time_state(window, datetime(2025, 12, 31, tzinfo=UTC)) is TIME_OPEN
    assert time_state(window, datetime(2026, 1, 2, tzinfo=UTC)) is TIME_CLOSED
    assert time_state(window, None) is TIME_PENDING
    assert time_state(condition("DateLessThan", "aws:CurrentTime", "soon"), None) is UNKNOWN


@pytest.mark.parametrize(
    ("operator", "key", "expected"),
    [
        ("StringEquals", "iam:PermissionsBoundary", ConditionClass.DELEGATION),
        ("StringLike", "IAM:permissionsboundary", ConditionClass.DELEGATION),
        ("StringEquals", "iam:PassedToService", ConditionClass.PASS_TO),
        ("StringLike", "IAM:PASSEDTOSERVICE", ConditionClass.PASS_TO),
        ("IpAddress", "aws:SourceIp", ConditionClass.RESTRICTING),
        ("IpAddress", "AWS:SOURCEIP", ConditionClass.RESTRICTING),
        ("StringEquals", "aws:SourceVpc", ConditionClass.RESTRICTING),
        ("StringEquals", "aws:SourceVpce", ConditionClass.RESTRICTING),
        ("IpAddress", "aws:VpcSourceIp", ConditionClass.RESTRICTING),
        ("Bool", "aws:MultiFactorAuthPresent", ConditionClass.RESTRICTING),
        ("StringEquals", "aws:SourceAccount", ConditionClass.RESTRICTING),
        ("ArnLike", "aws:SourceArn", ConditionClass.RESTRICTING),
        ("ForAnyValue:StringEquals", "aws:CalledVia", ConditionClass.RESTRICTING),
        ("StringEquals", "aws:CalledViaFirst", ConditionClass.RESTRICTING),
        ("Bool", "aws:ViaAWSService", ConditionClass.RESTRICTING),
        ("ArnEquals", "aws:PrincipalArn", ConditionClass.RESTRICTING),
        ("StringLike", "aws:userid", ConditionClass.RESTRICTING),
        ("ArnEquals", "iam:PolicyARN", ConditionClass.UNKNOWN),  # "x" may be any policy: decides nothing
        ("StringLike", "iam:AWSServiceName", ConditionClass.RESTRICTING),
        ("StringEquals", "kms:ViaService", ConditionClass.RESTRICTING),
        ("StringEquals", "aws:ResourceTag/team", ConditionClass.RESTRICTING),
        ("StringEquals", "AWS:RESOURCETAG/Team", ConditionClass.RESTRICTING),
        ("StringEquals", "aws:PrincipalTag/team", ConditionClass.RESTRICTING),
        ("StringEquals", "iam:ResourceTag/team", ConditionClass.RESTRICTING),
        ("StringEquals", "ec2:ResourceTag/team", ConditionClass.RESTRICTING),
        ("StringEquals", "s3:ResourceTag", ConditionClass.RESTRICTING),
        ("StringLike", "s3:prefix", ConditionClass.UNKNOWN),
        ("StringEquals", "aws:RequestTag/team", ConditionClass.UNKNOWN),
        ("StringEquals", "aws:RequestedRegion", ConditionClass.UNKNOWN),
        ("StringEquals", "aws:username", ConditionClass.UNKNOWN),
        ("StringEquals", "made:Up", ConditionClass.UNKNOWN),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_condition_keys_are_classified_case_insensitively(operator: str, key: str, expected: ConditionClass) -> None:
    assert classify(condition(operator, key, "x")) is expected


@pytest.mark.parametrize(
    ("operator", "values", "expected"),
    [
        pytest.param("ArnEquals", "arn:aws:iam::aws:policy/ReadOnlyAccess", ConditionClass.DELEGATION, id="read-only"),
        pytest.param(
            "ArnEquals",
            [
                "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                "arn:aws:iam::aws:policy/SecurityAudit",
            ],
            ConditionClass.DELEGATION,
            id="harmless-with-path",
        ),
        pytest.param("ArnEquals", "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess", ConditionClass.DELEGATION, id="ro"),
        pytest.param(
            "ArnEquals",
            ["arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/AdministratorAccess"],
            ConditionClass.UNKNOWN,
            id="one-privileged-value",
        ),
        pytest.param("ArnLike", "arn:aws:iam::aws:policy/*", ConditionClass.UNKNOWN, id="wildcard"),
        pytest.param("ArnLike", "arn:aws:iam::aws:policy/*ReadOnlyAccess", ConditionClass.UNKNOWN, id="wildcard-name"),
        pytest.param("ArnEquals", "arn:aws:iam::111122223333:policy/app", ConditionClass.UNKNOWN, id="customer"),
        pytest.param("ArnNotEquals", "arn:aws:iam::aws:policy/ReadOnlyAccess", ConditionClass.UNKNOWN, id="negated"),
        pytest.param(
            "ArnEqualsIfExists", "arn:aws:iam::aws:policy/ReadOnlyAccess", ConditionClass.UNKNOWN, id="if-exists"
        ),
    ],
)
def test_policy_arn_decides_escalation_only_when_every_admitted_policy_is_harmless(
    operator: str, values: Any, expected: ConditionClass
) -> None:
    assert classify(condition(operator, "iam:PolicyARN", values)) is expected


def test_harmless_policy_names_need_an_aws_managed_arn() -> None:
    assert harmless_policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert not harmless_policy_arn("arn:aws:iam::111122223333:policy/ReadOnlyAccess")  # customer-managed look-alike
    assert not harmless_policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        pytest.param({}, None, id="no-condition"),
        pytest.param({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, None, id="other-keys-only"),
        pytest.param(
            {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
            frozenset({"ec2.amazonaws.com"}),
            id="one-service",
        ),
        pytest.param(
            {"StringEquals": {"iam:PassedToService": ["EC2.amazonaws.com", "lambda.amazonaws.com"]}},
            frozenset({"ec2.amazonaws.com", "lambda.amazonaws.com"}),
            id="several-lower-cased",
        ),
        pytest.param({"StringLike": {"IAM:passedToService": "ec2.*"}}, frozenset({"ec2.*"}), id="pattern-and-key-case"),
        pytest.param(
            {"ForAnyValue:StringEqualsIfExists": {"iam:PassedToService": "glue.amazonaws.com"}},
            frozenset({"glue.amazonaws.com"}),
            id="qualified-operator",
        ),
        pytest.param(
            {
                "StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "lambda.amazonaws.com"]},
                "StringLike": {"iam:PassedToService": ["lambda.amazonaws.com", "glue.amazonaws.com"]},
            },
            frozenset({"lambda.amazonaws.com"}),
            id="conditions-are-anded",
        ),
        pytest.param(
            {"StringNotEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}, None, id="negation-does-not-restrict"
        ),
    ],
)
def test_passed_to_services(block: dict[str, Any], expected: frozenset[str] | None) -> None:
    assert passed_to_services(conditions(block)) == expected
