"""The OIDC provider table (rules/trust/oidc_providers.yaml): loaded, validated, matched by issuer."""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import pytest
import yaml

from rolewatch.model import Severity
from rolewatch.rules.trust.oidc_providers import PROVIDERS_FILE, oidc_scheme, parse_providers


def _packaged() -> dict[str, Any]:
    return yaml.safe_load(resources.files("rolewatch.rules.trust").joinpath(PROVIDERS_FILE).read_text())


@pytest.mark.parametrize(
    ("issuer", "provider", "audience_claim", "expected_audience"),
    [
        ("token.actions.githubusercontent.com", "GitHub Actions", "aud", "sts.amazonaws.com"),
        ("TOKEN.actions.githubusercontent.com/my-enterprise", "GitHub Actions", "aud", "sts.amazonaws.com"),
        ("token.actions.githubusercontent.com.evil.example", "OIDC", "aud", None),
        ("oidc.eks.eu-west-1.amazonaws.com/id/ABC123", "EKS (IRSA)", "aud", "sts.amazonaws.com"),
        ("oidc.eks.cn-north-1.amazonaws.com.cn/id/ABC123", "EKS (IRSA)", "aud", "sts.amazonaws.com"),
        ("gitlab.com", "GitLab CI", "aud", None),
        ("app.terraform.io", "HCP Terraform", "aud", None),
        ("cognito-identity.amazonaws.com", "Amazon Cognito", "aud", None),
        ("graph.facebook.com", "OIDC", "app_id", None),
        ("www.amazon.com", "OIDC", "app_id", None),
        ("login.example.com", "OIDC", "aud", None),
    ],
)
def test_issuers_map_to_their_provider(issuer, provider, audience_claim, expected_audience):
    scheme = oidc_scheme(issuer)
    assert (scheme.provider, scheme.audience_claim, scheme.expected_audience) == (
        provider,
        audience_claim,
        expected_audience,
    )


def test_the_table_carries_each_providers_grading():
    github = oidc_scheme("token.actions.githubusercontent.com")
    assert (github.audience_missing, github.subject_missing) == (Severity.MEDIUM, Severity.CRITICAL)
    assert github.subject_risk("repo:org/") is Severity.HIGH
    assert github.audience_noun == "repositories or workflows"
    cognito = oidc_scheme("cognito-identity.amazonaws.com")
    assert (cognito.subject_claim, cognito.subject_operator) == ("amr", "ForAnyValue:StringLike")
    assert cognito.suggest_subject("anything") == "authenticated"
    assert oidc_scheme("login.example.com").audience_noun == "clients or subjects"


def _broken(edit) -> dict[str, Any]:
    raw = copy.deepcopy(_packaged())
    edit(raw)
    return raw


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda raw: raw.pop("generic"), "expected a mapping with `providers`"),
        (lambda raw: raw["providers"][0].update(subject_grammar="bitbucket"), "unknown subject_grammar"),
        (lambda raw: raw["providers"][0].pop("subject_missing"), "missing subject_missing"),
        (lambda raw: raw["providers"][0].update(audiense_noun="x"), "unknown field"),
        (lambda raw: raw["providers"][2].pop("issuers"), "names no issuer"),
        (lambda raw: raw["generic"].update(issuers=["x"]), "unknown field"),
        (lambda raw: raw["providers"][0].update(audience_missing="dire"), "severity"),
    ],
    ids=[
        "no-generic",
        "unknown-grammar",
        "missing-field",
        "misspelt-field",
        "no-issuer",
        "generic-issuer",
        "bad-severity",
    ],
)
def test_a_broken_table_is_refused(edit, message):
    with pytest.raises(ValueError, match=message):
        parse_providers(_broken(edit))
