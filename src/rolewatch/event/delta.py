"""What one call changed: the effective actions a role (or an instance) gained and lost. Pure.

CloudTrail tells what was called, IAM tells the state now; the state before is reconstructed from both:

- AttachRolePolicy: now minus that managed policy (exact).
- DetachRolePolicy: now plus that policy at its current default version (exact unless it was deleted).
- PutRolePolicy: now minus that inline policy; exact only if the name was new, since CloudTrail does not
  log the document it replaced.
- DeleteRolePolicy: unknown; the deleted document is neither logged nor readable any more.
- PutRolePermissionsBoundary: now without a boundary; exact only if there was none before.
- DeleteRolePermissionsBoundary: unknown; CloudTrail does not log which boundary was removed.
- CreatePolicyVersion / SetDefaultPolicyVersion: now with the previous default version, which is
  inferred (IAM does not record earlier defaults; see inventory.change_history).
- instance profile changes: the old role (none for a launch or a first association) vs the new one;
  for a replacement, exact while EC2 still shows the replaced association.

Every `PermissionDelta` says which basis it stands on, so a reader knows how far to trust it. Effective
actions are the engine's bitsets (`Permissions.allowed`: allowed on some resource after denies and the
boundary); nothing here expands a wildcard itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from rolewatch.model import AttachedPolicy, PolicyError, RoleSnapshot
from rolewatch.policy.catalogue import catalogue
from rolewatch.policy.permissions import CompiledPolicy, Permissions, compile_policy
from rolewatch.rules.escalation.methods import satisfied_methods
from rolewatch.rules.permissions.grants import admin_level

# Calls whose delta is computed (the others change trust, tags or session length: no permission delta).
PERMISSION_CALLS: frozenset[str] = frozenset(
    {
        "AttachRolePolicy",
        "DetachRolePolicy",
        "PutRolePolicy",
        "DeleteRolePolicy",
        "PutRolePermissionsBoundary",
        "DeleteRolePermissionsBoundary",
        "CreatePolicyVersion",
        "SetDefaultPolicyVersion",
    }
)
SERVICES_SHOWN = 8
ESCALATIONS_SHOWN = 5


@dataclass(frozen=True)
class Before:
    """The reconstructed state before the call, and how it was reconstructed."""

    role: RoleSnapshot | None  # None: no role at all (an instance without one, or not knowable)
    basis: str
    known: bool = True


@dataclass(frozen=True)
class ServiceDelta:
    service: str
    levels: tuple[tuple[str, int], ...]  # (access level, action count), most first

    @property
    def count(self) -> int:
        return sum(n for _, n in self.levels)

    def text(self) -> str:
        return f"{self.service} ({', '.join(f'{level} {n}' for level, n in self.levels)})"


@dataclass(frozen=True)
class PermissionDelta:
    subject: str  # "role NAME" or "instance i-..."
    change: str  # the call, as a reader says it
    basis: str
    known: bool
    gained: int = field(repr=False)  # bitset of catalogue actions (a 20,000-bit int has no useful repr)
    lost: int = field(repr=False)
    admin_before: str | None = None  # "full" / "near" / None
    admin_after: str | None = None
    escalation_gained: tuple[str, ...] = ()  # privilege-escalation methods newly possible
    escalation_lost: tuple[str, ...] = ()

    @property
    def gained_admin(self) -> bool:
        return self.admin_after is not None and self.admin_after != self.admin_before

    def gained_by_service(self) -> list[ServiceDelta]:
        return by_service(self.gained)

    def lost_by_service(self) -> list[ServiceDelta]:
        return by_service(self.lost)

    def lines(self) -> list[str]:
        """The delta as a person reads it in the report's "What changed" section."""
        out = [f"{self.subject}: {self.change}"]
        if not self.known:
            out.append(f"  permission delta unknown: {self.basis}")
            return out
        if self.gained_admin:
            out.append(f"  NEW: {'full' if self.admin_after == 'full' else 'near-'} administrator access")
        if self.escalation_gained:
            shown = self.escalation_gained[:ESCALATIONS_SHOWN]
            more = len(self.escalation_gained) - len(shown)
            out.append("  NEW privilege escalation: " + "; ".join(shown) + (f" (+{more} more)" if more > 0 else ""))
        out.append("  " + _side("gained", self.gained))
        out.append("  " + _side("lost", self.lost))
        if self.escalation_lost:
            out.append("  no longer possible: " + "; ".join(self.escalation_lost[:ESCALATIONS_SHOWN]))
        out.append(f"  (basis: {self.basis})")
        return out

    def to_dict(self) -> dict[str, Any]:
        cat = catalogue()
        return {
            "subject": self.subject,
            "change": self.change,
            "basis": self.basis,
            "known": self.known,
            "gained": {"count": self.gained.bit_count(), "actions": cat.names_in(self.gained, 200)},
            "lost": {"count": self.lost.bit_count(), "actions": cat.names_in(self.lost, 200)},
            "gained_by_service": {s.service: dict(s.levels) for s in self.gained_by_service()},
            "lost_by_service": {s.service: dict(s.levels) for s in self.lost_by_service()},
            "admin_before": self.admin_before,
            "admin_after": self.admin_after,
            "escalation_gained": list(self.escalation_gained),
            "escalation_lost": list(self.escalation_lost),
        }


