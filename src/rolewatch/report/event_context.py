"""The part of an event report that says what happened: the call, who made it, and what it changed. Pure.

Shown above the findings in the SNS message and stored under `event` / `changes` in the JSON report.

Everything here but our own wording comes from the event's payload, which the caller wrote: each field
is shown through rolewatch.untrusted.display (one printable line, chat mentions inert) and shortened to
FIELD_LIMIT characters, so a user agent cannot forge a line of the report or push it past SNS's limit.
Only an EventBridge delivery of a CloudTrail event names a caller CloudTrail recorded; anything else (a
direct invocation, an Access Analyzer finding event) is marked "on demand, actor not verified".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rolewatch.event.delta import PermissionDelta
from rolewatch.event.triggers import EC2_SOURCE, IAM_SOURCE, AuditRequest
from rolewatch.untrusted import display

FIELD_LIMIT = 256  # characters of one payload field shown in a report (the JSON report keeps it whole)
UNVERIFIED = "on demand, actor not verified"


def actor_verified(request: AuditRequest) -> bool:
    """True only for a CloudTrail record (the caller is who CloudTrail recorded); false for a direct
    invocation or an Access Analyzer event, whose payload anyone allowed to invoke the function could write."""
    return request.event_source in (IAM_SOURCE, EC2_SOURCE)


def shown(value: object) -> str:
    return display(value, FIELD_LIMIT)


def actor_lines(request: AuditRequest) -> list[str]:
    actor = request.actor
    if not actor_verified(request):
        origin = f"{actor.type} {actor.arn}" if actor.arn else actor.type
        return [f"Who: {UNVERIFIED} ({shown(origin)})"]
    lines = [f"Who: {shown(actor.arn or actor.principal_id or 'unknown principal')} ({shown(actor.type)})"]
    if actor.session_issuer_arn:
        lines.append(f"  session issuer: {shown(actor.session_issuer_arn)}")
    if actor.invoked_by:
        lines.append(f"  invoked by: {shown(actor.invoked_by)}")
    if request.source_ip:
        lines.append(f"  source IP: {shown(request.source_ip)}")
    if request.user_agent:
        lines.append(f"  user agent: {shown(request.user_agent)}")
    return lines


def event_header(
    request: AuditRequest,
    *,
    roles: Sequence[str],
    deleted: Sequence[str],
    deltas: Sequence[PermissionDelta],
    notes: Sequence[str] = (),
) -> list[str]:
    """The lines above the findings: event, actor, targets, what changed."""
    where = f" in {shown(request.region)}" if request.region else ""
    account = f", account {shown(request.account)}" if request.account else ""
    when = shown(request.time) if request.time else "unknown time"
    lines = [
        f"rolewatch: {shown(request.event_name)} ({shown(request.event_source)}) at {when}{where}{account}",
        f"Event id: {shown(request.event_id)}",
        *actor_lines(request),
        f"Audited: {', '.join(shown(r) for r in roles) if roles else 'no role'}",
    ]
    if deleted:
        gone = ", ".join(shown(r) for r in deleted)
        lines.append(f"Deleted before audit: {gone} (the role no longer exists; nothing to audit)")
    for note in notes:
        lines.append(f"Note: {shown(note)}")
    if deltas:
        lines.append("What changed:")
        for delta in deltas:
            lines.extend("  " + display(line) for line in delta.lines())
    return lines


CLAIM_LIMIT = 1024  # characters of a claimed policy document quoted in the message
# What each granting call's parameters claim, in the words of the report.
_CLAIMS = {
    "CreateRole": (("assumeRolePolicyDocument", "trust policy"),),
    "UpdateAssumeRolePolicy": (("policyDocument", "trust policy"),),
    "AttachRolePolicy": (("policyArn", "attached policy"),),
    "PutRolePolicy": (("policyName", "inline policy"), ("policyDocument", "inline policy document")),
}


def claimed_grant_lines(request: AuditRequest) -> list[str]:
    """For a role gone before the audit: what the call claimed to grant, quoted as unverified."""
    params = request.request_parameters
    lines = [
        f"UNVERIFIED: {shown(request.event_name)} granted the role access, and the role could not be read "
        "(gone before the audit). What the event claimed, as CloudTrail recorded it:"
    ]
    for key, label in _CLAIMS.get(request.event_name, ()):
        value = params.get(key)
        if value is not None:
            lines.append(f"  {label}: {display(value, CLAIM_LIMIT)}")
    lines.append("  Check CloudTrail for what else this principal did around this time.")
    return lines


def event_record(request: AuditRequest) -> dict[str, Any]:
    """The event as the JSON report stores it."""
    actor = request.actor
    return {
        "id": request.event_id,
        "name": request.event_name,
        "source": request.event_source,
        "time": request.time,
        "region": request.region,
        "account": request.account,
        "actor_verified": actor_verified(request),
        "actor": {
            "type": actor.type,
            "arn": actor.arn,
            "principal_id": actor.principal_id,
            "account_id": actor.account_id,
            "session_issuer_arn": actor.session_issuer_arn,
            "invoked_by": actor.invoked_by,
            "source_ip": request.source_ip,
            "user_agent": request.user_agent,
        },
        "targets": [{"kind": t.kind.value, "value": t.value} for t in request.targets],
    }
