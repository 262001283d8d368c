"""Text and Markdown renderers: what a person reads first, in a terminal or an e-mail / GitHub comment.

Both show the same content: a header with counts, then every role once (worst first) with its findings
(worst first), each with what to do about it; suppressed findings after each role; input errors last.
Long lists and policies are shortened here; the JSON report always carries everything.

Both render the `displayable` copy of the result: every string from IAM or a file (names, paths,
condition values, tags) is one printable line with chat mentions made inert, and corrected policies
are shown with their hidden characters and markup escaped as JSON \\u escapes. A policy file in a pull
request is attacker-controlled: its ESC, BEL or OSC sequences never reach the reader's terminal.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from rolewatch.model import AuditError, AuditResult, Finding, Severity
from rolewatch.report.displayable import displayable
from rolewatch.report.document import (
    SEVERITIES_WORST_FIRST,
    RoleSection,
    build_summary,
    format_timestamp,
    group_by_role,
    parse_suppression,
    severity_counts,
)
from rolewatch.untrusted import display, inert_json

TEXT_WIDTH = 100
ACTIONS_SHOWN = 8
EVIDENCE_SHOWN = 6
TEXT_POLICY_MAX_LINES = 15
# An e-mail has room for a longer corrected policy than a terminal screen, and it is worth having there.
MARKDOWN_POLICY_MAX_LINES = 40

_ANSI_RESET = "\033[0m"
_ANSI_BOLD = "\033[1m"
_SEVERITY_ANSI = {
    Severity.CRITICAL: "\033[1;31m",
    Severity.HIGH: "\033[31m",
    Severity.MEDIUM: "\033[33m",
    Severity.LOW: "\033[36m",
    Severity.INFO: "\033[2m",
}


# ---------------------------------------------------------------- shared wording


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    return f"{count} {noun if count == 1 else (plural_noun or noun + 's')}"


def capped(items: Sequence[str], shown: int) -> tuple[list[str], int]:
    """The first `shown` items and how many were left out."""
    return list(items[:shown]), max(0, len(items) - shown)


def severity_breakdown(findings: Iterable[Finding]) -> str:
    """`1 critical, 2 high`: only severities that occur, worst first."""
    counts = severity_counts(findings)
    return ", ".join(f"{count} {severity}" for severity, count in counts.items() if count)


def summary_phrases(summary: Mapping[str, Any]) -> list[str]:
    """The header's counts, as short phrases: roles, findings by severity, suppressed, skipped, errors."""
    phrases = [f"{plural(summary['roles'], 'role')} audited"]
    if summary["findings"]:
        by_severity = ", ".join(f"{n} {sev}" for sev, n in summary["by_severity"].items() if n)
        phrases.append(f"{plural(summary['findings'], 'finding')} ({by_severity})")
    else:
        phrases.append("no findings")
    if summary["suppressed"]:
        phrases.append(f"{summary['suppressed']} suppressed")
    for kind, count in summary["skipped"].items():
        if count:
            phrases.append(f"{plural(count, f'{kind} role')} skipped")
    if summary["errors"]:
        phrases.append(plural(summary["errors"], "error"))
    return phrases


def role_counts(section: RoleSection) -> str:
    parts = []
    if section.findings:
        parts.append(f"{plural(len(section.findings), 'finding')}: {severity_breakdown(section.findings)}")
    if section.suppressed:
        parts.append(f"{len(section.suppressed)} suppressed")
    return "; ".join(parts)


def suppression_phrase(finding: Finding) -> str:
    suppression = parse_suppression(finding.suppressed_by or "")
    if suppression.until:
        return f"suppressed until {suppression.until}: {suppression.justification}"
    return f"suppressed: {suppression.justification}"


def error_phrase(error: AuditError) -> str:
    # The engine records a crashing rule as an error located at `rule:<id>`: nothing was unreadable there.
    verb = "could not audit" if error.location.startswith("rule:") else "could not read"
    return f"{verb}: {error.location}: {error.message}" if error.location else f"{verb}: {error.message}"


def policy_json_lines(policy: Mapping[str, Any], width: int, max_lines: int) -> list[str] | None:
    """The policy as compact as it reads well: on one line if it fits, else one statement a line, else
    indented; None when even that is longer than `max_lines` (too long to show)."""
    compact = _compact_json(policy)
    if len(compact) <= width:
        return [inert_json(compact)]
    by_statement = _statement_per_line(policy)
    if by_statement and all(len(line) <= width for line in by_statement) and len(by_statement) <= max_lines:
        return [inert_json(line) for line in by_statement]
    pretty = json.dumps(policy, indent=2, ensure_ascii=False).splitlines()
    return [inert_json(line) for line in pretty] if len(pretty) <= max_lines else None


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _statement_per_line(policy: Mapping[str, Any]) -> list[str] | None:
    statements = policy.get("Statement")
    if not isinstance(statements, list) or not statements:
        return None
    head = _compact_json({k: v for k, v in policy.items() if k != "Statement"})
    opening = head[:-1] + ("," if len(head) > 2 else "") + '"Statement":['
    body = [f"  {_compact_json(statement)}," for statement in statements]
    body[-1] = body[-1][:-1]
    return [opening, *body, "]}"]


