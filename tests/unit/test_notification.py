"""The SNS notification of an audit: subject, body, filterable attributes and their size. Pure."""

from __future__ import annotations

import json

from rolewatch.model import AuditResult, Finding, Remediation, Severity
from rolewatch.report.notification import Notification, attribute_text, attribute_type, compose, fit_subject

ROLE = "arn:aws:iam::123456789012:role/ops-admin"


def finding(severity: Severity, rule: str, category: str) -> Finding:
    return Finding(rule, category, severity, ROLE, f"title of {rule}", "detail", Remediation("fix it", ("aws iam x",)))


RESULT = AuditResult(
    findings=(
        finding(Severity.HIGH, "trust-account-root", "trust-policy"),
        finding(Severity.CRITICAL, "admin-access", "admin-access"),
        finding(Severity.MEDIUM, "trust-cross-account-without-external-id", "trust-policy"),
        finding(Severity.LOW, "baseline-missing-tags", "baseline"),
    ),
    roles_audited=1,
)


def test_category_and_rule_list_every_published_value_worst_first() -> None:
    note = compose(RESULT, account="123456789012", min_severity=Severity.MEDIUM)
    assert note is not None
    assert note.attributes == {
        "account": "123456789012",
        "severity": "critical",
        "category": ("admin-access", "trust-policy"),
        "rule": ("admin-access", "trust-account-root", "trust-cross-account-without-external-id"),
    }
    # A subscriber filtering on trust-policy gets this report although admin-access leads it.
    assert attribute_type(note.attributes["category"]) == "String.Array"
    assert json.loads(attribute_text(note.attributes["category"])) == ["admin-access", "trust-policy"]
    assert attribute_type(note.attributes["severity"]) == "String"


def test_the_body_has_the_header_then_each_finding_with_its_fix() -> None:
    note = compose(RESULT, account="1", header=["Who: alice", "What changed: x"], min_severity=Severity.MEDIUM)
    assert note is not None
    assert note.message.startswith("Who: alice\nWhat changed: x\n")
    assert note.message.count("Fix: fix it") == 3 and "$ aws iam x" in note.message
    assert "baseline-missing-tags" not in note.message  # below the threshold
    assert note.subject == "[rolewatch] CRITICAL ops-admin: title of admin-access (+2 more)"


def test_a_notice_is_published_only_when_info_is_wanted() -> None:
    empty = AuditResult(findings=())
    notice = "gone-role deleted before audit (AttachRolePolicy)"
    assert compose(empty, account="1", min_severity=Severity.MEDIUM, notice=notice) is None
    note = compose(empty, account="1", min_severity=Severity.INFO, notice=notice)
    assert note is not None
    assert note.subject == f"[rolewatch] INFO {notice}"
    assert note.attributes["severity"] == "info" and note.attributes["category"] == ("none",)


def test_size_counts_bytes_of_body_and_every_attribute() -> None:
    note = Notification(subject="s", message="é", attributes={"a": "x", "list": ("y", "z")})
    expected = len("é".encode()) + len("a") + len("String") + 1 + len("list") + len("String.Array") + len('["y", "z"]')
    assert note.size_in_bytes() == expected


def test_a_long_subject_keeps_its_tail_whole() -> None:
    title = "Privilege escalation: " + "PassExistingRoleToNewCloudFormationStackSet" * 3
    subject = fit_subject(f"[rolewatch] HIGH some-role: {title}", " (+12 more)")
    assert len(subject) <= 99 and subject.endswith("... (+12 more)")
    assert subject.startswith("[rolewatch] HIGH some-role: Privilege escalation: ")
    assert fit_subject("short", " (incomplete)") == "short (incomplete)"


def test_the_message_shows_a_long_corrected_policy_whole() -> None:
    """The terminal report leaves long policies to --format json; the SNS message is all a reader has."""
    statements = [
        {"Effect": "Allow", "Action": [f"s3:GetObject{i}"], "Resource": [f"arn:aws:s3:::bucket-{i}/*"]}
        for i in range(30)
    ]
    policy = {"Version": "2012-10-17", "Statement": statements}
    long_fix = Finding(
        "admin-access", "admin-access", Severity.HIGH, ROLE, "t", "d", Remediation("fix", ("aws iam x",), policy)
    )
    note = compose(AuditResult(findings=(long_fix,), roles_audited=1), account="1", min_severity=Severity.LOW)
    assert note is not None
    assert "too long to show" not in note.message
    assert all(f"arn:aws:s3:::bucket-{i}/*" in note.message for i in range(30))
