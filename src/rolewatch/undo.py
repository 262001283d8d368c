"""The first fix of an event report: undo the call that caused a finding, when undoing it is enough.

A finding raised by a change (AdministratorAccess just attached, a new default policy version, an
inline policy just put) is fixed most simply and most faithfully by reversing that one call: the role
gets back exactly what it had, not a synthesized policy that may drop something the workload used.
Undoing is offered only when it is known to work: the role as it was before the call (event/delta.py
reconstructs it) is audited again (the engine is pure and fast), and only the findings that role does
not have are given the undo command, first; the synthesized least-privilege fix stays, second.
Calls whose earlier state is unknown (DeleteRolePolicy, DeleteRolePermissionsBoundary: CloudTrail does
not log what was removed) get no undo. Pure: no AWS call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from rolewatch.audit import audit_roles
from rolewatch.baseline import Baseline
from rolewatch.event.delta import Before
from rolewatch.model import AuditResult, Finding, Remediation, RoleSnapshot
from rolewatch.remediation import (
    attach_policy_cli,
    delete_boundary_cli,
    detach_policy_cli,
    remove_policy_cli,
    set_default_version_cli,
)
from rolewatch.rules.registry import registered_rules

_VERSION_ID = re.compile(r"VersionId=([^,)\s]+)")


@dataclass(frozen=True)
class Undo:
    """A command that reverses one call on one role, and what it does in words."""

    command: str
    what: str


def undo_of(event_name: str, params: Mapping[str, Any], role: RoleSnapshot, before: Before) -> Undo | None:
    """The command that puts the role back as `before` describes it; None when that state is unknown."""
    if not before.known or before.role is None:
        return None
    arn = str(params.get("policyArn", ""))
    if event_name == "AttachRolePolicy" and arn:
        return Undo(detach_policy_cli(role, arn), f"detach {arn}, attached by this call")
    if event_name == "DetachRolePolicy" and arn:
        return Undo(attach_policy_cli(role, arn), f"attach {arn} again, detached by this call")
    if event_name == "PutRolePolicy" and params.get("policyName"):
        name = str(params["policyName"])
        return Undo(
            remove_policy_cli(role, name),
            f"delete the inline policy {name}, put by this call (if it replaced an earlier {name}, put that back "
            "instead)",
        )
    if event_name == "PutRolePermissionsBoundary":
        return Undo(delete_boundary_cli(role), "remove the permissions boundary this call set (the role had none)")
    if event_name in ("CreatePolicyVersion", "SetDefaultPolicyVersion") and arn and before.role is not None:
        previous = _previous_version(before.role, arn)
        if previous is None:
            return None
        return Undo(set_default_version_cli(arn, previous), f"set the default version of {arn} back to {previous}")
    return None


def _previous_version(role: RoleSnapshot, arn: str) -> str | None:
    policies = [*role.managed_policies, *([role.permissions_boundary] if role.permissions_boundary else [])]
    for policy in policies:
        if policy.arn == arn and (match := _VERSION_ID.search(policy.location)):
            return match.group(1)
    return None


def undo_first(
    result: AuditResult,
    *,
    event_name: str,
    params: Mapping[str, Any],
    roles: Mapping[str, RoleSnapshot],
    befores: Mapping[str, Before],
    baseline: Baseline,
    now: datetime,
) -> AuditResult:
    """The result with the undo command first in the fix of every engine finding the undo removes."""
    rule_ids = set(registered_rules())
    undone: dict[str, tuple[Undo, set[tuple[str, tuple[str, ...]]]]] = {}
    for name, role in roles.items():
        before = befores.get(name)
        undo = undo_of(event_name, params, role, before) if before is not None else None
        if undo is None or before is None or before.role is None:
            continue
        earlier = audit_roles([before.role], baseline, now=now)
        undone[role.arn] = (undo, {_key(f) for f in earlier.findings})
    if not undone:
        return result
    findings = []
    for finding in result.findings:
        hit = undone.get(finding.resource)
        undoable = hit is not None and finding.rule in rule_ids and _key(finding) not in hit[1]
        findings.append(_with_undo(finding, hit[0]) if hit is not None and undoable else finding)
    return replace(result, findings=tuple(findings))


def _key(finding: Finding) -> tuple[str, tuple[str, ...]]:
    return finding.rule, finding.actions


def _with_undo(finding: Finding, undo: Undo) -> Finding:
    old = finding.remediation
    summary = (
        f"First, undo the call that caused this finding: {undo.what}; the role without this change does not "
        f"have the finding (audited again). Otherwise: {old.summary}"
    )
    # The alternative stays whole, after a shell comment: pasted as printed, only the undo runs.
    alternative = (
        ("# Otherwise, instead of the command above:", *old.cli) if old.cli not in ((), (undo.command,)) else ()
    )
    cli = (undo.command, *alternative)
    return replace(finding, remediation=Remediation(summary, cli, old.policy))
