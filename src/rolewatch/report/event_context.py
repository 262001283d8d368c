"""The part of an event report that says what happened: the call, who made it, and what it changed. Pure.

Shown above the findings in the SNS message and stored under `event` / `changes` in the JSON report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rolewatch.delta import PermissionDelta
from rolewatch.triggers import DIRECT_INVOCATION, AuditRequest


def actor_lines(request: AuditRequest) -> list[str]:
    actor = request.actor
    if request.event_source == DIRECT_INVOCATION:
        return ["Who: on-demand audit (direct invocation)"]
    lines = [f"Who: {actor.arn or actor.principal_id or 'unknown principal'} ({actor.type})"]
    if actor.session_issuer_arn:
        lines.append(f"  session issuer: {actor.session_issuer_arn}")
    if actor.invoked_by:
        lines.append(f"  invoked by: {actor.invoked_by}")
    if request.source_ip:
        lines.append(f"  source IP: {request.source_ip}")
    if request.user_agent:
        lines.append(f"  user agent: {request.user_agent}")
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
    where = f" in {request.region}" if request.region else ""
    account = f", account {request.account}" if request.account else ""
    lines = [
        f"rolewatch: {request.event_name} ({request.event_source}) at {request.time or 'unknown time'}{where}{account}",
        f"Event id: {request.event_id}",
        *actor_lines(request),
        f"Audited: {', '.join(roles) if roles else 'no role'}",
    ]
    if deleted:
        lines.append(f"Deleted before audit: {', '.join(deleted)} (the role no longer exists; nothing to audit)")
    for note in notes:
        lines.append(f"Note: {note}")
    if deltas:
        lines.append("What changed:")
        for delta in deltas:
            lines.extend("  " + line for line in delta.lines())
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
