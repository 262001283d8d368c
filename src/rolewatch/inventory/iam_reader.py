"""A role's current state read live from IAM (and EC2 for the instances using it) into a RoleSnapshot.

The AWS adapter of the event pipeline: it reads, it never judges. Documents stay raw (the real API
returns them URL-encoded, boto3 may decode them, moto returns objects or strings): the engine parses
every form and reports a bad one with the `location` set here. Every list call is paginated.

Each public function declares the IAM/EC2 actions it calls with `rolewatch.aws_permissions.requires`
(the event audit function runs them); `REQUIRED_ACTIONS` is this module's own union.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from rolewatch.aws_permissions import EVENT_AUDIT, declared_in, requires
from rolewatch.inventory.clients import AwsClients
from rolewatch.model import AttachedPolicy, InstanceProfileRef, RoleSnapshot

# -- caching and retrying --------------------------------------------------------------------------


class AWSManagedPolicyCache:
    """AWS-managed policy versions by (ARN, version id), kept across warm Lambda invocations.

    Only AWS-managed policies are cached: their versions are immutable and nobody can delete and
    recreate them, whereas a customer policy recreated under the same name starts again at v1.
    """

    def __init__(self, max_entries: int = 512) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], AttachedPolicy] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, arn: str, version_id: str) -> AttachedPolicy | None:
        policy = self._entries.get((arn, version_id))
        if policy is None:
            self.misses += 1
            return None
        self._entries.move_to_end((arn, version_id))
        self.hits += 1
        return policy

    def put(self, arn: str, version_id: str, policy: AttachedPolicy) -> None:
        self._entries[(arn, version_id)] = policy
        self._entries.move_to_end((arn, version_id))
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)


# Module level on purpose: it survives between invocations of a warm Lambda container.
AWS_MANAGED_POLICY_CACHE = AWSManagedPolicyCache()


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for a role that CloudTrail reported but IAM does not show yet (eventual consistency)."""

    attempts: int = 4
    first_delay: float = 0.5
    max_delay: float = 4.0

    def delays(self) -> list[float]:
        return [min(self.first_delay * 2**i, self.max_delay) for i in range(self.attempts - 1)]


DEFAULT_RETRY = RetryPolicy()
# Whole-role reads before a piece that keeps vanishing fails the invocation (each costs one role read).
SNAPSHOT_ATTEMPTS = 3


class RoleReadError(RuntimeError):
    """A role that exists could not be read consistently; raised so the invocation fails and is retried."""


def _is_missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in {"NoSuchEntity", "NoSuchEntityException"}


