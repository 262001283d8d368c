"""What the baseline rules share: the profile's severity override and the role's policies by label."""

from __future__ import annotations

from rolewatch.baseline import Profile
from rolewatch.model import Severity
from rolewatch.policy.permissions import Permissions
from rolewatch.remediation import (
    least_privilege_policy,
    replace_with_policy_cli,
    revise_policy_cli,
)
from rolewatch.rules.registry import RuleContext


def profile_severity(ctx: RuleContext, rule_id: str, default: Severity | None = None) -> Severity | None:
    return ctx.profile.severity_for(rule_id) or default


def policy_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def forbids(profile: Profile, arn: str) -> bool:
    """profile.forbids_policy(arn), remembered: every role of a profile asks about the same few
    managed policies. The entry holds the profile, so its id cannot be reused while it exists."""
    key = (id(profile), arn)
    entry = _FORBIDDEN.get(key)
    if entry is None or entry[0] is not profile:
        if len(_FORBIDDEN) >= _FORBIDDEN_SIZE:
            _FORBIDDEN.pop(next(iter(_FORBIDDEN)))
        entry = _FORBIDDEN[key] = (profile, profile.forbids_policy(arn))
    return entry[1]


_FORBIDDEN: dict[tuple[int, str], tuple[Profile, bool]] = {}
_FORBIDDEN_SIZE = 4096


def granted_by(ctx: RuleContext, mask: int) -> list[str]:
    """Labels (inline name or managed ARN) of the policies whose statements grant any of the actions."""
    labels: list[str] = []
    for lg in ctx.permissions.grants_for(mask):
        if lg.policy not in labels:
            labels.append(lg.policy)
    return labels


def permissions_of(ctx: RuleContext, labels: list[str]) -> Permissions:
    """Effective permissions of some of the role's policies only: what a replacement policy replaces.
    Kept for reuse: thousands of roles attach the same managed policy under the same boundary.
    Compiled policies are cached for the process, so their identity stands for their text."""
    chosen = [(label, compiled) for label, compiled in ctx.policies if label in labels]
    boundary = ctx.permissions.boundary
    key = (tuple((label, id(compiled)) for label, compiled in chosen), id(boundary))
    entry = _PARTIAL_PERMISSIONS.get(key)
    if entry is not None:
        return entry[1]
    permissions = Permissions(chosen, boundary)
    if len(_PARTIAL_PERMISSIONS) >= _PARTIAL_PERMISSIONS_SIZE:
        _PARTIAL_PERMISSIONS.pop(next(iter(_PARTIAL_PERMISSIONS)))
    # The entry holds the policies it was built from, so their ids cannot be reused while it exists.
    _PARTIAL_PERMISSIONS[key] = ((chosen, boundary), permissions)
    return permissions


_PARTIAL_PERMISSIONS: dict[tuple[object, ...], tuple[object, Permissions]] = {}
_PARTIAL_PERMISSIONS_SIZE = 256


def replacement(ctx: RuleContext, labels: list[str]) -> tuple[dict | None, list[str]]:
    """A corrected policy for what the named policies grant, and the commands that swap it in."""
    policy = least_privilege_policy(permissions_of(ctx, labels), ctx.profile, ctx.role)
    if policy is not None:
        return policy, replace_with_policy_cli(ctx.role, labels)
    return None, [command for label in labels for command in revise_policy_cli(ctx.role, label)]