def _side(verb: str, mask: int) -> str:
    if not mask:
        return f"{verb}: nothing"
    services = by_service(mask)
    shown = ", ".join(s.text() for s in services[:SERVICES_SHOWN])
    more = len(services) - SERVICES_SHOWN
    return f"{verb} {mask.bit_count():,} action(s) in {len(services)} service(s): {shown}" + (
        f" (+{more} more services)" if more > 0 else ""
    )


def by_service(mask: int) -> list[ServiceDelta]:
    """The actions of a bitset grouped by service and access level; services with most actions first."""
    cat = catalogue()
    out = []
    for service in cat.services_in(mask):
        in_service = mask & cat.service_mask(service)
        levels = [(level, (in_service & cat.level_mask(level)).bit_count()) for level in cat.access_levels]
        kept = tuple(sorted(((lv, n) for lv, n in levels if n), key=lambda ln: -ln[1]))
        out.append(ServiceDelta(service, kept))
    return sorted(out, key=lambda s: (-s.count, s.service))


# -- effective permissions of a snapshot ------------------------------------------------------------


def permissions_of(role: RoleSnapshot | None) -> Permissions:
    """The role's effective permissions (none for no role). Unreadable documents grant nothing here;
    the audit reports them as errors."""
    if role is None:
        return Permissions([])
    policies: list[tuple[str, CompiledPolicy]] = []
    for attached in role.permission_policies:
        compiled = _compiled(attached)
        if compiled is not None:
            policies.append((attached.arn or attached.name, compiled))
    boundary = role.permissions_boundary
    compiled_boundary = _compiled(boundary) if boundary is not None and boundary.document is not None else None
    return Permissions(policies, compiled_boundary)


def _compiled(policy: AttachedPolicy) -> CompiledPolicy | None:
    try:
        return compile_policy(policy.document, policy.location)
    except PolicyError:
        return None


def compute_delta(subject: str, change: str, before: Before, after: RoleSnapshot | None) -> PermissionDelta:
    """Effective actions gained and lost between the reconstructed `before` and the current `after`."""
    if not before.known:
        return PermissionDelta(subject, change, before.basis, known=False, gained=0, lost=0)
    old, new = permissions_of(before.role), permissions_of(after)
    old_admin, new_admin = admin_level(old), admin_level(new)
    # An administrator gains nothing from an escalation path: a new admin is named as such instead.
    old_methods = {m.actions: m.title for m, _ in satisfied_methods(old)} if old_admin != "full" else {}
    new_methods = {m.actions: m.title for m, _ in satisfied_methods(new)} if new_admin != "full" else {}
    return PermissionDelta(
        subject=subject,
        change=change,
        basis=before.basis,
        known=True,
        gained=new.allowed & ~old.allowed,
        lost=old.allowed & ~new.allowed,
        admin_before=old_admin,
        admin_after=new_admin,
        # An administrator gains nothing from an escalation path; a new admin is named as such instead.
        escalation_gained=tuple(t for k, t in new_methods.items() if k not in old_methods)
        if new_admin != "full"
        else (),
        escalation_lost=tuple(t for k, t in old_methods.items() if k not in new_methods) if new_admin != "full" else (),
    )


