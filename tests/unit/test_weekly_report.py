"""The weekly report's pure parts: week-over-week diff by fingerprint, the SNS summary, the HTML page."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from bs4 import BeautifulSoup

from rolewatch.model import AuditError, AuditResult, Finding, Remediation, Severity
from rolewatch.report import build_report
from rolewatch.report.render_html import HtmlContext, render_html
from rolewatch.weekly.diff import compare
from rolewatch.weekly.summary import (
    ReportLinks,
    build_weekly_summary,
    compose_weekly_notification,
    render_summary_text,
    worst_roles,
)

ACCOUNT = "111122223333"
WHEN = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
EVIL = "<script>alert(1)</script>"
# IAM names cannot hold "/" (it separates the path), so the hostile role name opens a script and no more.
EVIL_ROLE = "<script>alert('rolewatch')"


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def finding(
    rule: str, role: str, severity: Severity = Severity.HIGH, *, evidence: tuple[str, ...] = (), **extra: object
) -> Finding:
    return Finding(
        rule=rule,
        category=str(extra.pop("category", "privilege-escalation")),
        severity=severity,
        resource=role_arn(role),
        title=str(extra.pop("title", f"{rule} title")),
        detail=str(extra.pop("detail", f"{role} has {rule}")),
        remediation=extra.pop("remediation", Remediation("fix it", ("aws iam do-something",))),  # type: ignore[arg-type]
        evidence=evidence,
        **extra,  # type: ignore[arg-type]
    )


def result(*findings: Finding, roles: int = 5, errors: tuple[AuditError, ...] = ()) -> AuditResult:
    return AuditResult(findings=tuple(findings), roles_audited=roles, errors=errors)


# -- diff --------------------------------------------------------------------------------------------


def previous_report(*findings: Finding) -> dict:
    return build_report(result(*findings), generated_at=datetime(2026, 11, 23, tzinfo=UTC))


def test_the_first_run_has_nothing_to_compare() -> None:
    diff = compare([finding("admin-access", "a")], None)
    assert diff.first_run and diff.new == () and diff.resolved == ()


def test_new_resolved_and_unchanged_are_told_apart_by_fingerprint() -> None:
    kept = finding("admin-access", "a", Severity.CRITICAL)
    gone = finding("trust-account-root", "b", category="trust-policy")
    fresh = finding("service-wildcard", "c", Severity.MEDIUM, category="service-wildcard")
    diff = compare([kept, fresh], previous_report(kept, gone), previous_date="2026-11-23")
    assert [f.fingerprint for f in diff.new] == [fresh.fingerprint]
    assert [r["fingerprint"] for r in diff.resolved] == [gone.fingerprint]
    assert diff.unchanged == 1 and diff.previous_date == "2026-11-23"
    assert diff.to_dict()["counts"] == {"new": 1, "resolved": 1, "suppressed": 0, "unchanged": 1, "not_compared": 0}


def test_changed_evidence_is_a_new_finding_and_the_old_one_resolved() -> None:
    before = finding("privilege-escalation", "a", evidence=("method: PassRole+RunInstances",))
    after = finding("privilege-escalation", "a", evidence=("method: CreatePolicyVersion",))
    diff = compare([after], previous_report(before))
    assert len(diff.new) == 1 and len(diff.resolved) == 1


def test_a_finding_suppressed_since_last_week_is_not_called_resolved() -> None:
    before = finding("admin-access", "a")
    now = Finding(**{**before.__dict__, "suppressed_by": "break glass (until 2027-01-01)"})
    diff = compare([now], previous_report(before))
    assert diff.resolved == () and [r["fingerprint"] for r in diff.suppressed] == [before.fingerprint]


def test_resolved_findings_are_listed_worst_first_in_the_one_severity_order() -> None:
    gone = [
        finding("admin-access", name, severity) for name, severity in (("l", Severity.LOW), ("c", Severity.CRITICAL))
    ]
    report = previous_report(*gone, finding("admin-access", "u", Severity.INFO))
    next(r for r in report["findings"] if r["resource"] == role_arn("u"))["severity"] = "urgent"  # no longer a severity
    diff = compare([], report)
    assert [r["resource"] for r in diff.resolved] == [role_arn("c"), role_arn("l"), role_arn("u")]
    assert [Severity.rank_of(s.value) for s in Severity] == [4, 3, 2, 1, 0]
    assert Severity.rank_of("urgent") == Severity.rank_of(None) == -1


def test_findings_on_roles_not_read_are_not_compared_instead_of_resolved() -> None:
    a, b = finding("admin-access", "a"), finding("admin-access", "b")
    diff = compare([a], previous_report(a, b), roles_read={role_arn("a")})
    assert diff.resolved == () and diff.not_compared == 1


def test_unusable_entries_of_a_previous_report_are_counted_not_fatal() -> None:
    report = previous_report(finding("admin-access", "a"))
    report["findings"].append({"rule": "no fingerprint"})
    report["findings"].append("not even a mapping")
    diff = compare([], report)
    assert diff.unreadable == 2 and len(diff.resolved) == 1


# -- summary -----------------------------------------------------------------------------------------


def weekly(findings: list[Finding], previous: list[Finding] | None, **kwargs: object):
    current = result(*findings, errors=kwargs.pop("errors", ()))  # type: ignore[arg-type]
    diff = compare(current.findings, previous_report(*previous) if previous is not None else None, previous_date="p")
    summary = build_weekly_summary(
        current,
        diff,
        account_id=ACCOUNT,
        generated_at="2026-11-30T07:00:00Z",
        min_severity=kwargs.pop("min_severity", Severity.MEDIUM),  # type: ignore[arg-type]
        links=ReportLinks("s3://b/r.json", "s3://b/r.html", "https://console/r.html"),
        not_read=kwargs.pop("not_read", ()),  # type: ignore[arg-type]
        api_calls={"iam": 2, "ec2": 18},
    )
    return current, summary


def test_worst_roles_are_one_line_each_worst_first_and_at_most_ten() -> None:
    findings = [finding("admin-access", f"r{i:02}", Severity.MEDIUM) for i in range(15)]
    findings.append(finding("admin-access", "boss", Severity.CRITICAL))
    lines = worst_roles(findings)
    assert len(lines) == 10 and lines[0].name == "boss"
    assert lines[0].text().startswith("CRITICAL") and "\n" not in lines[0].text()


def test_the_summary_counts_everything_but_lists_only_what_reaches_the_minimum() -> None:
    low = finding("baseline-missing-tags", "quiet", Severity.LOW, category="baseline")
    high = finding("admin-access", "loud", Severity.HIGH, category="admin-access")
    _, summary = weekly([low, high], [])
    assert summary["findings"] == 2 and summary["reportable"] == 1
    assert summary["by_severity"]["low"] == 1 and summary["by_category"] == {"admin-access": 1, "baseline": 1}
    assert [r["role"] for r in summary["worst_roles"]] == ["loud"]
    assert [n["role"] for n in summary["new_findings"]] == ["loud"] and summary["new"] == 2


def test_the_message_says_what_changed_who_is_worst_and_where_the_report_is() -> None:
    gone = finding("trust-wildcard-principal", "legacy", Severity.CRITICAL, category="trust-policy")
    stays = finding("admin-access", "ops-admin", Severity.CRITICAL, category="admin-access")
    _, summary = weekly([stays], [stays, gone], not_read=["ec2 DescribeIamInstanceProfileAssociations (eu-west-1): X"])
    text = render_summary_text(summary)
    assert "0 new, 1 resolved" in text
    assert "Resolved at medium or above:" in text and "legacy" in text
    assert " 1. CRITICAL ops-admin (1 critical): admin-access title" in text
    assert "NOT READ (this audit is incomplete)" in text and "eu-west-1" in text
    assert "https://console/r.html" in text and "s3://b/r.json" in text
    assert "API calls: ec2 18, iam 2." in text


def test_the_notification_follows_the_delivery_conventions() -> None:
    findings = [
        finding("admin-access", "a", Severity.CRITICAL, category="admin-access"),
        finding("trust-account-root", "b", Severity.HIGH, category="trust-policy"),
    ]
    current, summary = weekly(findings, [])
    note = compose_weekly_notification(summary, current, Severity.MEDIUM, publish_clean=False)
    assert note is not None
    assert len(note.subject) < 100 and "\n" not in note.subject and note.subject.isascii()
    assert note.subject.startswith(f"[rolewatch] Weekly audit {ACCOUNT}: 1 critical, 1 high; 2 new, 0 resolved")
    assert note.attributes == {
        "account": ACCOUNT,
        "audit": "account",
        "severity": "critical",
        "category": ("admin-access", "trust-policy"),
        "rule": ("admin-access", "trust-account-root"),
    }


def test_a_long_account_summary_still_gets_a_short_subject() -> None:
    findings = [finding("r", "a", s) for s in Severity]
    current, summary = weekly(findings, [], not_read=["x"])
    note = compose_weekly_notification(summary, current, Severity.INFO, publish_clean=False)
    assert note is not None and len(note.subject) < 100


def test_a_clean_week_publishes_nothing_unless_asked() -> None:
    current, summary = weekly([finding("baseline-missing-tags", "a", Severity.LOW, category="baseline")], None)
    assert compose_weekly_notification(summary, current, Severity.MEDIUM, publish_clean=False) is None
    note = compose_weekly_notification(summary, current, Severity.MEDIUM, publish_clean=True)
    assert note is not None and note.attributes["severity"] == "none" and note.attributes["category"] == ("none",)
    assert "First run" in note.message


def test_an_incomplete_week_is_published_even_without_findings() -> None:
    current, summary = weekly([], None, not_read=["ec2 DescribeRegions (all regions): AccessDenied"])
    note = compose_weekly_notification(summary, current, Severity.MEDIUM, publish_clean=False)
    assert note is not None and note.subject.endswith("(incomplete)")


# -- HTML ----------------------------------------------------------------------------------------------


class _Checker(HTMLParser):
    """Collects tags and script elements; fails on nothing, the test asserts on what it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def evil_findings() -> list[Finding]:
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": EVIL, "Resource": "*"}]}
    return [
        finding(
            "admin-access",
            EVIL_ROLE,
            Severity.CRITICAL,
            category="admin-access",
            title=f"title {EVIL}",
            detail=f'detail "{EVIL}" & more',
            actions=(EVIL,),
            evidence=(f"evidence {EVIL}",),
            remediation=Remediation(f"summary {EVIL}", (f"aws iam delete-role --role-name '{EVIL}'",), policy),
        ),
        finding("trust-account-root", "plain-role", Severity.MEDIUM, category="trust-policy"),
        finding("baseline-missing-tags", "plain-role", Severity.LOW, category="baseline"),
    ]


