"""The organization report's HTML: the accounts are the first level, one section each, worst first (the ones
that could not be audited after them, each saying why), with its counts, new and resolved, categories,
status and links to its own stored report; totals stay a compact summary above. No script; account names,
reasons and links stay text and attribute values, never markup."""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup
from test_hostile_content import HOSTILE

from rolewatch.org.report import (
    PROBLEMS_SHOWN,
    AccountOutcome,
    RunContext,
    build_org_report,
    render_org_html,
    render_org_summary,
)

BUCKET = "rolewatch-reports-111122223333"
# An account owner names the account; AWS error messages quote what callers sent.
NAME = HOSTILE["html"] + HOSTILE["bidi"] + HOSTILE["forged-lines"]
DAY = "2026-11-30"


def console(key: str) -> str:
    return f"https://s3.console.aws.amazon.com/s3/object/{BUCKET}?region=us-east-1&prefix={key}"


def audited(account_id: str, name: str, **counts: Any) -> AccountOutcome:
    by_severity = {s: int(counts.pop(s, 0)) for s in ("critical", "high", "medium", "low", "info")}
    folder = f"reports/account/{account_id}/{DAY}"
    return AccountOutcome(
        account_id=account_id,
        name=name,
        roles=int(counts.pop("roles", 10)),
        findings=sum(by_severity.values()),
        by_severity=by_severity,
        by_category=counts.pop("by_category", {}),
        new=int(counts.pop("new", 0)),
        resolved=int(counts.pop("resolved", 0)),
        not_read=tuple(counts.pop("not_read", ())),
        report_json=f"{folder}/report.json",
        report_html=f"{folder}/report.html",
        integration_notes=tuple(counts.pop("integration_notes", ())),
    )


def organization(*outcomes: AccountOutcome) -> dict[str, Any]:
    links = {o.account_id: {"HTML": console(o.report_html), "JSON": console(o.report_json)} for o in outcomes}
    context = RunContext(
        organization_id="o-abcdefghij",
        run_id="weekly-2026-11-30",
        generated_at=f"{DAY}T07:04:00Z",
        links={"HTML": console("reports/organization/x/report.html"), "JSON": f"s3://{BUCKET}/x/report.json"},
        account_links={k: v for k, v in links.items() if v["HTML"].endswith(".html")},
    )
    return build_org_report(list(outcomes), context)


def five_accounts() -> list[AccountOutcome]:
    return [
        audited("222222222222", "sandbox", low=3, by_category={"baseline": 3}),
        audited(
            "111111111111",
            "payments-prod",
            critical=2,
            high=5,
            medium=1,
            new=2,
            resolved=1,
            by_category={"admin-access": 2, "privilege-escalation": 5, "trust-policy": 1},
        ),
        audited("333333333333", "data", high=7, by_category={"data-exfiltration": 7}, not_read=["ec2 eu-west-1"]),
        audited("444444444444", "clean-account"),
        AccountOutcome.unauditable(
            "555555555555", "legacy", "reader-role-refused", "reader role arn:aws:iam::555555555555:role/r is missing"
        ),
    ]


def page(report: dict[str, Any]) -> BeautifulSoup:
    html = render_org_html(report)
    assert "<script" not in html.lower()
    return BeautifulSoup(html, "html.parser")


def sections(soup: BeautifulSoup) -> list[Any]:
    return soup.select("main > section.account")


def test_each_account_is_a_section_worst_first_and_the_unauditable_after_them() -> None:
    soup = page(organization(*five_accounts()))
    order = [s.h3.get_text(" ", strip=True) for s in sections(soup)]
    assert order == [
        "critical 111111111111 · payments-prod",
        "high 333333333333 · data",
        "low 222222222222 · sandbox",
        "clean 444444444444 · clean-account",
        "not audited 555555555555 · legacy",
    ]
    # The summary comes first, compact: totals by severity, and the accounts that could not be audited.
    summary = soup.select_one("main > section#summary")
    assert summary is not None and summary.find_next_sibling("h2").get_text() == "Accounts, worst first"
    totals = {c.get_text(" ", strip=True).split(" ")[1]: int(c.b.get_text()) for c in summary.select(".count")}
    assert totals == {"critical": 2, "high": 12, "medium": 1, "low": 3, "info": 0}
    assert "Could not be audited: 555555555555 · legacy" in summary.get_text(" ", strip=True)


