"""baseline-disallowed-action: actions beyond what the role's baseline profile allows."""

from __future__ import annotations

import re
from collections.abc import Iterator

from rolewatch.model import Finding, Severity
from rolewatch.policy.permissions import resource_pattern_mask
from rolewatch.remediation import (
    action_summary,
    catalogue_names,
    corrected_policy_name,
    fill_policy_variables,
)
from rolewatch.rules.baseline.profile_policies import (
    forbids,
    granted_by,
    policy_name,
    profile_severity,
    replacement,
)
from rolewatch.rules.excess import excess_severity
from rolewatch.rules.registry import RuleContext, rule

DETAIL_LIMIT = 10  # actions named in a finding's sentence
ACTIONS_LIMIT = 50  # actions listed in a finding's `actions`


_POLICY_VARIABLE = re.compile(r"\$\{[^}]*\}")


@rule
def baseline_disallowed_action(ctx: RuleContext) -> Iterator[Finding]:
    profile = ctx.profile
    granted, unrestricted = _granted_masks(ctx)
    sensitive = granted & profile.sensitive_mask
    if sensitive:
        yield _sensitive_finding(ctx, sensitive)
    if not profile.restricts_actions:
        return
    outside = granted & ~profile.permitted_mask & ~sensitive
    unscoped = _unscoped_by_service(ctx, unrestricted)
    if outside or unscoped:
        yield _excess_finding(ctx, outside, unscoped)


def _granted_masks(ctx: RuleContext) -> tuple[int, int]:
    """What the role is granted (anywhere, and on every resource), leaving out the grants of forbidden
    managed policies: baseline-forbidden-managed-policy already reports those, with their fix."""
    granted = unrestricted = 0
    for lg in ctx.permissions.grants:
        if not forbids(ctx.profile, lg.policy):
            granted |= lg.mask
            unrestricted |= lg.unrestricted_mask
    return granted, unrestricted


def _sensitive_finding(ctx: RuleContext, sensitive: int) -> Finding:
    role, profile = ctx.role, ctx.profile
    names = catalogue_names(sensitive, ACTIONS_LIMIT)
    count = sensitive.bit_count()
    sources = granted_by(ctx, sensitive)
    policy, cli = replacement(ctx, sources)
    return ctx.finding(
        "baseline-disallowed-action",
        f"{role.name} (profile {profile.name}) can use {count} action(s) the profile marks as sensitive: "
        f"{action_summary(names, DETAIL_LIMIT, count)}; granted by {', '.join(map(policy_name, sources))}.",
        actions=names,
        evidence=(f"profile={profile.name}", f"sensitive-actions={count}", *(f"granted-by={s}" for s in sources)),
        cli=cli,
        policy=policy,
        severity=profile_severity(ctx, "baseline-disallowed-action", Severity.HIGH),
        remediation=f"Remove the sensitive actions from {role.name}; roles of the {profile.name} profile must "
        "never hold them." + (" The corrected policy keeps only what the profile allows." if policy else ""),
    )


def _unscoped_by_service(ctx: RuleContext, unrestricted: int) -> dict[str, int]:
    """Per service the profile names resources for: allowed actions the role holds on every resource."""
    out: dict[str, int] = {}
    cat = ctx.permissions.catalogue
    for service, arns in ctx.profile.resources:
        usable = 0
        for arn in arns:
            usable |= resource_pattern_mask(_POLICY_VARIABLE.sub("*", arn))
        mask = unrestricted & ctx.profile.permitted_mask & cat.service_mask(service) & usable
        if mask:
            out[service] = mask
    return out


def _excess_finding(ctx: RuleContext, outside: int, unscoped: dict[str, int]) -> Finding:
    role, profile = ctx.role, ctx.profile
    # Only the first names are listed (ACTIONS_LIMIT in all): ranking every name of a broad mask is slow.
    outside_count = outside.bit_count()
    outside_names = catalogue_names(outside, ACTIONS_LIMIT)
    problems: list[str] = []
    evidence = [f"profile={profile.name}"]
    if outside_names:
        problems.append(
            f"{outside_count} action(s) outside the profile's allowed services and actions: "
            f"{action_summary(outside_names, DETAIL_LIMIT, outside_count)}"
        )
        evidence.append(f"outside-profile={outside_count}")
    unscoped_names: list[str] = []
    for service, mask in unscoped.items():
        names = catalogue_names(mask, max(DETAIL_LIMIT, ACTIONS_LIMIT - len(outside_names) - len(unscoped_names)))
        unscoped_names += names
        scope = ", ".join(fill_policy_variables(a, role) for a in profile.resources_for(service))
        problems.append(
            f"{action_summary(names, DETAIL_LIMIT, mask.bit_count())} on every resource, where the profile "
            f"scopes {service} to {scope}"
        )
        evidence.append(f"unscoped={service}")
    offending = outside
    for mask in unscoped.values():
        offending |= mask
    sources = granted_by(ctx, offending)
    evidence += [f"granted-by={s}" for s in sources]
    policy, cli = replacement(ctx, sources)
    return ctx.finding(
        "baseline-disallowed-action",
        f"{role.name} (profile {profile.name}) has {'; and '.join(problems)}. Granted by "
        f"{', '.join(map(policy_name, sources))}.",
        actions=(outside_names + unscoped_names)[:ACTIONS_LIMIT],
        evidence=evidence,
        cli=cli,
        policy=policy,
        severity=profile_severity(
            ctx, "baseline-disallowed-action", excess_severity(ctx.permissions, profile, offending)
        ),
        remediation=(
            f"Replace {', '.join(map(policy_name, sources))} with {corrected_policy_name(role)}, which keeps only "
            f"the actions the {profile.name} profile allows, on the resources it names."
            if policy
            else f"Remove the actions the {profile.name} profile does not allow from "
            f"{', '.join(map(policy_name, sources))}, or move the role to a profile that allows them "
            "(a change the security team reviews)."
        ),
    )
