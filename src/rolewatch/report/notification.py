"""An audit result as an SNS notification: subject, readable message, filterable attributes. Pure.

SNS limits: Subject up to 100 ASCII printable characters, no line breaks; a message (body and
attributes) up to 262,144 bytes. The composer fits the subject; the byte limit is the deliverer's job
because only it knows whether an overflow link can be offered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from rolewatch.model import AuditResult, Finding, Severity
from rolewatch.report.render_text import render_text

SUBJECT_LIMIT = 99
SNS_MESSAGE_LIMIT = 262_144  # bytes, body and attributes together


@dataclass(frozen=True)
class Notification:
    subject: str
    message: str
    attributes: dict[str, str] = field(default_factory=dict)
    findings: int = 0

    def size_in_bytes(self) -> int:
        # SNS counts the body plus each attribute's name, data type and value.
        attributes = sum(len(k.encode()) + len(b"String") + len(v.encode()) for k, v in self.attributes.items())
        return len(self.message.encode("utf-8")) + attributes


def reportable(result: AuditResult, min_severity: Severity) -> AuditResult:
    """Only unsuppressed findings at or above the threshold are published."""
    kept = tuple(f for f in result.findings if f.suppressed_by is None and f.severity.at_least(min_severity))
    return replace(result, findings=kept)


def compose(
    result: AuditResult,
    *,
    account: str,
    header: Sequence[str] = (),
    min_severity: Severity = Severity.LOW,
    publish_clean: bool = False,
    subject_prefix: str = "rolewatch",
) -> Notification | None:
    """The notification to publish, or None when there is nothing to say at this threshold."""
    kept = reportable(result, min_severity)
    if not kept.findings and not kept.errors and not publish_clean:
        return None
    worst = kept.findings[0] if kept.findings else None
    body = "\n".join([*header, "", render_text(kept)]) if header else render_text(kept)
    attributes = {"account": account or "unknown"}
    if worst is not None:
        attributes.update(severity=worst.severity.value, category=worst.category, rule=worst.rule)
    else:
        attributes.update(severity="none", category="none", rule="none")
    return Notification(
        subject=_subject(subject_prefix, worst, kept.findings, result),
        message=body,
        attributes=attributes,
        findings=len(kept.findings),
    )


def _subject(prefix: str, worst: Finding | None, findings: Sequence[Finding], result: AuditResult) -> str:
    if worst is None:
        text = f"[{prefix}] clean: {result.roles_audited} role(s) audited, nothing to report"
    else:
        role = worst.resource.rsplit("/", 1)[-1]
        more = f" (+{len(findings) - 1} more)" if len(findings) > 1 else ""
        text = f"[{prefix}] {worst.severity.value.upper()} {role}: {worst.title}{more}"
    return fit_subject(text)


def fit_subject(text: str) -> str:
    """One line of printable ASCII under 100 characters, as SNS requires."""
    ascii_text = "".join(c if 32 <= ord(c) < 127 else "?" for c in " ".join(text.split()))
    if len(ascii_text) <= SUBJECT_LIMIT:
        return ascii_text
    return ascii_text[: SUBJECT_LIMIT - 3].rstrip() + "..."


def truncate_to_bytes(text: str, limit: int, suffix: str) -> str:
    """Cut `text` so that text + suffix fits in `limit` UTF-8 bytes, never inside a character."""
    budget = limit - len(suffix.encode("utf-8"))
    raw = text.encode("utf-8")
    if len(raw) <= budget:
        return text + suffix
    return raw[: max(budget, 0)].decode("utf-8", errors="ignore") + suffix
