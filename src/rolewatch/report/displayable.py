"""An audit result with every string made safe to show in a text, Markdown or SNS report. Pure.

Findings quote what they found: role names and paths, policy names, condition values and tags come
from IAM or from a file someone else wrote. The text and Markdown renderers show the copy this module
makes (rolewatch.untrusted.display on every string: one printable line, chat mentions inert); the JSON,
SARIF and HTML renderers keep the exact values and escape them in their own syntax.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from rolewatch.model import AuditError, AuditResult, Finding
from rolewatch.untrusted import display as _display
from rolewatch.untrusted import display_command


def displayable_finding(finding: Finding, *, markup: bool = True) -> Finding:
    display = partial(_display, markup=markup)
    remediation = finding.remediation
    return replace(
        finding,
        resource=display(finding.resource),
        title=display(finding.title),
        detail=display(finding.detail),
        rationale=display(finding.rationale),
        actions=tuple(display(a) for a in finding.actions),
        evidence=tuple(display(e) for e in finding.evidence),
        suppressed_by=None if finding.suppressed_by is None else display(finding.suppressed_by),
        remediation=replace(
            remediation, summary=display(remediation.summary), cli=tuple(display_command(c) for c in remediation.cli)
        ),
    )


def displayable_error(error: AuditError, *, markup: bool = True) -> AuditError:
    display = partial(_display, markup=markup)
    return replace(
        error, resource=display(error.resource), location=display(error.location), message=display(error.message)
    )


def displayable(result: AuditResult, *, markup: bool = True) -> AuditResult:
    """The same result, every string shown as `display` shows it (policies are escaped where rendered).
    `markup=False` for Markdown, which escapes `<` itself."""
    return replace(
        result,
        findings=tuple(displayable_finding(f, markup=markup) for f in result.findings),
        errors=tuple(displayable_error(e, markup=markup) for e in result.errors),
        notes=tuple(_display(n, markup=markup) for n in result.notes),
    )