def page(findings: list[Finding], **context: object) -> str:
    return render_html(result(*findings, roles=7), HtmlContext(account_id=ACCOUNT, generated_at=WHEN, **context))  # type: ignore[arg-type]


def test_attacker_controlled_text_is_escaped_everywhere() -> None:
    html = page(evil_findings(), not_read=[f"ec2 ({EVIL})"], resolved=[{"resource": role_arn(EVIL), "title": EVIL}])
    assert "<script" not in html.lower()
    checker = _Checker()
    checker.feed(html)
    assert "script" not in checker.tags
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 8
    assert "&lt;script&gt;alert(&#x27;rolewatch&#x27;)" in html
    soup = BeautifulSoup(html, "html.parser")
    # The escaped text reads back as the original: nothing lost, nothing executed.
    assert soup.find(string=re.compile(r"title <script>alert\(1\)</script>")) is not None
    # The corrected policy is shown as JSON text and parses back to the same document.
    pre = [p.get_text() for p in soup.find_all("pre") if p.get_text().lstrip().startswith("{")]
    assert json.loads(pre[0])["Statement"][0]["Action"] == EVIL


def test_the_page_is_self_contained() -> None:
    html = page(evil_findings())
    assert "<style>" in html and "<svg" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "default-src 'none'" in html