# ---------------------------------------------------------------- text


class _TextWriter:
    def __init__(self, color: bool, policy_max_lines: int = TEXT_POLICY_MAX_LINES) -> None:
        self.color = color
        self.policy_max_lines = policy_max_lines
        self.lines: list[str] = []

    def paint(self, text: str, ansi: str) -> str:
        return f"{ansi}{text}{_ANSI_RESET}" if self.color else text

    def line(self, text: str = "") -> None:
        self.lines.append(text)

    def wrapped(self, text: str, indent: int, first_prefix: str = "") -> None:
        """Wrap at TEXT_WIDTH; ARNs and action names are never split (no breaking on hyphens)."""
        pad = " " * indent
        self.lines.extend(
            textwrap.wrap(
                text,
                width=TEXT_WIDTH,
                initial_indent=pad + first_prefix,
                subsequent_indent=pad + " " * len(first_prefix),
                break_long_words=False,
                break_on_hyphens=False,
            )
            or [(pad + first_prefix).rstrip()]
        )

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def render_text(
    result: AuditResult,
    *,
    sources: Sequence[str] = (),
    color: bool = False,
    policy_max_lines: int = TEXT_POLICY_MAX_LINES,
) -> str:
    """The terminal report. No colour unless asked: output is often piped or saved.

    Corrected policies longer than `policy_max_lines` are left to the JSON report on a terminal; a
    message that is the only copy a reader gets (SNS) passes a larger limit.
    """
    out = _TextWriter(color, policy_max_lines)
    result = displayable(result)
    summary = build_summary(result)
    out.wrapped("rolewatch: " + ", ".join(summary_phrases(summary)), 0)
    if sources:
        out.wrapped("sources: " + ", ".join(display(s) for s in sources), 0)
    for note in summary["notes"]:
        out.wrapped(note, 0, "note: ")
    sections = group_by_role(result.findings)
    if not sections:
        out.line()
        out.line("No findings.")
    for section in sections:
        out.line()
        _text_role(out, section)
    if result.errors:
        out.line()
        out.line(out.paint(f"Errors ({len(result.errors)}):", _ANSI_BOLD))
        for error in result.errors:
            out.wrapped(error_phrase(error), 2)
            if error.resource and error.resource not in error.location:
                out.wrapped(error.resource, 4, "in ")
    return out.text()


def _text_role(out: _TextWriter, section: RoleSection) -> None:
    out.line(out.paint(f"== {section.resource}", _ANSI_BOLD) + f"  [{role_counts(section)}]")
    for finding in section.findings:
        out.line()
        _text_finding(out, finding)
    if section.suppressed:
        out.line()
        out.line(f"  Suppressed ({len(section.suppressed)}):")
        for finding in section.suppressed:
            tag = f"[{finding.severity.value.upper()}] {finding.rule}: "
            out.wrapped(suppression_phrase(finding), 4, "- " + tag)


def _text_finding(out: _TextWriter, finding: Finding) -> None:
    tag = out.paint(f"[{finding.severity.value.upper()}]", _SEVERITY_ANSI[finding.severity])
    out.line(f"  {tag} {finding.title}  ({finding.rule})")
    out.wrapped(finding.detail, 4)
    if finding.actions:
        shown, hidden = capped(finding.actions, ACTIONS_SHOWN)
        more = f" (+{hidden} more)" if hidden else ""
        out.wrapped(", ".join(shown) + more, 4, "Actions: ")
    if finding.evidence:
        shown, hidden = capped(finding.evidence, EVIDENCE_SHOWN)
        out.line("    Evidence:")
        for item in shown:
            out.wrapped(item, 6, "- ")
        if hidden:
            out.line(f"      (+{hidden} more)")
    out.wrapped(finding.remediation.summary, 4, "Fix: ")
    for command in finding.remediation.cli:
        # Commands are never wrapped: they must stay copy-pasteable. A shell comment separates alternatives.
        out.line(f"      {command}" if command.startswith("#") else f"      $ {command}")
    if finding.remediation.policy:
        _text_policy(out, finding.remediation.policy)


def _text_policy(out: _TextWriter, policy: Mapping[str, Any]) -> None:
    lines = policy_json_lines(policy, TEXT_WIDTH - 6, out.policy_max_lines)
    if lines is None:
        out.line("    Corrected policy: too long to show here, see --format json")
        return
    out.line("    Corrected policy:")
    out.lines.extend("      " + line for line in lines)


