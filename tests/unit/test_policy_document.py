"""parse_policy / decode_document: every legal form IAM accepts, and a located PolicyError for every defect."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from rolewatch.model import PolicyError
from rolewatch.policy.document import (
    Condition,
    PolicyDocument,
    Principals,
    Statement,
    decode_document,
    parse_policy,
)

S3_READ = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}
EC2_TRUST = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}


def doc(*statements: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements), **top}


def only_statement(raw: Any, kind: str = "any") -> Statement:
    [statement] = parse_policy(raw, "", kind).statements  # type: ignore[arg-type]
    return statement


def with_condition(block: Any) -> dict[str, Any]:
    return doc({**S3_READ, "Condition": block})


# -- the forms a document arrives in ------------------------------------------------------------
IAM_SAMPLE = doc(S3_READ, {"Effect": "Deny", "Action": ["iam:*"], "Resource": "*"})


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(IAM_SAMPLE, id="dict"),
        pytest.param(json.dumps(IAM_SAMPLE), id="json-string"),
        pytest.param(json.dumps(IAM_SAMPLE, indent=4), id="pretty-json-string"),
        pytest.param("\n  " + json.dumps(IAM_SAMPLE) + "\n", id="json-with-surrounding-whitespace"),
        pytest.param(quote(json.dumps(IAM_SAMPLE)), id="url-encoded-as-iam-returns"),
        pytest.param(quote(json.dumps(IAM_SAMPLE, indent=4)), id="url-encoded-pretty"),
        pytest.param(json.dumps(IAM_SAMPLE).encode(), id="bytes"),
        pytest.param(bytearray(json.dumps(IAM_SAMPLE).encode()), id="bytearray"),
        pytest.param(quote(json.dumps(IAM_SAMPLE)).encode(), id="url-encoded-bytes"),
    ],
)
def test_every_transport_form_parses_to_the_same_document(raw: Any) -> None:
    assert parse_policy(raw) == parse_policy(IAM_SAMPLE)
    assert len(parse_policy(raw).statements) == 2


def test_url_encoded_string_in_the_exact_shape_iam_returns() -> None:
    encoded = (
        "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C"
        "%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D"
    )
    [statement] = parse_policy(encoded).statements
    assert (statement.effect, statement.actions, statement.resources) == ("Allow", ("s3:GetObject",), ("*",))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param({"a": 1}, {"a": 1}, id="dict-passes-through"),
        pytest.param([1, 2], [1, 2], id="list-passes-through"),
        pytest.param(None, None, id="none-passes-through"),
        pytest.param('{"a": [1, true]}', {"a": [1, True]}, id="json-text"),
        pytest.param("%7B%22a%22%3A1%7D", {"a": 1}, id="url-encoded"),
        pytest.param(b'{"a": 1}', {"a": 1}, id="bytes"),
        pytest.param("  [1]  ", [1], id="padded-list"),
    ],
)
def test_decode_document_returns_the_json_value(raw: Any, expected: Any) -> None:
    assert decode_document(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param("", "document is empty", id="empty"),
        pytest.param("   \n", "document is empty", id="whitespace"),
        pytest.param(b"\xff\xfe{}", "not UTF-8", id="not-utf8"),
        pytest.param('{"Version": ', "not valid JSON", id="truncated-json"),
        pytest.param("%7B%22Version%22", "not valid JSON", id="truncated-url-encoded"),
        pytest.param("Version=2012-10-17", "not valid JSON", id="not-json-at-all"),
        pytest.param("[" * 100_000, "not valid JSON", id="nests-too-deeply"),
    ],
)
def test_decode_document_rejects_what_is_not_json(raw: Any, message: str) -> None:
    with pytest.raises(PolicyError, match=message) as caught:
        decode_document(raw, "RolePolicyList[0].PolicyDocument")
    assert caught.value.location == "RolePolicyList[0].PolicyDocument"


def test_invalid_json_message_points_at_line_and_column() -> None:
    with pytest.raises(PolicyError, match=r"line 2, column \d+"):
        decode_document('{"Version": "2012-10-17",\n "Statement": [,]}')


def test_an_integer_too_long_to_convert_is_a_policy_error() -> None:
    text = '{"Version": "2012-10-17", "Statement": [], "Id": ' + "1" * 5000 + "}"
    # json.loads raises a plain ValueError here (Python's integer digit limit), not JSONDecodeError.
    with pytest.raises(PolicyError, match="not valid JSON") as caught:
        parse_policy(text, "RolePolicyList[0].PolicyDocument")
    assert caught.value.location == "RolePolicyList[0].PolicyDocument"


# -- Statement, Action, Resource --------------------------------------------------------------
def test_statement_as_a_single_object_is_located_without_an_index() -> None:
    parsed = parse_policy({"Version": "2012-10-17", "Statement": S3_READ})
    assert [s.location for s in parsed.statements] == ["Statement"]


def test_statements_in_a_list_are_located_by_index_under_the_caller_prefix() -> None:
    parsed = parse_policy(doc(S3_READ, S3_READ), "RolePolicyList[2].PolicyDocument")
    assert [s.location for s in parsed.statements] == [
        "RolePolicyList[2].PolicyDocument.Statement[0]",
        "RolePolicyList[2].PolicyDocument.Statement[1]",
    ]


def test_top_level_fields_are_kept() -> None:
    parsed = parse_policy(doc(S3_READ, Id="my-policy"))
    assert (parsed.version, parsed.id) == ("2012-10-17", "my-policy")


@pytest.mark.parametrize("version", ["2012-10-17", "2008-10-17", None])
def test_both_policy_versions_and_none_are_accepted(version: str | None) -> None:
    raw: dict[str, Any] = {"Statement": [S3_READ]}
    if version is not None:
        raw["Version"] = version
    assert parse_policy(raw).version == version


@pytest.mark.parametrize(
    ("statement", "actions", "not_action", "resources", "not_resource"),
    [
        pytest.param(S3_READ, ("s3:GetObject",), False, ("arn:aws:s3:::bucket/*",), False, id="strings"),
        pytest.param(
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ["arn:a", "arn:b"]},
            ("s3:GetObject", "s3:ListBucket"),
            False,
            ("arn:a", "arn:b"),
            False,
            id="lists",
        ),
        pytest.param(
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, ("iam:*",), True, ("*",), False, id="notaction"
        ),
        pytest.param(
            {"Effect": "Deny", "NotAction": ["iam:*", "sts:*"], "NotResource": ["arn:x", "arn:y"]},
            ("iam:*", "sts:*"),
            True,
            ("arn:x", "arn:y"),
            True,
            id="notaction-and-notresource-lists",
        ),
        pytest.param({"Effect": "Allow", "Action": "*", "Resource": "*"}, ("*",), False, ("*",), False, id="star"),
    ],
)
def test_action_and_resource_forms(
    statement: dict[str, Any],
    actions: tuple[str, ...],
    not_action: bool,
    resources: tuple[str, ...],
    not_resource: bool,
) -> None:
    parsed = only_statement(doc(statement), "identity")
    assert (parsed.actions, parsed.not_action, parsed.resources, parsed.not_resource) == (
        actions,
        not_action,
        resources,
        not_resource,
    )
    assert parsed.allows is (statement["Effect"] == "Allow")


def test_sid_is_kept() -> None:
    assert only_statement(doc({**S3_READ, "Sid": "ReadBucket"})).sid == "ReadBucket"


# -- principals ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("principal", "entries", "wildcard"),
    [
        pytest.param("*", (("AWS", ("*",)),), True, id="star"),
        pytest.param({"AWS": "*"}, (("AWS", ("*",)),), True, id="aws-star"),
        pytest.param(
            {"AWS": "arn:aws:iam::111122223333:root"}, (("AWS", ("arn:aws:iam::111122223333:root",)),), False, id="aws"
        ),
        pytest.param(
            {"AWS": ["111122223333", "arn:aws:iam::444455556666:role/x"]},
            (("AWS", ("111122223333", "arn:aws:iam::444455556666:role/x")),),
            False,
            id="aws-list",
        ),
        pytest.param(
            {"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]},
            (("Service", ("ec2.amazonaws.com", "lambda.amazonaws.com")),),
            False,
            id="service-list",
        ),
        pytest.param(
            {"Federated": "cognito-identity.amazonaws.com"},
            (("Federated", ("cognito-identity.amazonaws.com",)),),
            False,
            id="federated",
        ),
        pytest.param({"CanonicalUser": "79a59df9"}, (("CanonicalUser", ("79a59df9",)),), False, id="canonical-user"),
        pytest.param(
            {"Service": "ec2.amazonaws.com", "AWS": ["*"]},
            (("Service", ("ec2.amazonaws.com",)), ("AWS", ("*",))),
            True,
            id="several-kinds",
        ),
    ],
)
def test_principal_forms(principal: Any, entries: tuple, wildcard: bool) -> None:
    statement = only_statement(doc({**EC2_TRUST, "Principal": principal}), "trust")
    assert statement.principals == Principals(entries)
    assert statement.principals.is_wildcard is wildcard
    assert not statement.not_principal
    assert statement.resources == ()


def test_principals_accessors() -> None:
    principals = Principals((("Service", ("ec2.amazonaws.com",)), ("AWS", ("a", "b"))))
    assert principals.of("AWS") == ("a", "b")
    assert principals.of("Federated") == ()
    assert principals.all_values() == [("Service", "ec2.amazonaws.com"), ("AWS", "a"), ("AWS", "b")]


def test_not_principal_is_marked() -> None:
    statement = {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "sts:*"}
    parsed = only_statement(doc(statement), "trust")
    assert parsed.not_principal
    assert parsed.principals is not None
    assert parsed.principals.of("AWS") == ("arn:aws:iam::111122223333:root",)


def test_resource_policy_statement_may_hold_principal_and_resource_when_kind_is_any() -> None:
    statement = {**S3_READ, "Principal": "*"}
    parsed = only_statement(doc(statement), "any")
    assert parsed.principals is not None and parsed.principals.is_wildcard
    assert parsed.resources == ("arn:aws:s3:::bucket/*",)


# -- conditions ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("block", "expected"),
    [
        pytest.param(
            {"StringEquals": {"aws:SourceVpc": "vpc-1"}},
            [Condition("StringEquals", "StringEquals", None, False, "aws:SourceVpc", ("vpc-1",))],
            id="plain",
        ),
        pytest.param(
            {"StringLikeIfExists": {"s3:prefix": ["home/", "public/"]}},
            [Condition("StringLikeIfExists", "StringLike", None, True, "s3:prefix", ("home/", "public/"))],
            id="if-exists-and-list",
        ),
        pytest.param(
            {"ForAllValues:StringLike": {"aws:TagKeys": ["team*"]}},
            [Condition("ForAllValues:StringLike", "StringLike", "ForAllValues", False, "aws:TagKeys", ("team*",))],
            id="for-all-values",
        ),
        pytest.param(
            {"ForAnyValue:StringEqualsIfExists": {"aws:CalledVia": "cloudformation.amazonaws.com"}},
            [
                Condition(
                    "ForAnyValue:StringEqualsIfExists",
                    "StringEquals",
                    "ForAnyValue",
                    True,
                    "aws:CalledVia",
                    ("cloudformation.amazonaws.com",),
                )
            ],
            id="for-any-value-if-exists",
        ),
        pytest.param(
            {"Bool": {"aws:MultiFactorAuthPresent": True, "aws:SecureTransport": False}},
            [
                Condition("Bool", "Bool", None, False, "aws:MultiFactorAuthPresent", ("true",)),
                Condition("Bool", "Bool", None, False, "aws:SecureTransport", ("false",)),
            ],
            id="booleans-become-text",
        ),
        pytest.param(
            {"NumericLessThan": {"s3:max-keys": [10, 2.5]}},
            [Condition("NumericLessThan", "NumericLessThan", None, False, "s3:max-keys", ("10", "2.5"))],
            id="numbers-become-text",
        ),
        pytest.param({"Null": {}}, [], id="empty-operator-block"),
        pytest.param({}, [], id="empty-condition"),
        pytest.param(
            {"StringEquals": {"aws:SourceVpc": []}},
            [Condition("StringEquals", "StringEquals", None, False, "aws:SourceVpc", ())],
            id="empty-value-list",
        ),
    ],
)
def test_condition_forms(block: dict[str, Any], expected: list[Condition]) -> None:
    assert list(only_statement(with_condition(block)).conditions) == expected


# -- malformed documents: what and where --------------------------------------------------------
MALFORMED = [
    # (id, raw, kind, location, message fragment)
    ("not-json", "{nope", "any", "", "not valid JSON"),
    ("a-list", [S3_READ], "any", "", "JSON object, not a list"),
    ("a-string-value", '"just text"', "any", "", "JSON object, not a string"),
    ("a-number", 42, "any", "", "JSON object, not a number"),
    ("null", None, "any", "", "JSON object, not null"),
    ("unknown-top-level-key", doc(S3_READ, Statment=[]), "any", "", "unknown top-level element(s): Statment"),
    ("unsupported-version", doc(S3_READ, Version="2020-01-01"), "any", "Version", "unsupported policy version"),
    ("version-a-number", doc(S3_READ, Version=2012), "any", "Version", "unsupported policy version"),
    ("id-not-a-string", doc(S3_READ, Id=7), "any", "Id", "Id must be a string"),
    ("missing-statement", {"Version": "2012-10-17"}, "any", "", "has no Statement"),
    ("statement-a-number", {"Statement": 3}, "any", "Statement", "object or a list, not a number"),
    ("statement-a-string", {"Statement": "Allow"}, "any", "Statement", "object or a list, not a string"),
    ("statement-item-not-object", doc(S3_READ, "x"), "any", "Statement[1]", "a statement is a JSON object"),
    ("unknown-statement-key", doc({**S3_READ, "Actions": "s3:*"}), "any", "Statement[0]", "Actions"),
    ("effect-missing", doc({"Action": "s3:*", "Resource": "*"}), "any", "Statement[0].Effect", "Effect must be"),
    ("effect-lower-case", doc({**S3_READ, "Effect": "allow"}), "any", "Statement[0].Effect", "'allow'"),
    ("effect-a-list", doc({**S3_READ, "Effect": ["Allow"]}), "any", "Statement[0].Effect", "Effect must be"),
    ("sid-not-a-string", doc({**S3_READ, "Sid": 1}), "any", "Statement[0].Sid", "Sid must be a string"),
    (
        "action-and-notaction",
        doc({**S3_READ, "NotAction": "iam:*"}),
        "any",
        "Statement[0]",
        "Action or NotAction, not both",
    ),
    ("no-action", doc({"Effect": "Allow", "Resource": "*"}), "any", "Statement[0]", "neither Action nor NotAction"),
    (
        "action-without-service",
        doc(S3_READ, {**S3_READ, "Action": ["s3:GetObject", "GetObject"]}),
        "any",
        "Statement[1].Action[1]",
        "'GetObject' is not of the form service:action",
    ),
    ("action-string-without-service", doc({**S3_READ, "Action": "s3"}), "any", "Statement[0].Action[0]", "'s3'"),
    ("empty-action-string", doc({**S3_READ, "Action": ""}), "any", "Statement[0].Action[0]", "service:action"),
    (
        "non-string-in-action-list",
        doc({**S3_READ, "Action": ["s3:GetObject", 5]}),
        "any",
        "Statement[0].Action[1]",
        "expected a string, not a number",
    ),
    (
        "action-an-object",
        doc({**S3_READ, "Action": {"s3": "GetObject"}}),
        "any",
        "Statement[0].Action",
        "a string or a list of strings, not an object",
    ),
    ("empty-action-list", doc({**S3_READ, "Action": []}), "any", "Statement[0].Action", "Action is empty"),
    (
        "empty-notaction-list",
        doc({"Effect": "Allow", "NotAction": [], "Resource": "*"}),
        "any",
        "Statement[0].NotAction",
        "NotAction is empty",
    ),
    (
        "non-string-in-resource-list",
        doc({**S3_READ, "Resource": ["arn:x", None]}),
        "any",
        "Statement[0].Resource[1]",
        "expected a string, not null",
    ),
    ("empty-resource-list", doc({**S3_READ, "Resource": []}), "any", "Statement[0].Resource", "Resource is empty"),
    (
        "resource-and-notresource",
        doc({**S3_READ, "NotResource": "*"}),
        "any",
        "Statement[0]",
        "Resource or NotResource, not both",
    ),
    (
        "identity-without-resource",
        doc({"Effect": "Allow", "Action": "s3:*"}),
        "identity",
        "Statement[0]",
        "neither Resource nor NotResource",
    ),
    (
        "identity-with-principal",
        doc({**S3_READ, "Principal": "*"}),
        "identity",
        "Statement[0]",
        "identity-based policy has no Principal",
    ),
    (
        "identity-with-notprincipal",
        doc({**S3_READ, "NotPrincipal": "*"}),
        "identity",
        "Statement[0]",
        "identity-based policy has no Principal",
    ),
    (
        "trust-without-principal",
        doc({"Effect": "Allow", "Action": "sts:AssumeRole"}),
        "trust",
        "Statement[0]",
        "needs a Principal or NotPrincipal",
    ),
    (
        "trust-with-resource",
        doc({**EC2_TRUST, "Resource": "*"}),
        "trust",
        "Statement[0]",
        "trust policy statement has no Resource",
    ),
    (
        "principal-and-notprincipal",
        doc({**EC2_TRUST, "NotPrincipal": "*"}),
        "trust",
        "Statement[0]",
        "Principal or NotPrincipal, not both",
    ),
    (
        "unknown-principal-type",
        doc({**EC2_TRUST, "Principal": {"Services": "ec2.amazonaws.com"}}),
        "trust",
        "Statement[0].Principal",
        "unknown principal type 'Services'",
    ),
    ("principal-empty-map", doc({**EC2_TRUST, "Principal": {}}), "trust", "Statement[0].Principal", "a principal is"),
    ("principal-a-list", doc({**EC2_TRUST, "Principal": ["*"]}), "trust", "Statement[0].Principal", "a principal is"),
    ("principal-other-text", doc({**EC2_TRUST, "Principal": "ec2"}), "trust", "Statement[0].Principal", "a principal"),
    (
        "principal-value-not-string",
        doc({**EC2_TRUST, "Principal": {"AWS": ["111122223333", 111122223333]}}),
        "trust",
        "Statement[0].Principal.AWS[1]",
        "expected a string, not a number",
    ),
    (
        "principal-value-an-object",
        doc({**EC2_TRUST, "Principal": {"Service": {"name": "ec2"}}}),
        "trust",
        "Statement[0].Principal.Service",
        "not an object",
    ),
    (
        "condition-a-list",
        with_condition([{"StringEquals": {}}]),
        "any",
        "Statement[0].Condition",
        "Condition must be an object, not a list",
    ),
    (
        "condition-block-a-string",
        with_condition({"StringEquals": "aws:SourceVpc"}),
        "any",
        "Statement[0].Condition.StringEquals",
        "maps keys to values, not a string",
    ),
    (
        "unknown-set-operator",
        with_condition({"ForSomeValues:StringLike": {"aws:TagKeys": "x"}}),
        "any",
        "Statement[0].Condition.ForSomeValues:StringLike",
        "unknown set operator 'ForSomeValues'",
    ),
    (
        "empty-operator",
        with_condition({"IfExists": {"aws:SourceVpc": "vpc-1"}}),
        "any",
        "Statement[0].Condition.IfExists",
        "empty condition operator",
    ),
    (
        "condition-value-an-object",
        with_condition({"StringEquals": {"aws:SourceVpc": {"id": "vpc-1"}}}),
        "any",
        "Statement[0].Condition.StringEquals.aws:SourceVpc",
        "string, number or boolean, not an object",
    ),
    (
        "condition-value-null-in-list",
        with_condition({"StringEquals": {"aws:SourceVpc": ["vpc-1", None]}}),
        "any",
        "Statement[0].Condition.StringEquals.aws:SourceVpc",
        "not null",
    ),
]


@pytest.mark.parametrize(("raw", "kind", "location", "message"), [pytest.param(*c[1:], id=c[0]) for c in MALFORMED])
def test_malformed_document_is_a_located_policy_error(raw: Any, kind: str, location: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(raw, "", kind)  # type: ignore[arg-type]
    assert caught.value.location == location
    assert message in caught.value.message


@pytest.mark.parametrize(("raw", "kind", "location", "message"), [pytest.param(*c[1:], id=c[0]) for c in MALFORMED])
def test_errors_are_located_under_the_callers_prefix(raw: Any, kind: str, location: str, message: str) -> None:
    prefix = "RoleDetailList[3].RolePolicyList[0].PolicyDocument"
    with pytest.raises(PolicyError) as caught:
        parse_policy(raw, prefix, kind)  # type: ignore[arg-type]
    assert caught.value.location == (f"{prefix}.{location}" if location else prefix)
    assert str(caught.value) == f"{caught.value.location}: {caught.value.message}"


def test_a_url_encoded_malformed_document_is_located_like_a_dict() -> None:
    encoded = quote(json.dumps(doc(S3_READ, {**S3_READ, "Effect": "Permit"})))
    with pytest.raises(PolicyError) as caught:
        parse_policy(encoded, "Doc")
    assert caught.value.location == "Doc.Statement[1].Effect"


def test_malformed_notaction_entry_is_located_under_notaction() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(doc({"Effect": "Allow", "NotAction": ["iam:*", "s3"], "Resource": "*"}))
    assert caught.value.location == "Statement[0].NotAction[1]"


@pytest.mark.parametrize("version", [["2012-10-17"], {"v": 1}], ids=["list", "object"])
def test_a_version_of_the_wrong_type_is_a_policy_error(version: Any) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(doc(S3_READ, Version=version))
    assert caught.value.location == "Version"


def test_parsed_document_is_immutable() -> None:
    parsed = parse_policy(doc(S3_READ))
    assert isinstance(parsed, PolicyDocument)
    with pytest.raises(AttributeError):
        parsed.statements[0].effect = "Deny"  # type: ignore[misc]
