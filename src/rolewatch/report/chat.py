"""An audit as a chat message: the custom-notification format of Amazon Q Developer in chat applications
(formerly AWS Chatbot), which posts it to Slack, Microsoft Teams or Amazon Chime. Pure.

The format (https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html): `version` "1.0",
`source` "custom", `content` with `textType` "client-markdown", `title`, `description`, `nextSteps` and
`keywords`; an optional `metadata` (`threadId`, `summary`, `eventType`, `relatedResources`,
`additionalContext`). A message in any other shape is dropped by the service without an error.

One message is what a person reads in a channel, not the report: severity, the role, what changed, who
did it, the three worst findings, one fix and a link to the full report. Its lengths are rolewatch's
budgets (the documentation gives the shape, not per-field limits): the description stays under Slack's
3,000-character limit for a block of text, so the client never cuts a message in the middle of a line.

Untrusted text stays text. Role names, finding titles (which quote policy values), the actor and the
change come from IAM or from the caller's payload: each is shown as one printable line inside a code
span, with backticks and angle brackets replaced by look-alikes (ˋ ‹ ›) and broadcast mentions made
inert (＠here). In Slack's and Teams' markdown a code span renders literally: no link (`<https://x|y>`,
`[x](y)`), no mention (`<!channel>`, `<@U123>`), no emphasis. Only rolewatch's own words and the S3
console link it builds are markdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rolewatch.event.delta import PermissionDelta
from rolewatch.event.triggers import AuditRequest
from rolewatch.model import AuditResult, Finding, Severity
from rolewatch.report.document import severity_counts, worst_first
from rolewatch.report.event_context import actor_verified
from rolewatch.untrusted import display

CHAT_VERSION = "1.0"
CHAT_SOURCE = "custom"
TEXT_TYPE = "client-markdown"
TITLE_LIMIT = 250
DESCRIPTION_LIMIT = 3_000
NEXT_STEP_LIMIT = 600
MAX_NEXT_STEPS = 3
MAX_KEYWORDS = 6
KEYWORD_LIMIT = 40
TOP_FINDINGS = 3
CHANGED_LINES = 3
VALUE_LIMIT = 160  # characters of one untrusted value in the message
SEVERITY_EMOJI = {
    Severity.CRITICAL: ":rotating_light:",
    Severity.HIGH: ":red_circle:",
    Severity.MEDIUM: ":large_orange_circle:",
    Severity.LOW: ":large_blue_circle:",
    Severity.INFO: ":information_source:",
}
_LOOK_ALIKES = str.maketrans({"`": "\u02cb", "<": "\u2039", ">": "\u203a"})


def code(value: object, limit: int = VALUE_LIMIT) -> str:
    """Untrusted text as an inline code span that no chat client turns into a link, mention or markup."""
    text = display(value, limit).translate(_LOOK_ALIKES)
    return f"`{text}`" if text.strip() else "`-`"


@dataclass(frozen=True)
class ChatContext:
    """What the message says besides the findings. Every string but `link` is untrusted text."""

    event_type: str  # "rolewatch-event-audit" / "rolewatch-weekly-audit" (our own words)
    headline: str  # our own words: "AttachRolePolicy" / "Weekly audit"
    account: str = ""
    roles: Sequence[str] = ()
    who: str | None = None  # None: not an audit of a call (the weekly audit)
    who_verified: bool = True
    changed: Sequence[str] = ()
    notice: str | None = None  # e.g. "role X gone before audit"
    link: str | None = None  # the full report (an S3 console URL rolewatch built)
    event_id: str = ""
    extra_lines: Sequence[str] = field(default_factory=tuple)  # our own words, markdown allowed


def compose_chat(result: AuditResult, context: ChatContext) -> dict[str, Any]:
    """The custom notification for the findings of `result` (already filtered to what is published)."""
    findings = worst_first(f for f in result.findings if f.suppressed_by is None)
    worst = findings[0].severity if findings else None
    roles = list(dict.fromkeys(context.roles)) or list(dict.fromkeys(_role(f.resource) for f in findings))
    level = worst.value.upper() if worst else "NO FINDINGS"
    emoji = SEVERITY_EMOJI[worst] if worst else ":white_check_mark:"
    role_part = f" on {code(roles[0], 64)}" + (f" (+{len(roles) - 1} more)" if len(roles) > 1 else "") if roles else ""
    title = _fit(f"{emoji} rolewatch {level}: {context.headline}{role_part}", TITLE_LIMIT)

    lines = [
        f"*Severity:* {level} · {_counts(findings)}"
        + (f" · account {code(context.account, 20)}" if context.account else "")
    ]
    if roles:
        lines.append("*Role:* " + ", ".join(code(r, 64) for r in roles[:3]) + (" …" if len(roles) > 3 else ""))
    if context.notice:
        lines.append(f"*Notice:* {code(context.notice)}")
    for i, change in enumerate(context.changed[:CHANGED_LINES]):
        lines.append(("*What changed:* " if i == 0 else "          ") + code(change))
    if context.who is not None:
        lines.append(
            f"*Who:* {code(context.who)}" + ("" if context.who_verified else " (on demand, actor not verified)")
        )
    if findings:
        lines.append("*Top findings:*")
        lines.extend(
            f"• *{f.severity.value.upper()}* {code(f.title)} on {code(_role(f.resource), 64)}"
            for f in findings[:TOP_FINDINGS]
        )
        if len(findings) > TOP_FINDINGS:
            lines.append(f"• … and {len(findings) - TOP_FINDINGS} more in the full report")
    lines.extend(context.extra_lines)
    if context.link:
        lines.append(f"*Full report:* {context.link}")
    description = _fit_lines(lines, DESCRIPTION_LIMIT)

    next_steps = []
    if findings:
        next_steps.append(_fit(f"Fix first: {_one_fix(findings[0])}", NEXT_STEP_LIMIT))
    if context.link:
        next_steps.append(_fit(f"Read the full report: {context.link}", NEXT_STEP_LIMIT))
    keywords = _keywords(worst, findings)
    metadata: dict[str, Any] = {
        "threadId": _plain(f"rolewatch-{context.account}-{roles[0] if roles else context.event_type}", 128),
        "summary": _plain(f"rolewatch {level}: {context.headline} {', '.join(roles[:2])}", 200),
        "eventType": context.event_type,
        "relatedResources": [_plain(f.resource, 512) for f in findings[:TOP_FINDINGS]],
        "additionalContext": {
            "account": _plain(context.account, 20),
            "findings": str(len(findings)),
            **({"eventId": _plain(context.event_id, 128)} if context.event_id else {}),
        },
    }
    message: dict[str, Any] = {
        "version": CHAT_VERSION,
        "source": CHAT_SOURCE,
        "content": {
            "textType": TEXT_TYPE,
            "title": title,
            "description": description,
            "nextSteps": next_steps[:MAX_NEXT_STEPS],
            "keywords": keywords,
        },
        "metadata": metadata,
    }
    if context.event_id:
        message["id"] = _plain(context.event_id, 128)
    return message


def _one_fix(finding: Finding) -> str:
    """The worst finding's first command when a code span shows it exactly (it can then be pasted),
    otherwise the fix sentence; the full report has every command."""
    for command in finding.remediation.cli:
        if command.startswith("#"):
            continue
        if display(command, NEXT_STEP_LIMIT - 40).translate(_LOOK_ALIKES) == command:
            return f"`{command}`"
        break
    return code(finding.remediation.summary, NEXT_STEP_LIMIT - 40)


def _counts(findings: Sequence[Finding]) -> str:
    if not findings:
        return "nothing to report"
    parts = [f"{n} {sev}" for sev, n in severity_counts(findings).items() if n]
    return f"{len(findings)} finding{'s' if len(findings) != 1 else ''} ({', '.join(parts)})"


def _keywords(worst: Severity | None, findings: Sequence[Finding]) -> list[str]:
    """Severity and categories: rolewatch's closed sets, never text from the audited account."""
    words = ["rolewatch", worst.value if worst else "clean"]
    words.extend(dict.fromkeys(f.category for f in findings))
    return [w[:KEYWORD_LIMIT] for w in dict.fromkeys(words)][:MAX_KEYWORDS]


