"""Organisation-wide trust (low, named, never public) and vacuous trust conditions (ForAllValues, IfExists)."""

from __future__ import annotations

from typing import Any

from helpers import findings, make_role, policy

from rolewatch.model import Severity

GITHUB = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"


def trust(**statement: Any) -> dict[str, Any]:
    return policy({"Effect": "Allow", "Action": "sts:AssumeRole", **statement})


def verdicts(document: dict[str, Any]) -> dict[str, Severity]:
    role = make_role("r", trust=document)
    return {f.rule: f.severity for f in findings(role) if f.category == "trust-policy"}


def test_org_wide_trust_is_low_named_and_never_public() -> None:
    document = trust(Principal={"AWS": "*"}, Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123def4"}})
    assert verdicts(document) == {"trust-organization-wide": Severity.LOW}
    [finding] = [f for f in findings(make_role("r", trust=document)) if f.rule == "trust-organization-wide"]
    assert "o-abc123def4" in finding.detail
    assert finding.remediation.policy is not None


def test_org_paths_trust_is_org_wide_too() -> None:
    paths = {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-abc123def4/r-ab12/ou-ab12-11111111/*"}}
    assert verdicts(trust(Principal={"AWS": "*"}, Condition=paths)) == {"trust-organization-wide": Severity.LOW}


def test_org_wide_trust_narrowed_to_named_roles_is_clean() -> None:
    conditions = {
        "StringEquals": {"aws:PrincipalOrgID": "o-abc123def4"},
        "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/deployer"},
    }
    assert verdicts(trust(Principal={"AWS": "*"}, Condition=conditions)) == {}


def test_for_all_values_on_the_org_key_is_a_bypass_not_an_org_pin() -> None:
    vacuous = {"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-abc123def4"}}
    found = verdicts(trust(Principal={"AWS": "*"}, Condition=vacuous))
    assert found["trust-vacuous-condition"] is Severity.HIGH
    assert found["trust-wildcard-principal"] is Severity.CRITICAL  # nothing pins the caller
    assert "trust-organization-wide" not in found


def test_for_all_values_on_an_oidc_subject_is_a_bypass() -> None:
    document = policy(
        {
            "Effect": "Allow",
            "Principal": {"Federated": GITHUB},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                "ForAllValues:StringLike": {
                    "token.actions.githubusercontent.com:sub": "repo:org/app:ref:refs/heads/main"
                },
            },
        }
    )
    assert verdicts(document)["trust-vacuous-condition"] is Severity.HIGH


def test_a_null_check_makes_the_key_mandatory_and_the_condition_sound() -> None:
    document = trust(
        Principal={"AWS": "arn:aws:iam::444455556666:root"},
        Condition={
            "ForAllValues:StringEquals": {"sts:ExternalId": "x-12345"},
            "Null": {"sts:ExternalId": "false"},
        },
    )
    assert "trust-vacuous-condition" not in verdicts(document)


def test_if_exists_on_the_external_id_of_a_named_account_is_medium() -> None:
    document = trust(
        Principal={"AWS": "arn:aws:iam::444455556666:root"},
        Condition={"StringEqualsIfExists": {"sts:ExternalId": "x-12345"}},
    )
    assert verdicts(document)["trust-vacuous-condition"] is Severity.MEDIUM


def test_plain_operators_are_not_vacuous() -> None:
    document = trust(
        Principal={"AWS": "arn:aws:iam::444455556666:root"}, Condition={"StringEquals": {"sts:ExternalId": "x-12345"}}
    )
    assert "trust-vacuous-condition" not in verdicts(document)
