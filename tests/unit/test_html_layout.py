"""The HTML report reads well: long corrected policies and long evidence folded in <details> (no script),
short ones shown inline, the severity chart spaced from the summary cards; hostile text stays text."""

from __future__ import annotations

import json

from bs4 import BeautifulSoup
from test_hostile_content import HOSTILE
from test_report import ADMIN_ROLE, LARGE_POLICY, SMALL_POLICY, audit_result, finding

from rolewatch.model import Remediation
from rolewatch.report.render_html import CSS, POLICY_LINES_SHOWN, render_html


def page(*findings) -> BeautifulSoup:  # type: ignore[no-untyped-def]
    html = render_html(audit_result(*findings))
    assert "<script" not in html.lower()
    return BeautifulSoup(html, "html.parser")


def test_a_long_corrected_policy_is_folded_with_its_size_and_parses_back() -> None:
    soup = page(finding("admin-access", ADMIN_ROLE, remediation=Remediation(summary="Scope it.", policy=LARGE_POLICY)))

    [fold] = soup.select("details.policy")
    lines = len(json.dumps(LARGE_POLICY, indent=2).splitlines())
    assert lines > POLICY_LINES_SHOWN
    assert fold.summary.get_text() == f"Corrected policy ({lines} lines)"
    assert fold.get("open") is None  # folded until the reader opens it
    assert json.loads(fold.pre.get_text()) == LARGE_POLICY


def test_a_short_corrected_policy_stays_inline() -> None:
    soup = page(finding("admin-access", ADMIN_ROLE, remediation=Remediation(summary="Scope it.", policy=SMALL_POLICY)))

    assert soup.select("details.policy") == []
    assert json.loads(soup.select_one(".finding pre").get_text()) == SMALL_POLICY


def test_long_evidence_is_folded_and_short_evidence_is_one_line() -> None:
    many = tuple(f"statement {i}" for i in range(6))
    soup = page(finding("admin-access", ADMIN_ROLE, evidence=many), finding("service-wildcard", ADMIN_ROLE))
    [fold] = soup.select("details.evidence")
    assert fold.summary.get_text() == "Evidence (6 items)"
    assert [li.get_text() for li in fold.select("li")] == list(many)


def test_the_severity_chart_is_spaced_from_the_summary_cards() -> None:
    soup = page(finding("admin-access", ADMIN_ROLE))
    cards = soup.select_one("#summary .counts")
    chart = cards.find_next_sibling()
    assert chart.name == "svg" and "chart" in chart["class"]
    assert ".counts{display:flex;gap:10px;flex-wrap:wrap;margin:0 0 18px}" in CSS
    assert "svg.chart{display:block;margin:0 0 16px}" in CSS


def test_hostile_text_in_a_folded_policy_stays_text() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": f"S{i}", "Effect": "Allow", "Action": "s3:GetObject", "Resource": HOSTILE["html"]} for i in range(4)
        ],
    }
    soup = page(finding("admin-access", ADMIN_ROLE, remediation=Remediation(summary="x", policy=policy)))
    [fold] = soup.select("details.policy")
    assert json.loads(fold.pre.get_text()) == policy  # exact value, escaped by HTML only
    assert soup.find("img") is None and soup.find("script") is None
