"""The role's grants as the permission rules read them: administrator level, the statements behind a mask."""

from __future__ import annotations

from rolewatch.policy.catalogue import (
    ACCESS_LIST,
    ACCESS_READ,
    ActionCatalogue,
)
from rolewatch.policy.permissions import LabeledGrant, Permissions, format_conditions
from rolewatch.remediation import remove_grants_cli
from rolewatch.rules.registry import RuleContext

# Coverage of the catalogue, by actions allowed on every resource, from which a role is treated as an
# administrator. NotAction statements that exclude a handful of actions stay above it.
FULL_ADMIN_COVERAGE = 0.99
NEAR_ADMIN_COVERAGE = 0.80


MAX_LISTED = 25


def admin_level(permissions: Permissions) -> str | None:
    """'full', 'near' or None: how much of the catalogue the role can do on every resource.
    Several rules ask for every role: the answer is kept on the permissions object."""
    memo = permissions.__dict__.get("_admin_level", _UNSET)
    if memo is _UNSET:
        memo = permissions.__dict__["_admin_level"] = _admin_level(permissions)
    return memo  # type: ignore[return-value]


_UNSET = object()


def _admin_level(permissions: Permissions) -> str | None:
    cat = permissions.catalogue
    everywhere = permissions.unrestricted & permissions.escalation
    coverage = everywhere.bit_count() / len(cat)
    iam_admin = cat.expand("iam:*")
    if coverage >= FULL_ADMIN_COVERAGE and (everywhere & iam_admin) == iam_admin:
        return "full"
    if coverage >= NEAR_ADMIN_COVERAGE:
        return "near"
    return None


def is_admin(ctx: RuleContext) -> bool:
    """Full or near administrators get one admin-access finding; the broad-access rules stay quiet."""
    return admin_level(ctx.permissions) is not None


def contributing(ctx: RuleContext, mask: int, everywhere: bool = False) -> list[str]:
    """Evidence: which policy statements grant (part of) the mask; with `everywhere`, only those that
    grant it on every resource (a statement scoped to named resources adds nothing to such a finding)."""
    out: list[str] = []
    for lg in granting(ctx, mask, everywhere):
        text = f"{lg.policy} {lg.grant.location}"
        if lg.grant.restricting:
            text += f" (only when {format_conditions(lg.grant.restricting)})"
        if text not in out:  # a statement a deny or the boundary split into pieces is one statement
            out.append(text)
    return out


def granting(ctx: RuleContext, mask: int, everywhere: bool = False) -> list[LabeledGrant]:
    """The role's grants that hold (part of) the mask: on any resource, or only on every resource."""
    if everywhere:
        return [lg for lg in ctx.permissions.grants if lg.unrestricted_mask & mask]
    return ctx.permissions.grants_for(mask)


def accepted_sources(ctx: RuleContext, grants: list[LabeledGrant]) -> list[str] | None:
    """The policies behind the grants when every one of them is accepted (see `is_accepted`); None
    when any grant comes from elsewhere."""
    labels: list[str] = []
    for lg in grants:
        if lg.policy in labels:
            continue
        if not is_accepted(ctx, lg.policy):
            return None
        labels.append(lg.policy)
    return labels or None


def is_accepted(ctx: RuleContext, label: str) -> bool:
    """An AWS-managed policy the baseline accepts as written (its `allowed_managed_policies`: AWS's
    documented policies for its own agents), or an AWS-managed read-only policy (AWS's job policies for
    reading a service, such as AmazonS3ReadOnlyAccess)."""
    if ":iam::aws:policy/" not in label:
        return False
    return ctx.profile.accepts_managed_policy(label) or _read_only_policy(ctx, label)


def _read_only_policy(ctx: RuleContext, label: str) -> bool:
    cat = ctx.permissions.catalogue
    reads = cat.level_mask(ACCESS_READ) | cat.level_mask(ACCESS_LIST)
    for name, compiled in ctx.policies:
        if name == label:
            return all(not (g.mask & ~reads) for g in compiled.allows)
    return False


def listed(cat: ActionCatalogue, mask: int, limit: int = MAX_LISTED) -> tuple[list[str], int]:
    names = cat.names_in(mask, limit)
    return names, mask.bit_count() - len(names)


def count_note(extra: int) -> str:
    return f" (+{extra} more)" if extra else ""


def removal_cli(ctx: RuleContext, mask: int, everywhere: bool = False) -> list[str]:
    """CLI that takes the mask away from the role and nothing else (see remove_grants_cli)."""
    return remove_grants_cli(ctx.role, ctx.policies, granting(ctx, mask, everywhere))
