"""Trust-policy rules: trust policy in, findings out, through the audit engine (no AWS)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from helpers import NOW

from rolewatch.audit import audit_roles
from rolewatch.model import Finding, RoleSnapshot, Severity

ACCOUNT = "111122223333"
FOREIGN = "444455556666"
DATA = Path(__file__).resolve().parents[2] / "../shared/data"
GITHUB = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
EKS_ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
EKS = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{EKS_ISSUER}"
SAML = f"arn:aws:iam::{ACCOUNT}:saml-provider/Okta"


def make_role(trust: Any, name: str = "app", account: str = ACCOUNT) -> RoleSnapshot:
    return RoleSnapshot(arn=f"arn:aws:iam::{account}:role/{name}", name=name, trust_policy=trust)


def findings(rule_id: str, trust: Any, **role: Any) -> list[Finding]:
    result = audit_roles([make_role(trust, **role)], rules=[rule_id], now=NOW)
    assert result.errors == ()  # a crashing rule would show up here, not as a silent pass
    return [f for f in result.findings if f.rule == rule_id]


def only(rule_id: str, trust: Any, **role: Any) -> Finding:
    produced = findings(rule_id, trust, **role)
    assert len(produced) == 1, produced
    return produced[0]


def trust(
    principal: Any,
    action: str | list[str] = "sts:AssumeRole",
    condition: dict | None = None,
    *,
    effect: str = "Allow",
    element: str = "Principal",
) -> dict:
    statement: dict[str, Any] = {"Effect": effect, element: principal, "Action": action}
    if condition is not None:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def statements(finding: Finding) -> list[dict]:
    assert finding.remediation.policy is not None
    return finding.remediation.policy["Statement"]


# -- trust-wildcard-principal ---------------------------------------------------------------------
WILDCARD = "trust-wildcard-principal"


@pytest.mark.parametrize(
    "principal",
    ["*", {"AWS": "*"}, {"AWS": [f"arn:aws:iam::{ACCOUNT}:role/ci", "*"]}],
    ids=["string", "aws-map", "in-a-list"],
)
def test_wildcard_principal_without_condition_is_critical(principal: Any) -> None:
    finding = only(WILDCARD, trust(principal))
    assert finding.severity is Severity.CRITICAL
    assert finding.evidence[:2] == ("AssumeRolePolicyDocument.Statement[0]", "Principal.AWS=*")
    assert "app" in finding.detail and "Principal.AWS=*" in finding.detail
    assert finding.remediation.cli == (
        "aws iam update-assume-role-policy --role-name app --policy-document file://app-trust.json",
    )
    fixed = statements(finding)[0]
    assert fixed["Principal"] == {"AWS": "*"}
    assert fixed["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "REPLACE_WITH_ORG_ID"}}


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
        {"StringEquals": {"AWS:PRINCIPALORGID": "o-a1b2c3d4e5"}},  # keys are case-insensitive
        {"StringLike": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},  # StringLike without a wildcard is exact
        {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"}},
        {"StringEquals": {"aws:PrincipalAccount": [ACCOUNT, FOREIGN]}},
        {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*"}},
        {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    ],
)
def test_wildcard_pinned_to_an_identity_is_not_reported(condition: dict) -> None:
    assert findings(WILDCARD, trust("*", condition=condition)) == []


@pytest.mark.parametrize(
    "condition",
    [
        {"StringLike": {"aws:PrincipalOrgID": "o-*"}},
        {"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
        {"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
        {"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ci"}},
        {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
    ],
    ids=["orgid-pattern", "if-exists", "for-all-values", "negated", "any-account-arn", "unrelated-key"],
)
def test_wildcard_with_conditions_that_do_not_pin_is_critical(condition: dict) -> None:
    assert only(WILDCARD, trust("*", condition=condition)).severity is Severity.CRITICAL


def test_wildcard_narrowed_only_by_external_id_is_high() -> None:
    finding = only(WILDCARD, trust({"AWS": "*"}, condition={"StringEquals": {"sts:ExternalId": "abc-123"}}))
    assert finding.severity is Severity.HIGH
    assert "sts:ExternalId" in finding.detail


def test_allow_with_not_principal_is_a_wildcard() -> None:
    finding = only(WILDCARD, trust({"AWS": f"arn:aws:iam::{FOREIGN}:root"}, element="NotPrincipal"))
    assert finding.severity is Severity.CRITICAL
    assert finding.evidence[1].startswith("NotPrincipal (AWS=arn:aws:iam::444455556666:root)")
    assert "NotPrincipal" not in statements(finding)[0]


def test_wildcard_in_a_deny_or_for_a_non_assume_action_is_not_reported() -> None:
    assert findings(WILDCARD, trust("*", effect="Deny")) == []
    assert findings(WILDCARD, trust("*", action="sts:TagSession")) == []
    assert only(WILDCARD, trust("*", action="sts:*")).actions == (
        "sts:AssumeRole",
        "sts:AssumeRoleWithWebIdentity",
        "sts:AssumeRoleWithSAML",
    )


def test_single_statement_object_and_url_encoded_document() -> None:
    document = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}}
    finding = only(WILDCARD, quote(json.dumps(document)))
    assert finding.evidence[0] == "AssumeRolePolicyDocument.Statement"
    assert isinstance(finding.remediation.policy, dict)
    assert len(statements(finding)) == 1


def test_no_trust_policy_or_an_invalid_one_produces_no_trust_finding() -> None:
    assert findings(WILDCARD, None) == []
    result = audit_roles(
        [make_role({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]})], rules=[WILDCARD], now=NOW
    )
    assert result.findings == ()
    assert len(result.errors) == 1  # the parse error, not a rule crash
    assert not result.errors[0].location.startswith("rule:")


# -- trust-cross-account-without-external-id ------------------------------------------------------
CROSS = "trust-cross-account-without-external-id"


@pytest.mark.parametrize(
    ("principal", "severity"),
    [
        ({"AWS": f"arn:aws:iam::{FOREIGN}:root"}, Severity.HIGH),
        ({"AWS": FOREIGN}, Severity.HIGH),
        # One named role: the other account's owner already narrows it; a sibling account needs no external id.
        ({"AWS": f"arn:aws:iam::{FOREIGN}:role/vendor"}, Severity.LOW),
    ],
    ids=["root-arn", "bare-id", "role"],
)
def test_foreign_principal_without_external_id(principal: dict, severity: Severity) -> None:
    finding = only(CROSS, trust(principal))
    assert finding.severity is severity
    assert FOREIGN in finding.detail and "app" in finding.detail
    assert finding.evidence == ("AssumeRolePolicyDocument.Statement[0]", f"Principal.AWS={principal['AWS']}")
    assert statements(finding)[0]["Condition"] == {"StringEquals": {"sts:ExternalId": "REPLACE_WITH_EXTERNAL_ID"}}


@pytest.mark.parametrize(
    ("condition", "severity"),
    [
        ({"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{FOREIGN}:role/auditor"}}, Severity.LOW),
        ({"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{FOREIGN}:role/auditor-*"}}, Severity.LOW),
        ({"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{FOREIGN}:role/*"}}, Severity.HIGH),
        ({"ArnEqualsIfExists": {"aws:PrincipalArn": f"arn:aws:iam::{FOREIGN}:role/auditor"}}, Severity.HIGH),
        ({"ArnNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{FOREIGN}:role/auditor"}}, Severity.HIGH),
    ],
    ids=["named-role", "named-prefix", "any-role", "if-exists", "negated"],
)
def test_a_whole_account_narrowed_to_named_roles_by_principal_arn_is_like_naming_them(
    condition: dict, severity: Severity
) -> None:
    """The member reader role's shape: the central account's root, narrowed by aws:PrincipalArn."""
    finding = only(CROSS, trust({"AWS": f"arn:aws:iam::{FOREIGN}:root"}, condition=condition))
    assert finding.severity is severity
    assert ("no external id is needed" in finding.detail) is (severity is Severity.LOW)


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"sts:ExternalId": "Unique-Id-From-Vendor"}},
        {"StringEquals": {"STS:EXTERNALID": "Unique-Id-From-Vendor"}},
        {"StringLike": {"sts:ExternalId": "Unique-Id-From-Vendor"}},
        {"ForAnyValue:StringEquals": {"sts:ExternalId": ["a", "b"]}},
    ],
)
def test_foreign_principal_with_external_id_passes(condition: dict) -> None:
    assert findings(CROSS, trust({"AWS": f"arn:aws:iam::{FOREIGN}:root"}, condition=condition)) == []


@pytest.mark.parametrize(
    "condition",
    [
        {"StringLike": {"sts:ExternalId": "*"}},
        {"StringEqualsIfExists": {"sts:ExternalId": "Unique-Id-From-Vendor"}},
        {"StringNotEquals": {"sts:ExternalId": "x"}},
    ],
    ids=["any-value", "if-exists", "negated"],
)
def test_external_id_conditions_that_accept_any_caller(condition: dict) -> None:
    assert len(findings(CROSS, trust({"AWS": FOREIGN}, condition=condition))) == 1


def test_own_account_and_unknown_principals_are_not_cross_account() -> None:
    assert findings(CROSS, trust({"AWS": [f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, "AROAJQABLZS4A3QDU576Q"]})) == []
    assert findings(CROSS, trust({"Service": "ec2.amazonaws.com"})) == []


def test_mixed_principals_split_so_only_the_foreign_one_needs_the_external_id() -> None:
    own = f"arn:aws:iam::{ACCOUNT}:role/ci"
    vendor = f"arn:aws:iam::{FOREIGN}:role/vendor"
    finding = only(CROSS, trust({"AWS": [own, vendor]}))
    rest, moved = statements(finding)
    assert rest["Principal"] == {"AWS": own} and "Condition" not in rest
    assert moved["Principal"] == {"AWS": vendor}
    assert moved["Condition"]["StringEquals"]["sts:ExternalId"] == "REPLACE_WITH_EXTERNAL_ID"


def test_foreign_people_with_mfa_are_low() -> None:
    condition = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    assert only(CROSS, trust({"AWS": FOREIGN}, condition=condition)).severity is Severity.LOW


# -- trust-account-root ---------------------------------------------------------------------------
ROOT = "trust-account-root"


def test_own_account_root_has_catalogue_severity() -> None:
    for principal in (f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT):
        finding = only(ROOT, trust({"AWS": principal}))
        assert finding.severity is Severity.MEDIUM
        assert finding.evidence == ("AssumeRolePolicyDocument.Statement[0]", f"Principal.AWS={principal}")
        condition = statements(finding)[0]["Condition"]
        assert condition == {
            "ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/REPLACE_WITH_TRUSTED_ROLE_NAME"}
        }


def test_foreign_account_root_is_high() -> None:
    finding = only(ROOT, trust({"AWS": FOREIGN}))
    assert finding.severity is Severity.HIGH
    assert FOREIGN in finding.detail


@pytest.mark.parametrize(
    "condition",
    [
        {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/ci"}},
        {"ArnLike": {"AWS:PrincipalARN": f"arn:aws:iam::{ACCOUNT}:role/ci-*"}},
        {"StringEquals": {"aws:PrincipalTag/team": "platform"}},
        {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        {"StringEquals": {"sts:ExternalId": "xyz"}},
    ],
)
def test_account_root_narrowed_by_a_condition(condition: dict) -> None:
    assert findings(ROOT, trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, condition=condition)) == []


@pytest.mark.parametrize(
    "condition",
    [
        {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*"}},
        {"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}},
        {"StringNotEquals": {"aws:PrincipalTag/team": "intern"}},
    ],
    ids=["every-role", "mfa-if-exists", "negated-tag"],
)
def test_account_root_with_conditions_that_do_not_narrow(condition: dict) -> None:
    assert len(findings(ROOT, trust({"AWS": ACCOUNT}, condition=condition))) == 1


def test_named_roles_are_not_account_roots() -> None:
    assert findings(ROOT, trust({"AWS": f"arn:aws:iam::{ACCOUNT}:role/ci"})) == []


@pytest.mark.corpus
def test_iam_vulnerable_permissive_role_trust_is_flagged() -> None:
    path = DATA / "iam-vulnerable.json"
    if not path.exists():
        pytest.skip(f"shared test data not found at {path}")
    entries = {e["name"]: e for e in json.loads(path.read_text())}
    entry = entries["privesc-permissive-role-trust"]
    finding = only(ROOT, entry["trust_policy"], name=entry["name"], account="111111111111")
    assert finding.severity is Severity.MEDIUM
    assert "Principal.AWS=arn:aws:iam::111111111111:root" in finding.evidence
    # The lab's roles that trust one named user or role are not account-root trusts.
    others = [e for e in entries.values() if e["trust_policy"] and e["name"] != entry["name"]]
    assert others
    for other in others:
        assert findings(ROOT, other["trust_policy"], name=other["name"], account="111111111111") == []


# -- trust-oidc-unscoped --------------------------------------------------------------------------
OIDC = "trust-oidc-unscoped"


def github_trust(condition: dict | None) -> dict:
    return trust({"Federated": GITHUB}, "sts:AssumeRoleWithWebIdentity", condition)


def github_condition(sub_operator: str, sub: str | list[str], aud: str | None = "sts.amazonaws.com") -> dict:
    condition: dict[str, dict] = {sub_operator: {"token.actions.githubusercontent.com:sub": sub}}
    if aud is not None:
        condition.setdefault("StringEquals", {})["token.actions.githubusercontent.com:aud"] = aud
    return condition


def test_github_docs_policy_with_any_ref_of_one_repo_is_low() -> None:
    # The trust policy of GitHub's "Configuring OpenID Connect in AWS" guide.
    finding = only(OIDC, github_trust(github_condition("StringLike", "repo:octo-org/octo-repo:*")))
    assert finding.severity is Severity.LOW
    fixed = statements(finding)[0]["Condition"]
    assert fixed["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": "repo:octo-org/octo-repo:ref:refs/heads/main",
    }
    assert "StringLike" not in fixed


@pytest.mark.parametrize(
    "condition",
    [
        github_condition("StringEquals", "repo:octo-org/octo-repo:ref:refs/heads/main"),
        github_condition("StringLike", "repo:octo-org/octo-repo:environment:prod"),  # no wildcard: exact
        github_condition("ForAnyValue:StringEquals", "repo:octo-org/octo-repo:ref:refs/heads/main"),
        {
            "StringEquals": {
                "Token.Actions.GitHubUserContent.com:AUD": "sts.amazonaws.com",
                "TOKEN.ACTIONS.GITHUBUSERCONTENT.COM:sub": "repo:octo-org/octo-repo:ref:refs/heads/main",
            }
        },
        # Conditions are AND-ed: the exact one wins over the wide one.
        {
            "StringLike": {"token.actions.githubusercontent.com:sub": "repo:octo-org/*"},
            "StringEquals": {
                "token.actions.githubusercontent.com:sub": "repo:octo-org/octo-repo:ref:refs/heads/main",
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            },
        },
    ],
    ids=["exact", "stringlike-without-wildcard", "for-any-value", "keys-in-other-case", "and-ed"],
)
def test_github_pinned_to_one_branch_passes(condition: dict) -> None:
    assert findings(OIDC, github_trust(condition)) == []


@pytest.mark.parametrize(
    ("condition", "severity"),
    [
        (None, Severity.CRITICAL),
        ({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}, Severity.CRITICAL),
        (github_condition("StringLike", "*"), Severity.CRITICAL),
        (github_condition("StringLike", "repo:*"), Severity.CRITICAL),
        (github_condition("StringLike", "repo:octo*"), Severity.CRITICAL),
        (github_condition("StringLike", "repo:octo-org/*"), Severity.HIGH),
        (github_condition("StringLike", "repo:octo-org/octo-repo*"), Severity.HIGH),
        (github_condition("StringLike", ["repo:octo-org/a:ref:refs/heads/main", "repo:octo-org/*"]), Severity.HIGH),
        (github_condition("StringLikeIfExists", "repo:octo-org/octo-repo:ref:refs/heads/main"), Severity.CRITICAL),
        (
            github_condition("ForAllValues:StringEquals", "repo:octo-org/octo-repo:ref:refs/heads/main"),
            Severity.CRITICAL,
        ),
        (github_condition("StringNotEquals", "repo:evil/x:ref:refs/heads/main"), Severity.CRITICAL),
        (github_condition("StringEquals", "repo:octo-org/octo-repo:ref:refs/heads/main", aud=None), Severity.MEDIUM),
        (github_condition("StringEquals", "repo:octo-org/octo-repo:ref:refs/heads/main", aud="other"), Severity.LOW),
    ],
    ids=[
        "no-condition",
        "aud-only",
        "star",
        "repo-star",
        "owner-prefix",
        "every-repo-of-owner",
        "repo-prefix",
        "list-widest-counts",
        "if-exists",
        "for-all-values",
        "negated",
        "no-aud",
        "other-aud",
    ],
)
def test_github_unscoped(condition: dict | None, severity: Severity) -> None:
    finding = only(OIDC, github_trust(condition))
    assert finding.severity is severity
    assert finding.evidence[:2] == ("AssumeRolePolicyDocument.Statement[0]", f"Principal.Federated={GITHUB}")
    assert "token.actions.githubusercontent.com" in finding.detail


def test_github_fix_keeps_the_owner_it_knows() -> None:
    finding = only(OIDC, github_trust(github_condition("StringLike", "repo:octo-org/*")))
    sub = statements(finding)[0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert sub == "repo:octo-org/REPLACE_WITH_REPO:ref:refs/heads/main"
    finding = only(OIDC, github_trust(None))
    sub = statements(finding)[0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert sub == "repo:REPLACE_WITH_ORG/REPLACE_WITH_REPO:ref:refs/heads/main"


def eks_trust(condition: dict | None) -> dict:
    return trust({"Federated": EKS}, "sts:AssumeRoleWithWebIdentity", condition)


def test_eks_irsa_docs_policy_passes() -> None:
    # The trust policy of the EKS "Assign IAM roles to Kubernetes service accounts" guide.
    condition = {
        "StringEquals": {
            f"{EKS_ISSUER}:sub": "system:serviceaccount:default:my-service-account",
            f"{EKS_ISSUER}:aud": "sts.amazonaws.com",
        }
    }
    assert findings(OIDC, eks_trust(condition)) == []


@pytest.mark.parametrize(
    ("condition", "severity"),
    [
        ({"StringEquals": {f"{EKS_ISSUER}:aud": "sts.amazonaws.com"}}, Severity.HIGH),
        (
            {"StringLike": {f"{EKS_ISSUER}:sub": "system:serviceaccount:*", f"{EKS_ISSUER}:aud": "sts.amazonaws.com"}},
            Severity.HIGH,
        ),
        (
            {
                "StringLike": {
                    f"{EKS_ISSUER}:sub": "system:serviceaccount:default:*",
                    f"{EKS_ISSUER}:aud": "sts.amazonaws.com",
                }
            },
            Severity.MEDIUM,
        ),
        ({"StringEquals": {f"{EKS_ISSUER}:sub": "system:serviceaccount:default:app"}}, Severity.LOW),
    ],
    ids=["no-sub", "any-namespace", "any-account-of-namespace", "no-aud"],
)
def test_eks_irsa_unscoped(condition: dict, severity: Severity) -> None:
    finding = only(OIDC, eks_trust(condition))
    assert finding.severity is severity


def test_eks_fix_keeps_the_namespace() -> None:
    condition = {"StringLike": {f"{EKS_ISSUER}:sub": "system:serviceaccount:payments:*"}}
    fixed = statements(only(OIDC, eks_trust(condition)))[0]["Condition"]
    assert fixed == {
        "StringEquals": {
            f"{EKS_ISSUER}:aud": "sts.amazonaws.com",
            f"{EKS_ISSUER}:sub": "system:serviceaccount:payments:REPLACE_WITH_SERVICE_ACCOUNT",
        }
    }


def test_gitlab_and_terraform_subjects() -> None:
    gitlab = f"arn:aws:iam::{ACCOUNT}:oidc-provider/gitlab.com"
    pinned = {
        "StringEquals": {
            "gitlab.com:aud": "https://gitlab.com",
            "gitlab.com:sub": "project_path:grp/app:ref_type:branch:ref:main",
        }
    }
    wide = {
        "StringEquals": {"gitlab.com:aud": "https://gitlab.com"},
        "StringLike": {"gitlab.com:sub": "project_path:grp/*"},
    }
    assert findings(OIDC, trust({"Federated": gitlab}, "sts:AssumeRoleWithWebIdentity", pinned)) == []
    assert only(OIDC, trust({"Federated": gitlab}, "sts:AssumeRoleWithWebIdentity", wide)).severity is Severity.HIGH

    tfc = f"arn:aws:iam::{ACCOUNT}:oidc-provider/app.terraform.io"
    documented = {  # HashiCorp's dynamic-credentials guide
        "StringEquals": {"app.terraform.io:aud": "aws.workload.identity"},
        "StringLike": {"app.terraform.io:sub": "organization:my-org:project:my-project:workspace:my-ws:run_phase:*"},
    }
    any_project = {
        "StringEquals": {"app.terraform.io:aud": "aws.workload.identity"},
        "StringLike": {"app.terraform.io:sub": "organization:my-org:project:*"},
    }
    assert findings(OIDC, trust({"Federated": tfc}, "sts:AssumeRoleWithWebIdentity", documented)) == []
    finding = only(OIDC, trust({"Federated": tfc}, "sts:AssumeRoleWithWebIdentity", any_project))
    assert finding.severity is Severity.HIGH
    expected = "organization:my-org:project:REPLACE_WITH_PROJECT:workspace:REPLACE_WITH_WORKSPACE:run_phase:*"
    assert statements(finding)[0]["Condition"]["StringLike"] == {"app.terraform.io:sub": expected}


def test_cognito_identity_pool() -> None:
    # The trust policy of the Cognito identity pools guide.
    documented = {
        "StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:12345678-abcd-abcd-abcd-123456790ab"},
        "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
    }
    principal = {"Federated": "cognito-identity.amazonaws.com"}
    assert findings(OIDC, trust(principal, "sts:AssumeRoleWithWebIdentity", documented)) == []
    no_pool = {"ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}
    finding = only(OIDC, trust(principal, "sts:AssumeRoleWithWebIdentity", no_pool))
    assert finding.severity is Severity.CRITICAL
    fixed = statements(finding)[0]["Condition"]
    assert fixed["StringEquals"] == {"cognito-identity.amazonaws.com:aud": "REPLACE_WITH_IDENTITY_POOL_ID"}
    assert fixed["ForAnyValue:StringLike"] == {"cognito-identity.amazonaws.com:amr": "authenticated"}


def test_other_issuers_need_aud_and_sub() -> None:
    principal = {"Federated": "accounts.google.com"}
    both = {
        "StringEquals": {
            "accounts.google.com:aud": "1234.apps.googleusercontent.com",
            "accounts.google.com:sub": "1099",
        }
    }
    aud_only = {"StringEquals": {"accounts.google.com:aud": "1234.apps.googleusercontent.com"}}
    assert findings(OIDC, trust(principal, "sts:AssumeRoleWithWebIdentity", both)) == []
    assert only(OIDC, trust(principal, "sts:AssumeRoleWithWebIdentity", aud_only)).severity is Severity.MEDIUM
    assert only(OIDC, trust(principal, "sts:AssumeRoleWithWebIdentity")).severity is Severity.HIGH


def test_oidc_principal_without_web_identity_action_is_ignored() -> None:
    assert findings(OIDC, trust({"Federated": GITHUB}, "sts:TagSession")) == []


# -- trust-saml-without-audience ------------------------------------------------------------------
SAML_RULE = "trust-saml-without-audience"


def test_saml_without_audience() -> None:
    finding = only(SAML_RULE, trust({"Federated": SAML}, "sts:AssumeRoleWithSAML"))
    assert finding.severity is Severity.MEDIUM
    assert finding.evidence == ("AssumeRolePolicyDocument.Statement[0]", f"Principal.Federated={SAML}")
    assert statements(finding)[0]["Condition"] == {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}


@pytest.mark.parametrize(
    ("condition", "reported"),
    [
        ({"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}, False),
        ({"StringEquals": {"saml:AUD": "https://signin.aws.amazon.com/saml"}}, False),
        ({"StringLike": {"SAML:aud": "*"}}, True),
        ({"StringEqualsIfExists": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}, True),
    ],
    ids=["documented", "other-case", "wildcard", "if-exists"],
)
def test_saml_audience_conditions(condition: dict, reported: bool) -> None:
    produced = findings(SAML_RULE, trust({"Federated": SAML}, ["sts:AssumeRoleWithSAML", "sts:TagSession"], condition))
    assert bool(produced) is reported


# -- trust-service-confused-deputy ----------------------------------------------------------------
DEPUTY = "trust-service-confused-deputy"


@pytest.mark.parametrize(
    "service",
    ["sns.amazonaws.com", ["backup.amazonaws.com"], "logs.eu-west-1.amazonaws.com", "delivery.logs.amazonaws.com"],
)
def test_cross_customer_service_without_source_condition(service: str | list[str]) -> None:
    finding = only(DEPUTY, trust({"Service": service}))
    assert finding.severity is Severity.LOW
    assert statements(finding)[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


@pytest.mark.parametrize(
    "service",
    [
        "ec2.amazonaws.com",
        "lambda.amazonaws.com",
        ["ecs-tasks.amazonaws.com", "eks.amazonaws.com"],
        "codebuild.amazonaws.com",
        "unknown.amazonaws.com",
    ],
)
def test_execution_role_and_unlisted_services_are_exempt(service: str | list[str]) -> None:
    assert findings(DEPUTY, trust({"Service": service})) == []


@pytest.mark.parametrize(
    ("condition", "reported"),
    [
        ({"StringEquals": {"aws:SourceAccount": ACCOUNT}}, False),
        ({"ArnLike": {"AWS:SourceArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:*"}}, False),
        ({"StringEquals": {"aws:SourceOrgID": "o-a1b2c3d4e5"}}, False),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}}, True),
        ({"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}, True),
        ({"StringLike": {"aws:SourceAccount": "*"}}, True),
    ],
    ids=["account", "arn", "org", "any-account-arn", "if-exists", "any-account"],
)
def test_source_conditions(condition: dict, reported: bool) -> None:
    assert bool(findings(DEPUTY, trust({"Service": "sns.amazonaws.com"}, condition=condition))) is reported


def test_mixed_services_split_so_ec2_keeps_working() -> None:
    finding = only(DEPUTY, trust({"Service": ["ec2.amazonaws.com", "sns.amazonaws.com"]}))
    assert finding.evidence == ("AssumeRolePolicyDocument.Statement[0]", "Principal.Service=sns.amazonaws.com")
    ec2, sns = statements(finding)
    assert ec2["Principal"] == {"Service": "ec2.amazonaws.com"} and "Condition" not in ec2
    assert sns["Principal"] == {"Service": "sns.amazonaws.com"}
    assert sns["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