def _role(resource: str) -> str:
    return resource.rsplit("/", 1)[-1] if ":role/" in resource else resource


def _plain(value: object, limit: int) -> str:
    return display(value, limit).translate(_LOOK_ALIKES)


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fit_lines(lines: list[str], limit: int) -> str:
    """Whole lines up to the budget, then a line saying the rest is in the full report."""
    kept: list[str] = []
    size = 0
    tail = "… (cut: the full report has the rest)"
    for line in lines:
        if size + len(line) + 1 > limit - len(tail) - 1:
            kept.append(tail)
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept)


def event_chat_context(
    request: AuditRequest,
    *,
    roles: Sequence[str],
    deltas: Sequence[PermissionDelta],
    notice: str | None,
    link: str | None,
) -> ChatContext:
    """What an event audit's message says: the call, who made it, and what it changed."""
    actor = request.actor
    changed = [line.strip() for delta in deltas for line in delta.lines()[:2]]
    return ChatContext(
        event_type="rolewatch-event-audit",
        # CloudTrail's event names are identifiers; anything else from the payload goes in a code span.
        headline=request.event_name
        if request.event_name.isascii() and request.event_name.isalnum()
        else code(request.event_name, 64),
        account=request.account,
        roles=roles,
        who=actor.arn or actor.principal_id or actor.type or "unknown principal",
        who_verified=actor_verified(request),
        changed=changed,
        notice=notice,
        link=link,
        event_id=request.event_id,
    )
