"""What one audit request is about: the roles to audit, and the roles their policies name.

`TargetResolver.resolve(request)` turns what the event names into role names: a role is itself, a
policy leads to every role it is attached to (or is the boundary of), an instance profile to its role,
an instance to the role of the profile it runs with now. What cannot lead to a role (a policy attached
to nothing, an instance without a profile) becomes a note in the report, not a failure.

`read_named_roles` reads the few roles the targets' iam:PassRole / sts:AssumeRole Resources name by
literal ARN, so the audit can judge what passing or assuming them gives without reading the account.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from rolewatch.audit import related_role_arns
from rolewatch.event.triggers import AuditRequest
from rolewatch.inventory.clients import AwsClients
from rolewatch.inventory.iam_reader import (
    InstanceProfile,
    profiles_for_instances,
    read_instance_profile,
    read_role,
    roles_for_policy,
)
from rolewatch.model import RoleSnapshot

MAX_NAMED_ROLES = 20  # roles read besides the targets, to judge what passing or assuming them gives
NAMED_ROLE_DEPTH = 2  # a named role's own named roles are read too, once


@dataclass
class Targets:
    """The role names to audit, in the order the event leads to them, and what the resolver read."""

    roles: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profiles: dict[str, InstanceProfile | None] = field(default_factory=dict)  # as named by the event
    instance_profiles: dict[str, str | None] = field(default_factory=dict)  # instance id -> profile ARN now

    def add(self, *names: str) -> None:
        for name in names:
            if name not in self.roles:
                self.roles.append(name)

    def role_of_profile(self, name_or_arn: str) -> str | None:
        profile = self.profiles.get(name_or_arn)
        return profile.role_names[0] if profile and profile.role_names else None


class TargetResolver:
    """Event targets -> the role names to audit (policies, profiles and instances lead to their roles)."""

    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients
        self._profiles: dict[str, InstanceProfile | None] = {}

    def profile(self, name_or_arn: str) -> InstanceProfile | None:
        key = name_or_arn.rsplit("/", 1)[-1]
        if key not in self._profiles:
            self._profiles[key] = read_instance_profile(self.clients, name_or_arn)
        return self._profiles[key]

    def resolve(self, request: AuditRequest) -> Targets:
        out = Targets()
        out.add(*request.role_names)
        for arn in request.policy_arns:
            users = roles_for_policy(self.clients, arn)
            if not users:
                out.notes.append(f"policy {arn} is attached to no role and is no role's boundary: nothing to audit")
            out.add(*users)
        for name in request.instance_profiles:
            profile = self.profile(name)
            out.profiles[name] = profile
            if profile is None:
                out.notes.append(f"instance profile {name} no longer exists")
            elif not profile.role_names and name not in _removed_from(request):
                out.notes.append(f"instance profile {profile.name} holds no role")
            else:
                out.add(*profile.role_names)
        if request.instance_ids:
            now = profiles_for_instances(self.clients, request.instance_ids)
            for instance in request.instance_ids:
                arn = now.get(instance)
                out.instance_profiles[instance] = arn
                if arn is None:
                    if request.event_name != "DisassociateIamInstanceProfile":
                        out.notes.append(f"instance {instance} runs without an instance profile (or does not exist)")
                    continue
                profile = self.profile(arn)
                out.profiles.setdefault(arn, profile)
                if profile is not None:
                    out.add(*profile.role_names)
        return out


def _removed_from(request: AuditRequest) -> tuple[str, ...]:
    return request.instance_profiles if request.event_name == "RemoveRoleFromInstanceProfile" else ()


def read_named_roles(clients: AwsClients, roles: Iterable[RoleSnapshot], now: datetime) -> list[RoleSnapshot]:
    """The roles of the targets' account that their iam:PassRole / sts:AssumeRole Resources name by
    literal ARN, each read once (not the whole account: a wildcard Resource stays undecided and the
    finding says so). Roles that cannot be read are left out; the finding then says they are unknown."""
    known = {r.arn: r for r in roles}
    accounts = {r.account_id for r in known.values()}
    read: dict[str, RoleSnapshot | None] = {}
    level = list(known.values())
    for _ in range(NAMED_ROLE_DEPTH):
        wanted = sorted(a for a in related_role_arns(level, now) if a not in known and a not in read)
        wanted = [a for a in wanted if a.split(":")[4] in accounts][: MAX_NAMED_ROLES - len(read)]
        level = []
        for arn in wanted:
            snapshot = read[arn] = read_role(clients, arn.rsplit("/", 1)[-1], include_instances=False)
            if snapshot is not None and snapshot.arn == arn:
                level.append(snapshot)
        if not level:
            break
    return [r for r in read.values() if r is not None]