def test_the_page_has_every_section_and_the_counts() -> None:
    history = [{"date": "2026-11-16", "by_severity": {"critical": 3, "high": 1}}, {"date": "2026-11-23"}]
    findings = evil_findings()
    html = page(
        findings,
        history=history,
        previous_date="2026-11-23",
        new_fingerprints=frozenset({findings[1].fingerprint}),
        resolved=[{"severity": "high", "resource": role_arn("gone-role"), "title": "was bad", "rule": "admin-access"}],
        not_read=["ec2 DescribeIamInstanceProfileAssociations (eu-west-1): AccessDenied"],
        api_calls={"iam": 2, "ec2": 18},
    )
    soup = BeautifulSoup(html, "html.parser")
    assert {s.get("id") for s in soup.find_all("section")} >= {"summary", "trend", "changes", "not-read", "roles"}
    counts = {c.get_text(" ", strip=True) for c in soup.select("#summary .count")}
    assert counts == {"1 critical", "0 high", "1 medium", "1 low", "0 info"}
    trend_labels = [t.get_text() for t in soup.select("#trend text") if "-" in t.get_text() or "run" in t.get_text()]
    assert trend_labels[-3:] == ["2026-11-16", "2026-11-23", "this run"]
    changes = soup.select_one("#changes").get_text(" ", strip=True)
    assert "New: 1" in changes and "Resolved: 1" in changes and "gone-role" in changes
    assert "eu-west-1" in soup.select_one("#not-read").get_text()
    assert "API calls: ec2 18, iam 2" in soup.select_one("#summary").get_text()


def test_roles_are_grouped_worst_first_with_each_fix() -> None:
    html = page(evil_findings())
    soup = BeautifulSoup(html, "html.parser")
    roles = [d.find("h3").get_text() for d in soup.select("#roles details.role")]
    assert roles == [EVIL_ROLE, "plain-role"]
    assert soup.select("#roles .arn")[0].get_text() == role_arn(EVIL_ROLE)
    first = soup.select("#roles details.role")[0].get_text(" ", strip=True)
    assert "Fix: summary" in first and "aws iam delete-role" in first and "Corrected policy" in first
    assert soup.select("#roles details.role")[1].select(".finding")[0].find(class_="sev").get_text() == "medium"


def test_roles_beyond_the_detailed_limit_are_listed_compactly() -> None:
    findings = [finding("admin-access", f"role-{i}", Severity.HIGH) for i in range(5)]
    soup = BeautifulSoup(page(findings, max_detailed_roles=2), "html.parser")
    assert len(soup.select("#roles details.role")) == 2
    assert "3 more roles" in soup.select_one("#roles").get_text()


def test_a_report_without_findings_or_history_still_renders() -> None:
    soup = BeautifulSoup(page([]), "html.parser")
    assert "No findings." in soup.select_one("#roles").get_text()
    assert soup.select_one("#trend") is None and soup.select_one("#changes") is None


@pytest.mark.parametrize("bad", [{"date": "x", "by_severity": "nope"}, {"by_severity": {"high": "3"}}])
def test_malformed_history_entries_do_not_break_the_trend(bad: dict) -> None:
    html = page([finding("admin-access", "a")], history=[bad])
    assert "this run" in html
