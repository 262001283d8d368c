"""Classification of trust-policy principals: every form IAM accepts in Principal."""

from __future__ import annotations

import pytest

from rolewatch.principals import (
    PrincipalClass,
    classify_principal,
    is_ec2_service,
    partition_of_arn,
    service_prefix,
)


@pytest.mark.parametrize(
    ("value", "cls", "account", "name"),
    [
        ("*", PrincipalClass.WILDCARD, None, None),
        ("arn:aws:iam::123456789012:root", PrincipalClass.ACCOUNT_ROOT, "123456789012", None),
        ("123456789012", PrincipalClass.ACCOUNT_ROOT, "123456789012", None),
        ("arn:aws:iam::123456789012:role/path/deploy", PrincipalClass.ROLE, "123456789012", "deploy"),
        ("arn:aws:iam::123456789012:user/alice", PrincipalClass.USER, "123456789012", "alice"),
        ("arn:aws:sts::123456789012:assumed-role/admin/alice", PrincipalClass.SESSION, "123456789012", "admin/alice"),
        ("AROAJQABLZS4A3QDU576Q", PrincipalClass.UNIQUE_ID, None, None),
        ("not-a-principal", PrincipalClass.UNKNOWN, None, None),
    ],
)
def test_aws_principals(value: str, cls: PrincipalClass, account: str | None, name: str | None) -> None:
    principal = classify_principal("AWS", value)
    assert (principal.cls, principal.account, principal.name) == (cls, account, name)
    assert principal.label == f"Principal.AWS={value}"


def test_partition_is_read_from_the_arn() -> None:
    assert classify_principal("AWS", "arn:aws-cn:iam::123456789012:root").partition == "aws-cn"
    assert classify_principal("AWS", "arn:aws-us-gov:iam::123456789012:role/x").partition == "aws-us-gov"


@pytest.mark.parametrize(
    ("value", "cls", "name"),
    [
        (
            "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
            PrincipalClass.OIDC_PROVIDER,
            "token.actions.githubusercontent.com",
        ),
        (
            "arn:aws:iam::111122223333:oidc-provider/oidc.eks.region-code.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE",
            PrincipalClass.OIDC_PROVIDER,
            "oidc.eks.region-code.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE",
        ),
        ("arn:aws:iam::123456789012:saml-provider/Okta", PrincipalClass.SAML_PROVIDER, "Okta"),
        ("cognito-identity.amazonaws.com", PrincipalClass.WEB_IDENTITY, "cognito-identity.amazonaws.com"),
        ("accounts.google.com", PrincipalClass.WEB_IDENTITY, "accounts.google.com"),
        ("arn:aws:iam::123456789012:user/alice", PrincipalClass.UNKNOWN, None),
    ],
)
def test_federated_principals(value: str, cls: PrincipalClass, name: str | None) -> None:
    principal = classify_principal("Federated", value)
    assert (principal.cls, principal.name) == (cls, name)


@pytest.mark.parametrize(
    ("service", "prefix"),
    [
        ("sns.amazonaws.com", "sns"),
        ("SNS.AmazonAWS.com", "sns"),
        ("logs.eu-west-1.amazonaws.com", "logs"),
        ("delivery.logs.amazonaws.com", "delivery.logs"),
        ("ec2.amazonaws.com.cn", "ec2"),
        ("pods.eks.amazonaws.com", "pods.eks"),
        ("states.us-gov-west-1.amazonaws.com", "states"),
    ],
)
def test_service_prefix(service: str, prefix: str) -> None:
    principal = classify_principal("Service", service)
    assert principal.cls is PrincipalClass.SERVICE
    assert service_prefix(service) == prefix == principal.name


def test_ec2_service_in_both_partitions() -> None:
    assert is_ec2_service("ec2.amazonaws.com")
    assert is_ec2_service("EC2.amazonaws.com.cn")
    assert not is_ec2_service("ec2messages.amazonaws.com")


def test_arn_parts() -> None:
    assert partition_of_arn("arn:aws-cn:iam::123456789012:role/x") == "aws-cn"
    assert partition_of_arn("garbage") == "aws"