def _items(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


def _name_from_arn(name_or_arn: str) -> str:
    # Instance-profile and policy ARNs may carry a path: the name is the last segment.
    return name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn


def _timestamp(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


# -- policies --------------------------------------------------------------------------------------


@requires("iam:ListRolePolicies", "iam:GetRolePolicy", by=EVENT_AUDIT)
def read_inline_policies(clients: AwsClients, role_name: str) -> tuple[AttachedPolicy, ...]:
    """Every inline policy. A NoSuchEntity (a policy deleted since it was listed, or the role) propagates:
    read_role re-reads the whole role rather than report a state that never existed."""
    policies = []
    for name in _items(clients.iam, "list_role_policies", "PolicyNames", RoleName=role_name):
        document = clients.iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        where = f"iam:GetRolePolicy(RoleName={role_name}, PolicyName={name})"
        policies.append(AttachedPolicy(name=name, document=document, location=where))
    return tuple(policies)


@requires("iam:GetPolicy", "iam:GetPolicyVersion", by=EVENT_AUDIT)
def read_managed_policy(
    clients: AwsClients,
    policy_arn: str,
    cache: AWSManagedPolicyCache = AWS_MANAGED_POLICY_CACHE,
    *,
    missing_ok: bool = True,
) -> AttachedPolicy | None:
    """The policy at its default version, or None if it no longer exists.

    With `missing_ok=False` (reading a role's own policies) a policy or version that vanished raises the
    NoSuchEntity ClientError instead: the caller re-reads the role, because "gone" is not "grants nothing"
    when a version was swapped between GetPolicy and GetPolicyVersion."""
    try:
        policy = clients.iam.get_policy(PolicyArn=policy_arn)["Policy"]
        version = policy["DefaultVersionId"]
        aws_managed = ":iam::aws:policy/" in policy_arn
        cached = cache.get(policy_arn, version) if aws_managed else None
        if cached is not None:
            return cached
        document = clients.iam.get_policy_version(PolicyArn=policy_arn, VersionId=version)["PolicyVersion"]["Document"]
    except ClientError as exc:
        if missing_ok and _is_missing(exc):  # detached and deleted, or its version replaced, while reading
            return None
        raise
    read = AttachedPolicy(
        name=policy.get("PolicyName") or _name_from_arn(policy_arn),
        document=document,
        arn=policy_arn,
        location=f"iam:GetPolicyVersion(PolicyArn={policy_arn}, VersionId={version})",
    )
    if aws_managed:
        cache.put(policy_arn, version, read)
    return read


@requires("iam:ListEntitiesForPolicy", by=EVENT_AUDIT)
def roles_for_policy(clients: AwsClients, policy_arn: str) -> list[str]:
    """Every role using the policy. No PolicyUsageFilter on purpose: a role that has it as permissions
    boundary is affected by a new default version too."""
    try:
        entities = _items(
            clients.iam, "list_entities_for_policy", "PolicyRoles", PolicyArn=policy_arn, EntityFilter="Role"
        )
        return sorted({r["RoleName"] for r in entities})
    except ClientError as exc:
        if _is_missing(exc):
            return []
        raise


# -- instance profiles and instances ----------------------------------------------------------------


@dataclass(frozen=True)
class InstanceProfile:
    name: str
    arn: str
    role_names: tuple[str, ...]


@requires("iam:GetInstanceProfile", by=EVENT_AUDIT)
def read_instance_profile(clients: AwsClients, name_or_arn: str) -> InstanceProfile | None:
    """The profile and the role in it (at most one), or None if it does not exist."""
    try:
        profile = clients.iam.get_instance_profile(InstanceProfileName=_name_from_arn(name_or_arn))["InstanceProfile"]
    except ClientError as exc:
        if _is_missing(exc):
            return None
        raise
    roles = tuple(r["RoleName"] for r in profile.get("Roles", []))
    return InstanceProfile(name=profile["InstanceProfileName"], arn=profile["Arn"], role_names=roles)


# EC2 accepts at most 200 values per filter; stay well below it.
_FILTER_CHUNK = 100


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _FILTER_CHUNK):
        yield values[start : start + _FILTER_CHUNK]


def _associations(clients: AwsClients, filter_name: str, values: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Live (state "associated") instance-profile associations matching the filter."""
    for chunk in _chunks(sorted(set(values))):
        filters = [{"Name": filter_name, "Values": chunk}, {"Name": "state", "Values": ["associated"]}]
        for association in _items(
            clients.ec2, "describe_iam_instance_profile_associations", "IamInstanceProfileAssociations", Filters=filters
        ):
            # Re-checked here too, so the answer does not depend on every endpoint honouring the filters.
            if association.get("State") == "associated":
                yield association


@requires("ec2:DescribeIamInstanceProfileAssociations", by=EVENT_AUDIT)
def instances_for_profiles(clients: AwsClients, profile_arns: Iterable[str]) -> dict[str, list[str]]:
    """Instance ids running with each profile (in the clients' region): {profile ARN: [instance id]}."""
    wanted = list(profile_arns)
    found: dict[str, list[str]] = {arn: [] for arn in wanted}
    for association in _associations(clients, "instance-profile.arn", wanted):
        arn = association.get("IamInstanceProfile", {}).get("Arn")
        if arn in found:
            found[arn].append(association["InstanceId"])
    return {arn: sorted(ids) for arn, ids in found.items()}


@requires("ec2:DescribeIamInstanceProfileAssociations", by=EVENT_AUDIT)
def profiles_for_instances(clients: AwsClients, instance_ids: Iterable[str]) -> dict[str, str]:
    """The instance profile ARN each instance runs with: {instance id: profile ARN}; absent = none."""
    wanted = set(instance_ids)
    return {
        a["InstanceId"]: a["IamInstanceProfile"]["Arn"]
        for a in _associations(clients, "instance-id", wanted)
        if a.get("InstanceId") in wanted
    }


# -- the role --------------------------------------------------------------------------------------


def _get_role(
    clients: AwsClients, role_name: str, retry_missing: bool, retry: RetryPolicy, sleep: Callable[[float], None]
) -> dict[str, Any] | None:
    delays: list[float | None] = [*retry.delays(), None] if retry_missing else [None]
    for delay in delays:
        try:
            return clients.iam.get_role(RoleName=role_name)["Role"]
        except ClientError as exc:
            if not _is_missing(exc):
                raise
        if delay is not None:
            sleep(delay)
    return None


def _boundary(clients: AwsClients, role: dict[str, Any], cache: AWSManagedPolicyCache) -> AttachedPolicy | None:
    arn = role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
    if not arn:
        return None
    # A policy in use as a boundary cannot be deleted; a vanished version means the read must be redone.
    return read_managed_policy(clients, arn, cache, missing_ok=False)


def _instance_profiles(clients: AwsClients, role_name: str, include_instances: bool) -> tuple[InstanceProfileRef, ...]:
    profiles = list(_items(clients.iam, "list_instance_profiles_for_role", "InstanceProfiles", RoleName=role_name))
    arns = [p["Arn"] for p in profiles]
    running = instances_for_profiles(clients, arns) if include_instances and arns else {}
    return tuple(
        InstanceProfileRef(name=p["InstanceProfileName"], arn=p["Arn"], instance_ids=tuple(running.get(p["Arn"], ())))
        for p in profiles
    )


@requires(
    "iam:GetRole",
    "iam:ListRolePolicies",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:ListInstanceProfilesForRole",
    "ec2:DescribeIamInstanceProfileAssociations",
    by=EVENT_AUDIT,
)
def read_role(
    clients: AwsClients,
    role_name: str,
    *,
    retry_missing: bool = False,
    retry: RetryPolicy = DEFAULT_RETRY,
    sleep: Callable[[float], None] = time.sleep,
    cache: AWSManagedPolicyCache = AWS_MANAGED_POLICY_CACHE,
    include_instances: bool = True,
) -> RoleSnapshot | None:
    """The role's current state, or None when it does not exist (deleted before the audit).

    `retry_missing` waits for a role that was just created (IAM is eventually consistent) before
    concluding it is gone; use it for CreateRole events only, so a deleted role is not waited for.

    Only GetRole's NoSuchEntity means the role is gone. Any other piece that vanishes while the role is
    read (a policy version swapped, an inline policy deleted, a policy detached and deleted) makes the
    whole role be read again, up to SNAPSHOT_ATTEMPTS times; then RoleReadError fails the invocation
    (retry, then the dead-letter queue) rather than report a state that never existed or none at all.
    Someone churning policy versions on purpose can only delay the report, not suppress it.
    """
    vanished = ""
    for attempt in range(SNAPSHOT_ATTEMPTS):
        role = _get_role(clients, role_name, retry_missing and attempt == 0, retry, sleep)
        if role is None:
            return None
        try:
            return _snapshot(clients, role, cache, include_instances)
        except ClientError as exc:
            if not _is_missing(exc):
                raise
            vanished = _operation_of(exc)
    raise RoleReadError(
        f"role {role_name}: {vanished} answered NoSuchEntity on each of {SNAPSHOT_ATTEMPTS} reads while GetRole "
        "still finds the role; failing so the event is retried"
    )


def _operation_of(exc: ClientError) -> str:
    return str(getattr(exc, "operation_name", "") or "a read")


def _snapshot(
    clients: AwsClients, role: dict[str, Any], cache: AWSManagedPolicyCache, include_instances: bool
) -> RoleSnapshot:
    name = role["RoleName"]
    attached_arns = [
        p["PolicyArn"] for p in _items(clients.iam, "list_attached_role_policies", "AttachedPolicies", RoleName=name)
    ]
    managed = [read_managed_policy(clients, arn, cache, missing_ok=False) for arn in attached_arns]
    managed_read = tuple(p for p in managed if p is not None)
    return RoleSnapshot(
        arn=role["Arn"],
        name=name,
        path=role.get("Path", "/"),
        trust_policy=role.get("AssumeRolePolicyDocument"),
        inline_policies=read_inline_policies(clients, name),
        managed_policies=managed_read,
        permissions_boundary=_boundary(clients, role, cache),
        tags=tuple((t["Key"], t.get("Value", "")) for t in role.get("Tags", [])),
        max_session_duration=role.get("MaxSessionDuration", 3600),
        instance_profiles=_instance_profiles(clients, name, include_instances),
        last_used=_timestamp(role.get("RoleLastUsed", {}).get("LastUsedDate")),
        create_date=_timestamp(role.get("CreateDate")),
        attached_policy_arns=tuple(p.arn for p in managed_read if p.arn),
    )


REQUIRED_ACTIONS: frozenset[str] = frozenset().union(*declared_in(__name__).values())
