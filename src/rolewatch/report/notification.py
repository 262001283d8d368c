"""An audit result as an SNS notification: subject, readable message, filterable attributes. Pure.

SNS limits: Subject up to 100 ASCII printable characters, no line breaks; a message (body and
attributes) up to 262,144 bytes. The composer fits the subject; the byte limit is the deliverer's job
because only it knows whether an overflow link can be offered.

Message attributes, for subscription filter policies:
- `severity` (String): the worst published finding's severity (`info` for a notice-only report such as
  "deleted before audit", `none` for a clean report). Filter `{"severity": ["critical", "high"]}`.
- `account` (String): the audited account id.
- `category`, `rule` (String.Array): every category / rule among the published findings, worst first,
  without repeats (`["none"]` when there are none). SNS matches a filter value against each element,
  so `{"category": ["trust-policy"]}` selects every report that has a trust-policy finding, even
  when a worse finding of another category leads it; a single String holding only the worst value
  would hide those from such a subscriber.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from rolewatch.model import AuditResult, Finding, Severity
from rolewatch.report.document import worst_first
from rolewatch.report.render_text import render_text
from rolewatch.untrusted import display, printable

SUBJECT_LIMIT = 99
MESSAGE_POLICY_MAX_LINES = 400
SNS_MESSAGE_LIMIT = 262_144  # bytes, body and attributes together

AttributeValue = str | tuple[str, ...]  # a tuple is published as String.Array


def attribute_type(value: AttributeValue) -> str:
    return "String" if isinstance(value, str) else "String.Array"


def attribute_text(value: AttributeValue) -> str:
    """The StringValue SNS receives: the text itself, or a JSON array for String.Array."""
    return value if isinstance(value, str) else json.dumps(list(value))


@dataclass(frozen=True)
class Notification:
    subject: str
    message: str
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    findings: int = 0

    def size_in_bytes(self) -> int:
        # SNS counts the body plus each attribute's name, data type and value.
        attributes = sum(
            len(k.encode()) + len(attribute_type(v).encode()) + len(attribute_text(v).encode())
            for k, v in self.attributes.items()
        )
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
    notice: str | None = None,
    notice_severity: Severity = Severity.INFO,
    notice_always: bool = False,
) -> Notification | None:
    """The notification to publish, or None when there is nothing to say at this threshold.

    `notice` is a message worth a report on its own (e.g. "role X deleted before audit"), at
    `notice_severity`: published when that reaches `min_severity`, or always with `notice_always` (a
    fact the audit could not verify, which the threshold on verified findings cannot judge), and used
    as the subject when no finding is.
    """
    kept = reportable(result, min_severity)
    has_notice = notice is not None and (notice_always or notice_severity.at_least(min_severity))
    if not kept.findings and not kept.errors and not has_notice and not publish_clean:
        return None
    ordered = worst_first(kept.findings)
    worst = ordered[0] if ordered else None
    # The message is what the subscriber has: corrected policies are shown whole (the 256 KB limit is
    # enforced on the whole message by delivery, which moves an oversize report to S3).
    text = render_text(kept, policy_max_lines=MESSAGE_POLICY_MAX_LINES)
    body = visible_lines("\n".join([*header, "", text]) if header else text)
    attributes: dict[str, AttributeValue] = {"account": display(account, 64) if account else "unknown"}
    if worst is not None:
        attributes.update(
            severity=worst.severity.value,
            category=tuple(dict.fromkeys(f.category for f in ordered)),
            rule=tuple(dict.fromkeys(f.rule for f in ordered)),
        )
    else:
        attributes.update(severity=notice_severity.value if has_notice else "none", category=("none",), rule=("none",))
    return Notification(
        subject=_subject(
            subject_prefix,
            worst,
            kept.findings,
            result,
            display(notice) if has_notice else None,
            severity=notice_severity,
        ),
        message=body,
        attributes=attributes,
        findings=len(kept.findings),
    )


def _subject(
    prefix: str,
    worst: Finding | None,
    findings: Sequence[Finding],
    result: AuditResult,
    notice: str | None,
    *,
    severity: Severity = Severity.INFO,
) -> str:
    if worst is None and notice is not None:
        text = f"[{prefix}] {severity.value.upper()} {notice}"
    elif worst is None:
        text = f"[{prefix}] clean: {result.roles_audited} role(s) audited, nothing to report"
    else:
        role = worst.resource.rsplit("/", 1)[-1]
        more = f" (+{len(findings) - 1} more)" if len(findings) > 1 else ""
        text = f"[{prefix}] {worst.severity.value.upper()} {role}: {worst.title}"
        return fit_subject(text, more)
    return fit_subject(text)


def visible_lines(text: str) -> str:
    """The message as valid, printable UTF-8 line by line: the renderers already escape what they
    quote, and this pass guarantees it for any header line, so sizing and publishing cannot fail on a
    lone surrogate and no control character reaches a subscriber."""
    return "\n".join(printable(line) for line in text.split("\n"))


def fit_subject(text: str, tail: str = "") -> str:
    """One line of printable ASCII under 100 characters, as SNS requires.

    `tail` (e.g. " (+3 more)", " (incomplete)") is kept whole: the cut falls in `text` instead.
    """

    def ascii_line(value: str) -> str:
        return "".join(c if 32 <= ord(c) < 127 else "?" for c in " ".join(value.split()))

    head, end = ascii_line(text), ascii_line(tail)
    if tail[:1].isspace() and end:
        end = " " + end
    if len(head) + len(end) <= SUBJECT_LIMIT:
        return head + end
    room = max(SUBJECT_LIMIT - len(end) - 3, 0)
    return (head[:room].rstrip() + "..." + end)[:SUBJECT_LIMIT]


def truncate_to_bytes(text: str, limit: int, suffix: str) -> str:
    """Cut `text` so that text + suffix fits in `limit` UTF-8 bytes, never inside a character."""
    budget = limit - len(suffix.encode("utf-8"))
    raw = text.encode("utf-8")
    if len(raw) <= budget:
        return text + suffix
    return raw[: max(budget, 0)].decode("utf-8", errors="ignore") + suffix
