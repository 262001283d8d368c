"""The permission delta of one call, reading from IAM and EC2 what the event alone does not say.

`event/delta.py` computes a delta from two states (pure); this module finds the state before the call:
the policy version a CreatePolicyVersion replaced, the managed policy a DetachRolePolicy removed, the
association a ReplaceIamInstanceProfileAssociation replaced. `DeltaReader.befores` keeps each role's
state before the call, which `undo.py` audits again to offer the undo command.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rolewatch.event.delta import (
    PERMISSION_CALLS,
    Before,
    PermissionDelta,
    before_instance_change,
    before_role_change,
    compute_delta,
)
from rolewatch.event.targets import Targets
from rolewatch.event.triggers import AuditRequest
from rolewatch.inventory.change_history import association_profile, previous_default_version
from rolewatch.inventory.clients import AwsClients
from rolewatch.inventory.iam_reader import read_instance_profile, read_managed_policy, read_role
from rolewatch.model import RoleSnapshot

# Calls that change which role an instance runs with: the delta is old role vs new role.
INSTANCE_CALLS = frozenset(
    {
        "RunInstances",
        "AssociateIamInstanceProfile",
        "ReplaceIamInstanceProfileAssociation",
        "DisassociateIamInstanceProfile",
        "AddRoleToInstanceProfile",
        "RemoveRoleFromInstanceProfile",
    }
)


class DeltaReader:
    """The permission delta of the call, reading from IAM/EC2 what the event alone does not say."""

    def __init__(
        self, clients: AwsClients, request: AuditRequest, snapshots: Mapping[str, RoleSnapshot], targets: Targets
    ) -> None:
        self.clients = clients
        self.request = request
        self.params = request.request_parameters
        self.snapshots = dict(snapshots)
        self.targets = targets
        self.befores: dict[str, Before] = {}  # role name -> its state before the call (undo.py re-audits it)

    def deltas(self) -> list[PermissionDelta]:
        name = self.request.event_name
        if name in PERMISSION_CALLS:
            return self._role_deltas()
        if name in INSTANCE_CALLS:
            return self._instance_deltas()
        return []

    def _role_deltas(self) -> list[PermissionDelta]:
        name = self.request.event_name
        policy_before = None
        # Never a missing ARN sent to IAM as "" or "None": without one the delta says it cannot tell.
        policy_arn = _given(self.params, "policyArn")
        if name == "DetachRolePolicy" and policy_arn:
            policy_before = read_managed_policy(self.clients, policy_arn)
        elif name in ("CreatePolicyVersion", "SetDefaultPolicyVersion") and policy_arn:
            policy_before = previous_default_version(self.clients, policy_arn)
        change = _describe_call(name, self.params)
        out = []
        for role_name, snapshot in self.snapshots.items():
            before = before_role_change(name, self.params, snapshot, policy_before=policy_before)
            self.befores[role_name] = before
            out.append(compute_delta(f"role {role_name}", change, before, snapshot))
        return out

    def _role(self, name: str | None) -> RoleSnapshot | None:
        if name is None:
            return None
        if name not in self.snapshots:
            snapshot = read_role(self.clients, name, include_instances=False)
            if snapshot is not None:
                self.snapshots[name] = snapshot
        return self.snapshots.get(name)

    def _instance_deltas(self) -> list[PermissionDelta]:
        name = self.request.event_name
        targets = self.targets
        new_profile = self.request.instance_profiles[0] if self.request.instance_profiles else None
        new_role_name = targets.role_of_profile(new_profile) if new_profile else None
        if name in ("AddRoleToInstanceProfile", "RemoveRoleFromInstanceProfile"):
            role_name = _given(self.params, "roleName")
            profile = _given(self.params, "instanceProfileName")
            if role_name is None:
                return []  # the event names no role: nothing to compare
            role = self._role(role_name)
            subject = f"instance profile {profile}"
            if name == "AddRoleToInstanceProfile":
                before = before_instance_change(None, f"the profile held no role before {role_name} was added")
                return [compute_delta(subject, f"role {role_name} added", before, role)]
            before = before_instance_change(role, f"the profile held {role_name} before it was removed")
            return [compute_delta(subject, f"role {role_name} removed", before, None)]
        out = []
        for instance in self.request.instance_ids:
            if name == "DisassociateIamInstanceProfile":
                old_role = self._role(new_profile and targets.role_of_profile(new_profile))
                before = before_instance_change(old_role, f"the instance ran with profile {new_profile}")
                out.append(compute_delta(f"instance {instance}", f"profile {new_profile} removed", before, None))
                continue
            new_role = self._role(new_role_name)
            change = f"now runs with profile {new_profile} (role {new_role_name or 'none'})"
            if name == "ReplaceIamInstanceProfileAssociation":
                before = self._replaced(new_profile)
            else:
                basis = (
                    "a new instance has no role before its launch"
                    if name == "RunInstances"
                    else "EC2 associates a profile only with an instance that has none, so it had no role before"
                )
                before = before_instance_change(None, basis)
            out.append(compute_delta(f"instance {instance}", change, before, new_role))
        return out

    def _replaced(self, new_profile: str | None) -> Before:
        association = self.request.association_ids[0] if self.request.association_ids else None
        found = association_profile(self.clients, association) if association else None
        if found is None or (new_profile and found[1].rsplit("/", 1)[-1] == new_profile.rsplit("/", 1)[-1]):
            return Before(None, f"EC2 no longer shows the replaced association {association} and its profile", False)
        old_profile = read_instance_profile(self.clients, found[1])
        old_role = old_profile.role_names[0] if old_profile and old_profile.role_names else None
        basis = f"the replaced association {association} had profile {found[1]} (role {old_role or 'none'})"
        return before_instance_change(self._role(old_role), basis)


def _given(params: Mapping[str, Any], key: str) -> str | None:
    value = params.get(key)
    return value if isinstance(value, str) and value.strip() else None


def _describe_call(name: str, params: Mapping[str, Any]) -> str:
    detail = params.get("policyArn") or params.get("policyName") or params.get("permissionsBoundary") or ""
    version = params.get("versionId")
    return " ".join(str(part) for part in (name, detail, version) if part)