# -- reconstructing the state before the call --------------------------------------------------------


def before_role_change(
    event_name: str,
    params: Mapping[str, Any],
    current: RoleSnapshot,
    *,
    policy_before: AttachedPolicy | None = None,
) -> Before:
    """The role as it was before `event_name` with these request parameters.

    `policy_before` is what the caller read from IAM where the event alone is not enough: for
    DetachRolePolicy the detached policy (default version), for CreatePolicyVersion and
    SetDefaultPolicyVersion the policy at its previous default version.
    """
    if event_name == "AttachRolePolicy":
        arn = str(params.get("policyArn", ""))
        if arn not in current.managed_policy_arns:
            return Before(None, f"{arn} is no longer attached: the role changed again since this call", False)
        return Before(_without_managed(current, arn), f"the role without {arn}")
    if event_name == "DetachRolePolicy":
        arn = str(params.get("policyArn", ""))
        if policy_before is None:
            return Before(None, f"{arn} no longer exists, so what it granted cannot be read", False)
        if arn in current.managed_policy_arns:
            return Before(None, f"{arn} is attached again: the role changed again since this call", False)
        return Before(_with_managed(current, policy_before), f"the role plus {arn} at its default version")
    if event_name == "PutRolePolicy":
        name = str(params.get("policyName", ""))
        before = replace(current, inline_policies=tuple(p for p in current.inline_policies if p.name != name))
        return Before(
            before,
            f"the role without inline policy {name}; if {name} replaced an earlier version, actions shown as gained "
            "may have been granted before (CloudTrail does not log the replaced document)",
        )
    if event_name == "DeleteRolePolicy":
        return Before(None, "CloudTrail does not log the deleted inline document and IAM no longer has it", False)
    if event_name == "PutRolePermissionsBoundary":
        return Before(
            replace(current, permissions_boundary=None),
            "the role without a boundary; if it had another boundary before, the delta is against no boundary "
            "(CloudTrail does not log the replaced one)",
        )
    if event_name == "DeleteRolePermissionsBoundary":
        return Before(None, "CloudTrail does not log which boundary was removed", False)
    if event_name in ("CreatePolicyVersion", "SetDefaultPolicyVersion"):
        arn = str(params.get("policyArn", ""))
        if policy_before is None:
            return Before(None, f"the previous default version of {arn} is not readable any more", False)
        return Before(_with_version(current, arn, policy_before), f"the role with {policy_before.location}")
    raise ValueError(f"{event_name} does not change a role's permissions")


def _without_managed(role: RoleSnapshot, arn: str) -> RoleSnapshot:
    return replace(
        role,
        managed_policies=tuple(p for p in role.managed_policies if p.arn != arn),
        attached_policy_arns=tuple(a for a in role.managed_policy_arns if a != arn),
    )


def _with_managed(role: RoleSnapshot, policy: AttachedPolicy) -> RoleSnapshot:
    return replace(
        role,
        managed_policies=(*role.managed_policies, policy),
        attached_policy_arns=(*role.managed_policy_arns, str(policy.arn)),
    )


def _with_version(role: RoleSnapshot, arn: str, previous: AttachedPolicy) -> RoleSnapshot:
    """The role with every use of the policy (attached or as boundary) at the previous version."""
    managed = tuple(previous if p.arn == arn else p for p in role.managed_policies)
    boundary = role.permissions_boundary
    if boundary is not None and boundary.arn == arn:
        boundary = previous
    return replace(role, managed_policies=managed, permissions_boundary=boundary)


def before_instance_change(old_role: RoleSnapshot | None, basis: str, known: bool = True) -> Before:
    """An instance's role before a profile change: the old role (None when it had none)."""
    return Before(old_role, basis, known)