# ---------------------------------------------------------------- Markdown

_MARKDOWN_SPECIAL = set("\\`*_[]<>|#")


def md_text(text: str) -> str:
    """Free text made inert: one line, `s3:*` must not start an emphasis, `<` must not open an HTML tag."""
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in display(text, markup=False))


def md_code(text: str) -> str:
    """An inline code span on one line that survives backticks inside the text: its fence is one
    backtick longer than the longest run inside (CommonMark)."""
    text = display(text, markup=False)  # inside a code span nothing is markup
    if "`" not in text:
        return f"`{text}`"
    longest = max(len(run) for run in _backtick_runs(text))
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}"


def _backtick_runs(text: str) -> list[str]:
    runs: list[str] = []
    current = ""
    for char in text:
        if char == "`":
            current += char
        elif current:
            runs.append(current)
            current = ""
    return [*runs, current] if current else runs


def md_fence(language: str, lines: Iterable[str]) -> list[str]:
    return [f"```{language}", *lines, "```", ""]


def render_markdown(
    result: AuditResult,
    *,
    sources: Sequence[str] = (),
    generated_at: datetime | None = None,
) -> str:
    """The report for e-mail and GitHub: summary table, a heading per role, fenced CLI and policies."""
    result = displayable(result, markup=False)  # md_text escapes markup in Markdown's own syntax
    summary = build_summary(result)
    lines = ["# rolewatch report", ""]
    origin = f" from {', '.join(md_code(s) for s in sources)}" if sources else ""
    lines += [f"Generated {format_timestamp(generated_at)}{origin}.", ""]
    counts = md_text(", ".join(summary_phrases(summary)))
    lines += [counts[:1].upper() + counts[1:] + ".", ""]
    lines += _md_severity_table(summary)
    lines += [f"> **Note:** {md_text(note)}" for note in summary["notes"]]
    if summary["notes"]:
        lines.append("")
    sections = group_by_role(result.findings)
    if not sections:
        lines += ["No findings.", ""]
    for section in sections:
        lines += _md_role(section)
    if result.errors:
        lines += [f"## Errors ({len(result.errors)})", ""]
        for error in result.errors:
            resource = f" ({md_code(error.resource)})" if error.resource else ""
            lines.append(f"- {md_text(error_phrase(error))}{resource}")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _md_severity_table(summary: Mapping[str, Any]) -> list[str]:
    rows = [f"| {severity.value} | {summary['by_severity'][severity.value]} |" for severity in SEVERITIES_WORST_FIRST]
    return [
        "| Severity | Findings |",
        "| --- | ---: |",
        *rows,
        f"| **total** | **{summary['findings']}** |",
        "",
    ]


def _md_role(section: RoleSection) -> list[str]:
    lines = [f"## {md_code(section.resource)}", "", md_text(role_counts(section)), ""]
    for finding in section.findings:
        lines += _md_finding(finding)
    if section.suppressed:
        lines += [f"#### Suppressed ({len(section.suppressed)})", ""]
        for finding in section.suppressed:
            lines.append(
                f"- **{finding.severity.value}** {md_code(finding.rule)} {md_text(finding.title)}: "
                f"{md_text(suppression_phrase(finding))}"
            )
        lines.append("")
    return lines


def _md_finding(finding: Finding) -> list[str]:
    lines = [
        f"### {finding.severity.value.upper()}: {md_text(finding.title)}",
        "",
        f"Rule {md_code(finding.rule)} · category {md_code(finding.category)}",
        "",
        md_text(finding.detail),
        "",
    ]
    if finding.actions:
        shown, hidden = capped(finding.actions, ACTIONS_SHOWN)
        more = f" and {hidden} more" if hidden else ""
        lines += [f"**Actions:** {', '.join(md_code(a) for a in shown)}{more}", ""]
    if finding.evidence:
        shown, hidden = capped(finding.evidence, EVIDENCE_SHOWN)
        lines += ["**Evidence:**", "", *(f"- {md_code(item)}" for item in shown)]
        if hidden:
            lines.append(f"- and {hidden} more")
        lines.append("")
    lines += [f"**Fix:** {md_text(finding.remediation.summary)}", ""]
    if finding.remediation.cli:
        lines += md_fence("sh", finding.remediation.cli)
    if finding.remediation.policy:
        lines += _md_policy(finding.remediation.policy)
    return lines


def _md_policy(policy: Mapping[str, Any]) -> list[str]:
    pretty = [inert_json(line) for line in json.dumps(policy, indent=2, ensure_ascii=False).splitlines()]
    if len(pretty) > MARKDOWN_POLICY_MAX_LINES:
        return ["**Corrected policy:** too long to show here; see the JSON report.", ""]
    return ["**Corrected policy:**", "", *md_fence("json", pretty)]