def test_an_accounts_section_has_its_counts_changes_categories_status_and_report_links() -> None:
    soup = page(organization(*five_accounts()))
    payments, data = sections(soup)[:2]
    text = payments.get_text(" ", strip=True)
    assert "audited · 10 roles · 8 open findings · 2 new , 1 resolved since its previous run" in text
    counts = {c.get_text(" ", strip=True).split(" ")[1]: int(c.b.get_text()) for c in payments.select(".count")}
    assert counts == {"critical": 2, "high": 5, "medium": 1, "low": 0, "info": 0}
    assert "By category: privilege-escalation 5, admin-access 2, trust-policy 1" in text
    links = {a.get_text(): a["href"] for a in payments.select("a")}
    folder = f"reports/account/111111111111/{DAY}"
    assert links == {"HTML report": console(f"{folder}/report.html"), "JSON report": console(f"{folder}/report.json")}
    assert "audited, incomplete" in data.get_text() and "not read: ec2 eu-west-1" in data.get_text()


def test_an_unauditable_account_says_why_and_links_nothing() -> None:
    legacy = sections(page(organization(*five_accounts())))[-1]
    assert legacy.select("a") == []
    assert legacy.p.get_text(" ", strip=True) == (
        "cannot audit (reader-role-refused): reader role arn:aws:iam::555555555555:role/r is missing"
    )


def test_the_summary_links_to_each_section_by_counter_ids() -> None:
    soup = page(organization(*five_accounts()))
    ids = [s["id"] for s in sections(soup)]
    assert ids == [f"account-{i}" for i in range(5)]
    toc = [a["href"] for a in soup.select("#summary ol.toc a")]
    assert toc == [f"#{i}" for i in ids]


def test_many_problems_are_folded_and_integration_failures_are_named() -> None:
    notes = [f"security-hub failed: GetFindings denied: {i}" for i in range(PROBLEMS_SHOWN + 2)]
    soup = page(organization(audited("111111111111", "a", high=1, integration_notes=notes)))
    [section] = sections(soup)
    [fold] = section.select("details.fold")
    assert fold.summary.get_text() == f"Problems ({PROBLEMS_SHOWN + 2})" and fold.get("open") is None
    assert [li.get_text() for li in fold.select("li")] == [f"not delivered: {n}" for n in notes]


def test_hostile_account_names_reasons_and_links_stay_text() -> None:
    report = organization(
        audited("111111111111", NAME, high=1, by_category={NAME: 1}, not_read=[NAME], integration_notes=[NAME]),
        AccountOutcome.unauditable("222222222222", NAME, "unreadable", NAME),
    )
    report["accounts"][0]["links"] = {
        "HTML": 'javascript:alert(1)" onmouseover="alert(2)',
        "JSON": console("k") + '"><b>x</b>',
    }
    soup = page(report)
    assert soup.find("img") is None and soup.find("b", string="x") is None
    for tag in soup.find_all(True):
        assert not any(attribute.startswith("on") for attribute in tag.attrs), tag
    hrefs = [a["href"] for a in soup.select("a")]
    assert all(h.startswith(("#", "https://")) for h in hrefs)  # a non-https URI is never a link...
    assert console("k") + '"><b>x</b>' in hrefs  # ...and an https one stays one attribute value
    assert 'javascript:alert(1)" onmouseover="alert(2)' in soup.get_text()
    first, second = sections(soup)
    for section in (first, second):
        assert HOSTILE["html"] in section.h3.get_text()  # the markup is shown, as text
        assert "\\u202e" in section.h3.get_text() and "\\n" in section.h3.get_text()  # hidden characters made visible
    assert first.get_text().count(HOSTILE["html"]) == 4  # name, category, source not read, integration note
    assert HOSTILE["html"] in second.p.get_text()


def test_an_account_name_in_the_text_summary_is_quoted_and_links_nothing() -> None:
    """The plain-text SNS summary: a name that looks like a result or a link (any printable ASCII, as
    AWS allows) stays a quoted, defanged name; newlines and mentions are inert as everywhere."""
    hostile = "[click](https://evil.example/x): clean; 0 new\n@here"
    summary = render_org_summary(organization(audited("111111111111", hostile, high=1)))
    [line] = [line for line in summary.splitlines() if "111111111111" in line and "high" in line]
    assert "https://evil" not in summary and "https[:]//evil.example/x" in line
    assert line.strip().startswith("111111111111 «[click](https[:]//evil.example/x): clean; 0 new\\n＠here»: 1 high")
