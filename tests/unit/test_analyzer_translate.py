"""Access Analyzer answers -> findings (pure): severities, evidence, remediation, the skipped-checks finding."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from helpers import ACCOUNT, make_role, policy

from rolewatch.analyzer.translate import (
    ACCESS_ANALYZER_CHECK,
    TRUST_POLICY_LABEL,
    VALIDATE_POLICY_RULES,
    access_not_granted_finding,
    external_access_finding,
    no_new_access_finding,
    public_trust_finding,
    render_path,
    skipped_finding,
    unused_permission_finding,
    unused_role_finding,
    validate_policy_findings,
)
from rolewatch.baseline import Profile
from rolewatch.model import Remediation, Severity
from rolewatch.rule_metadata import rule_catalogue
from rolewatch.rules.registry import live_check_findings, registered_rules

ANALYZER = f"arn:aws:access-analyzer:us-east-1:{ACCOUNT}:analyzer/rolewatch-external"
PROFILE = Profile(name="workload")
LINK = "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html"


def validation(finding_type: str, code: str, anchor: str, path: list[dict], line: int = 7) -> dict:
    """A ValidatePolicy finding as the API returns it."""
    return {
        "findingDetails": f"Details of {code}.",
        "findingType": finding_type,
        "issueCode": code,
        "learnMoreLink": f"{LINK}#access-analyzer-reference-policy-checks-{anchor}",
        "locations": [
            {
                "path": path,
                "span": {
                    "start": {"line": line, "column": 19, "offset": 141},
                    "end": {"line": line, "column": 22, "offset": 144},
                },
            }
        ],
    }


PASS_ROLE = validation(
    "SECURITY_WARNING",
    "PASS_ROLE_WITH_STAR_IN_RESOURCE",
    "security-warning-pass-role-with-star-in-resource",
    [{"value": "Statement"}, {"index": 0}, {"value": "Resource"}],
)


def test_the_analyzer_rules_are_the_catalogue_entries_marked_in_the_registry() -> None:
    emitted = live_check_findings(ACCESS_ANALYZER_CHECK)
    assert len(emitted) == 11 and emitted <= live_check_findings()
    assert not emitted & set(registered_rules())
    catalogue = rule_catalogue()
    assert {catalogue[r].category for r in emitted} == {"access-analyzer", "unused-access"}
    assert catalogue["access-analyzer-skipped"].severity is Severity.INFO


@pytest.mark.parametrize(
    ("finding_type", "code", "anchor", "rule", "severity"),
    [
        ("ERROR", "INVALID_ACTION", "error-invalid-action", "access-analyzer-policy-error", Severity.MEDIUM),
        (
            "SECURITY_WARNING",
            "PASS_ROLE_WITH_STAR_IN_RESOURCE",
            "security-warning-pass-role-with-star-in-resource",
            "access-analyzer-security-warning",
            Severity.HIGH,
        ),
        (
            "WARNING",
            "DEPRECATED_GLOBAL_CONDITION_KEY",
            "general-warning-deprecated-global-condition-key",
            "access-analyzer-policy-warning",
            Severity.LOW,
        ),
        (
            "SUGGESTION",
            "REDUNDANT_ACTION",
            "suggestion-redundant-action",
            "access-analyzer-policy-suggestion",
            Severity.INFO,
        ),
    ],
)
def test_each_validate_policy_finding_type_has_its_rule_and_severity(finding_type, code, anchor, rule, severity):
    role = make_role("app", policy({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}))
    path = [{"value": "Statement"}, {"index": 0}, {"value": "Action"}, {"index": 1}]
    [finding] = validate_policy_findings(role, PROFILE, "inline-0", [validation(finding_type, code, anchor, path)])
    assert VALIDATE_POLICY_RULES[finding_type] == rule
    assert (finding.rule, finding.severity, finding.category) == (rule, severity, "access-analyzer")
    assert f"issueCode={code}" in finding.evidence
    assert "location=Statement[0].Action[1] (line 7, column 19, offset 141)" in finding.evidence
    assert f"learnMoreLink={LINK}#access-analyzer-reference-policy-checks-{anchor}" in finding.evidence
    assert code in finding.title and "Statement[0].Action[1]" in finding.detail
    assert any("put-role-policy" in c for c in finding.remediation.cli)


def test_a_trust_policy_finding_is_fixed_with_update_assume_role_policy() -> None:
    role = make_role("app")
    [finding] = validate_policy_findings(role, PROFILE, TRUST_POLICY_LABEL, [PASS_ROLE])
    assert finding.detail.startswith("The trust policy of app")
    assert finding.remediation.cli and "update-assume-role-policy" in finding.remediation.cli[0]


def test_a_profile_severity_overrides_the_catalogue() -> None:
    profile = Profile(name="strict", severities=(("access-analyzer-security-warning", Severity.CRITICAL),))
    [finding] = validate_policy_findings(make_role("app"), profile, "inline-0", [PASS_ROLE])
    assert finding.severity is Severity.CRITICAL


def test_an_unknown_finding_type_is_reported_as_a_warning_not_dropped() -> None:
    newer = {**PASS_ROLE, "findingType": "SOMETHING_NEW"}
    [finding] = validate_policy_findings(make_role("app"), PROFILE, "inline-0", [newer])
    assert finding.rule == "access-analyzer-policy-warning"


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ([{"value": "Statement"}, {"index": 2}, {"value": "Condition"}, {"value": "StringEquals"}, {"key": "aws:x"}],
         "Statement[2].Condition.StringEquals.aws:x"),
        ([{"value": "Statement"}, {"index": 0}, {"value": "Action"}, {"substring": {"start": 3, "length": 4}}],
         "Statement[0].Action[chars 3..7]"),
        ([], "(document)"),
    ],
)  # fmt: skip
def test_render_path(path, text) -> None:
    assert render_path(path) == text


def test_check_access_not_granted_fail_names_the_granted_sensitive_actions() -> None:
    role = make_role("app", policy({"Effect": "Allow", "Action": "iam:*", "Resource": "*"}))
    response = {
        "result": "FAIL",
        "message": "The policy document grants access to perform one or more of the listed actions.",
        "reasons": [{"description": "One or more of the listed actions is granted.", "statementIndex": 0}],
    }
    finding = access_not_granted_finding(
        role, PROFILE, "inline-0", response, checked=["iam:CreateLoginProfile", "kms:ScheduleKeyDeletion"],
        granted=["iam:CreateLoginProfile"],
    )  # fmt: skip
    assert finding is not None
    assert (finding.rule, finding.severity) == ("access-analyzer-sensitive-access", Severity.HIGH)
    assert finding.actions == ("iam:CreateLoginProfile",)
    assert "Statement[0]: One or more of the listed actions is granted." in finding.evidence
    assert (
        access_not_granted_finding(role, PROFILE, "inline-0", {"result": "PASS"}, checked=["x:Y"], granted=[]) is None
    )


def test_check_no_new_access_fail_is_a_medium_finding() -> None:
    role = make_role("app")
    response = {
        "result": "FAIL",
        "message": "The modified permissions grant new access compared to your existing policy.",
        "reasons": [
            {"description": "New access in the statement with index: 1.", "statementIndex": 1, "statementId": "Ec2"}
        ],
    }
    finding = no_new_access_finding(role, PROFILE, "arn:aws:iam::aws:policy/AmazonEC2FullAccess", response)
    assert finding is not None and (finding.rule, finding.severity) == ("access-analyzer-new-access", Severity.MEDIUM)
    assert "Ec2: New access in the statement with index: 1." in finding.evidence
    assert no_new_access_finding(role, PROFILE, "x", {"result": "PASS", "message": "ok"}) is None


def test_public_trust_fail_is_critical_and_carries_a_trust_policy_without_the_wildcard() -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["*", f"arn:aws:iam::{ACCOUNT}:role/ci"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = make_role("app", trust=trust)
    response = {"result": "FAIL", "message": "The resource policy grants public access for the given resource type."}
    finding = public_trust_finding(role, PROFILE, response)
    assert finding is not None and (finding.rule, finding.severity) == (
        "access-analyzer-public-trust",
        Severity.CRITICAL,
    )
    assert finding.remediation.policy == {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/ci"}, "Action": "sts:AssumeRole"}
        ],
    }
    assert public_trust_finding(role, PROFILE, {"result": "PASS"}) is None


VENDOR_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
    ],
}


@pytest.mark.parametrize(("public", "severity"), [(False, Severity.HIGH), (True, Severity.CRITICAL)])
def test_external_access_removes_the_external_account_from_the_trust_policy(public, severity) -> None:
    role = make_role("vendor-monitoring", trust=VENDOR_TRUST)
    finding_summary = {"id": "8f0c2d4e-6a1b-4c3d-9e5f-0a1b2c3d4e5f"}
    details = {"action": ["sts:AssumeRole"], "condition": {}, "isPublic": public, "principal": {"AWS": "999988887777"}}
    finding = external_access_finding(role, PROFILE, ANALYZER, finding_summary, details)
    assert (finding.rule, finding.severity, finding.actions) == (
        "access-analyzer-external-access",
        severity,
        ("sts:AssumeRole",),
    )
    assert "principal=AWS:999988887777" in finding.evidence
    assert finding.remediation.policy == {"Version": "2012-10-17", "Statement": [VENDOR_TRUST["Statement"][1]]}
    assert any("update-findings" in c and "ARCHIVED" in c for c in finding.remediation.cli)


def test_unused_role_finding_states_when_it_was_last_used() -> None:
    role = make_role("old-batch")
    details = {"lastAccessed": datetime(2025, 11, 3, 8, 0, tzinfo=UTC)}
    finding = unused_role_finding(role, PROFILE, ANALYZER, {"id": "f-1"}, details)
    assert (finding.rule, finding.category, finding.severity) == (
        "access-analyzer-unused-role",
        "unused-access",
        Severity.LOW,
    )
    assert "2025-11-03T08:00:00+00:00" in finding.detail
    assert finding.remediation.cli[-1] == "aws iam delete-role --role-name old-batch"
    never = unused_role_finding(role, PROFILE, ANALYZER, {"id": "f-2"}, {})
    assert "lastAccessed=never" in never.evidence


def test_unused_permission_finding_carries_the_remediation_it_is_given() -> None:
    role = make_role("app")
    remediation = Remediation(
        summary="Replace it.", cli=("aws iam put-role-policy ...",), policy={"Version": "2012-10-17"}
    )
    details = {"serviceNamespace": "s3", "actions": [{"action": "PutObject"}]}
    finding = unused_permission_finding(
        role, PROFILE, ANALYZER, {"id": "f-3"}, details, unused_actions=["s3:PutObject"], remediation=remediation
    )
    assert (finding.rule, finding.category) == ("access-analyzer-unused-permission", "unused-access")
    assert finding.actions == ("s3:PutObject",)
    assert finding.remediation == remediation


def test_skipped_finding_is_one_info_finding_or_none() -> None:
    role = make_role("app")
    assert skipped_finding(role, []) is None
    finding = skipped_finding(role, ["ValidatePolicy: access denied", "ValidatePolicy: access denied", "throttled"])
    assert finding is not None
    assert (finding.rule, finding.severity) == ("access-analyzer-skipped", Severity.INFO)
    assert finding.evidence == ("ValidatePolicy: access denied", "throttled")
    assert "2 IAM Access Analyzer check(s) did not run" in finding.detail
