"""instance-profile-excess-permissions: an instance role beyond the instance-role baseline."""

from __future__ import annotations

from collections.abc import Iterator

from rolewatch.model import Finding
from rolewatch.remediation import (
    action_summary,
    catalogue_names,
    least_privilege_policy,
    remove_grants_cli,
    replace_with_policy_cli,
)
from rolewatch.rules.excess import excess_severity
from rolewatch.rules.registry import RuleContext, rule

MAX_LISTED = 20  # excess actions named in a finding; the detail gives the full count


@rule
def instance_profile_excess_permissions(ctx: RuleContext) -> Iterator[Finding]:
    """An instance role can do more than the baseline profile selected for it allows.

    Permitted = the profile's `permitted_mask` (its allowed_actions within its allowed_services; every
    action when it lists neither) minus its sensitive_actions, which are never permitted. The excess is
    what `ctx.permissions.allowed` holds beyond that. Severity: `excess_severity` (rules/excess.py):
    high for sensitive actions or permission changes on every resource, low for reads of non-sensitive
    services and grants scoped to named resources.
    The corrected policy is `least_privilege_policy`: what the role holds now and the profile permits.
    """
    if not ctx.role.instance_profiles:
        return
    profile = ctx.profile
    excess = ctx.permissions.allowed & ~(profile.permitted_mask & ~profile.sensitive_mask)
    if not excess:
        return
    sensitive = excess & profile.sensitive_mask
    # Only the first MAX_LISTED names are shown: ranking every name of a broad mask is slow.
    names = catalogue_names(sensitive, MAX_LISTED)
    names += catalogue_names(excess & ~sensitive, MAX_LISTED - len(names))
    count = excess.bit_count()
    detail = (
        f"Instance role {ctx.role.name} (instance profile(s) {', '.join(p.name for p in ctx.role.instance_profiles)}) "
        f"can perform {count} action(s) outside the {profile.name!r} baseline profile"
        + (f", {sensitive.bit_count()} of them sensitive" if sensitive else "")
        + f": {action_summary(names, MAX_LISTED, count)}."
    )
    policy = least_privilege_policy(ctx.permissions, profile, ctx.role)
    grants = ctx.permissions.grants_for(excess)
    granting = sorted({lg.policy for lg in grants})
    cli = (
        replace_with_policy_cli(ctx.role, granting)
        if policy
        else remove_grants_cli(ctx.role, ctx.policies, [lg for lg in grants if lg.mask & excess])
    )
    yield ctx.finding(
        "instance-profile-excess-permissions",
        detail,
        actions=names[:MAX_LISTED],
        evidence=[f"profile={profile.name}", *_granting_statements(ctx, excess)],
        cli=cli,
        policy=policy,
        severity=excess_severity(ctx.permissions, profile, excess),
    )


def _granting_statements(ctx: RuleContext, excess: int) -> list[str]:
    return [
        f"{lg.policy} {lg.grant.location} grants {(lg.mask & excess).bit_count()} of them"
        for lg in ctx.permissions.grants_for(excess)
    ]
