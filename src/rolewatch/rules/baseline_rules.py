"""Baseline rules: a role against the least-privilege profile its class is held to (see baseline.py).

Each finding names the role, the profile and what is wrong, and carries the AWS CLI commands that fix
it; where the profile says what the role may do, also a corrected least-privilege policy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from fnmatch import fnmatchcase

from rolewatch.baseline import Profile
from rolewatch.model import Finding, Severity
from rolewatch.policy.catalogue import ACCESS_PERMISSIONS, ACCESS_WRITE
from rolewatch.policy.permissions import Permissions, resource_pattern_mask
from rolewatch.remediation import (
    action_summary,
    boundary_arn_for,
    catalogue_names,
    corrected_policy_name,
    detach_policy_cli,
    fetch_managed_policy_cli,
    fill_policy_variables,
    least_privilege_policy,
    max_session_cli,
    permissions_boundary_cli,
    replace_with_policy_cli,
    revise_policy_cli,
    tag_role_cli,
    trust_policy_without,
    update_trust_cli,
)
from rolewatch.rules.excess import excess_severity
from rolewatch.rules.registry import RuleContext, rule

DETAIL_LIMIT = 10  # actions named in a finding's sentence
ACTIONS_LIMIT = 50  # actions listed in a finding's `actions`
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_POLICY_VARIABLE = re.compile(r"\$\{[^}]*\}")


def _severity(ctx: RuleContext, rule_id: str, default: Severity | None = None) -> Severity | None:
    return ctx.profile.severity_for(rule_id) or default


def _policy_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _forbids(profile: Profile, arn: str) -> bool:
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


def _granted_by(ctx: RuleContext, mask: int) -> list[str]:
    """Labels (inline name or managed ARN) of the policies whose statements grant any of the actions."""
    labels: list[str] = []
    for lg in ctx.permissions.grants_for(mask):
        if lg.policy not in labels:
            labels.append(lg.policy)
    return labels


def _permissions_of(ctx: RuleContext, labels: list[str]) -> Permissions:
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


def _replacement(ctx: RuleContext, labels: list[str]) -> tuple[dict | None, list[str]]:
    """A corrected policy for what the named policies grant, and the commands that swap it in."""
    policy = least_privilege_policy(_permissions_of(ctx, labels), ctx.profile, ctx.role)
    if policy is not None:
        return policy, replace_with_policy_cli(ctx.role, labels)
    return None, [command for label in labels for command in revise_policy_cli(ctx.role, label)]


@rule
def baseline_forbidden_managed_policy(ctx: RuleContext) -> Iterator[Finding]:
    role, profile = ctx.role, ctx.profile
    arns = sorted(arn for arn in role.managed_policy_arns if _forbids(profile, arn))
    if not arns:
        return
    names = ", ".join(_policy_name(arn) for arn in arns)
    policy = least_privilege_policy(_permissions_of(ctx, arns), profile, role)
    cli = replace_with_policy_cli(role, arns) if policy else [detach_policy_cli(role, arn) for arn in arns]
    summary = f"Detach {names} from {role.name}" + (
        f" and attach {corrected_policy_name(role)}, which keeps only what the {profile.name} profile allows."
        if policy
        else "; if the workload needs some of their permissions, grant them in a customer-managed policy."
    )
    which = "the managed policy" if len(arns) == 1 else f"{len(arns)} managed policies:"
    yield ctx.finding(
        "baseline-forbidden-managed-policy",
        f"{role.name} has {which} {names} attached, which the baseline profile {profile.name!r} forbids.",
        evidence=(f"profile={profile.name}", *(f"policy={arn}" for arn in arns)),
        cli=cli,
        policy=policy,
        severity=_severity(ctx, "baseline-forbidden-managed-policy"),
        remediation=summary,
    )


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
        if not _forbids(ctx.profile, lg.policy):
            granted |= lg.mask
            unrestricted |= lg.unrestricted_mask
    return granted, unrestricted


def _sensitive_finding(ctx: RuleContext, sensitive: int) -> Finding:
    role, profile = ctx.role, ctx.profile
    names = catalogue_names(sensitive, ACTIONS_LIMIT)
    count = sensitive.bit_count()
    sources = _granted_by(ctx, sensitive)
    policy, cli = _replacement(ctx, sources)
    return ctx.finding(
        "baseline-disallowed-action",
        f"{role.name} (profile {profile.name}) can use {count} action(s) the profile marks as sensitive: "
        f"{action_summary(names, DETAIL_LIMIT, count)}; granted by {', '.join(map(_policy_name, sources))}.",
        actions=names,
        evidence=(f"profile={profile.name}", f"sensitive-actions={count}", *(f"granted-by={s}" for s in sources)),
        cli=cli,
        policy=policy,
        severity=_severity(ctx, "baseline-disallowed-action", Severity.HIGH),
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
    sources = _granted_by(ctx, offending)
    evidence += [f"granted-by={s}" for s in sources]
    policy, cli = _replacement(ctx, sources)
    return ctx.finding(
        "baseline-disallowed-action",
        f"{role.name} (profile {profile.name}) has {'; and '.join(problems)}. Granted by "
        f"{', '.join(map(_policy_name, sources))}.",
        actions=(outside_names + unscoped_names)[:ACTIONS_LIMIT],
        evidence=evidence,
        cli=cli,
        policy=policy,
        severity=_severity(ctx, "baseline-disallowed-action", excess_severity(ctx.permissions, profile, offending)),
        remediation=(
            f"Replace {', '.join(map(_policy_name, sources))} with {corrected_policy_name(role)}, which keeps only "
            f"the actions the {profile.name} profile allows, on the resources it names."
            if policy
            else f"Remove the actions the {profile.name} profile does not allow from "
            f"{', '.join(map(_policy_name, sources))}, or move the role to a profile that allows them "
            "(a change the security team reviews)."
        ),
    )


@rule
def baseline_missing_tags(ctx: RuleContext) -> Iterator[Finding]:
    role, profile = ctx.role, ctx.profile
    present = {key.lower() for key, value in role.tags if value.strip()}
    missing = [key for key in profile.required_tags if key.lower() not in present]
    if not missing:
        return
    yield ctx.finding(
        "baseline-missing-tags",
        f"{role.name} lacks the tag(s) {', '.join(missing)} that the {profile.name} profile requires "
        "(a tag with an empty value counts as missing).",
        evidence=(f"profile={profile.name}", *(f"missing-tag={key}" for key in missing)),
        cli=[tag_role_cli(role, missing)],
        severity=_severity(ctx, "baseline-missing-tags"),
        remediation=f"Tag {role.name} with {', '.join(missing)}: replace each <value> in the command.",
    )


@rule
def baseline_session_duration(ctx: RuleContext) -> Iterator[Finding]:
    role, profile = ctx.role, ctx.profile
    limit = profile.max_session_duration
    if limit is None or role.max_session_duration <= limit:
        return
    yield ctx.finding(
        "baseline-session-duration",
        f"{role.name} allows sessions of {role.max_session_duration} seconds ({role.max_session_duration / 3600:g} h); "
        f"the {profile.name} profile allows at most {limit} seconds ({limit / 3600:g} h).",
        evidence=(f"profile={profile.name}", f"max-session-duration={role.max_session_duration}", f"limit={limit}"),
        cli=[max_session_cli(role, limit)],
        severity=_severity(ctx, "baseline-session-duration"),
        remediation=f"Lower the MaxSessionDuration of {role.name} to {limit} seconds.",
    )


@rule
def baseline_permissions_boundary(ctx: RuleContext) -> Iterator[Finding]:
    role, profile = ctx.role, ctx.profile
    if not profile.require_permissions_boundary:
        return
    expected = boundary_arn_for(role, profile.permissions_boundary)
    current = role.permissions_boundary.arn if role.permissions_boundary else None
    if current is None:
        detail = f"{role.name} has no permissions boundary; the {profile.name} profile requires one"
    elif profile.permissions_boundary and not _is_expected_boundary(profile.permissions_boundary, current):
        detail = (
            f"{role.name} has the permissions boundary {current}, not the "
            f"{profile.permissions_boundary} the {profile.name} profile requires"
        )
    else:
        return
    changes_iam = ctx.permissions.allowed & _iam_changes(ctx.permissions)
    if current is None and not changes_iam:
        detail += " (it cannot change IAM today, so the boundary would cap nothing it can grant itself)"
    yield ctx.finding(
        "baseline-permissions-boundary",
        detail + (f" ({expected})." if profile.permissions_boundary else "."),
        evidence=(f"profile={profile.name}", f"boundary={current or 'none'}", f"expected={expected}"),
        cli=[permissions_boundary_cli(role, expected)],
        severity=_severity(ctx, "baseline-permissions-boundary", None if changes_iam or current else Severity.LOW),
        remediation=f"Attach the permissions boundary {_policy_name(expected)} to {role.name}"
        + ("." if profile.permissions_boundary else " (the baseline names none: use your organisation's)."),
    )


def _iam_changes(permissions: Permissions) -> int:
    """IAM actions that change identities or policies (Write or Permissions management): what a
    boundary is there to cap. A role without them cannot raise its own permissions through IAM."""
    cat = permissions.catalogue
    return cat.service_mask("iam") & (cat.level_mask(ACCESS_WRITE) | cat.level_mask(ACCESS_PERMISSIONS))


def _is_expected_boundary(expected: str, current: str) -> bool:
    if expected.startswith("arn:"):
        return fnmatchcase(current, expected)
    return _policy_name(current) == expected


@rule
def baseline_aws_managed_policy(ctx: RuleContext) -> Iterator[Finding]:
    role, profile = ctx.role, ctx.profile
    if not profile.prefer_customer_managed:
        return
    arns = sorted(
        arn
        for arn in role.managed_policy_arns
        # forbidden ones have their own, stronger finding
        if ":iam::aws:policy/" in arn and not _forbids(profile, arn) and not profile.accepts_managed_policy(arn)
    )
    if not arns:
        return
    names = ", ".join(_policy_name(arn) for arn in arns)
    policy = least_privilege_policy(_permissions_of(ctx, arns), profile, role)
    cli = replace_with_policy_cli(role, arns)
    if policy is None:
        cli = [*(c for arn in arns for c in fetch_managed_policy_cli(arn)), *cli]
    which = "the AWS-managed policy" if len(arns) == 1 else f"{len(arns)} AWS-managed policies:"
    yield ctx.finding(
        "baseline-aws-managed-policy",
        f"{role.name} uses {which} {names}; the {profile.name} profile prefers "
        "customer-managed policies scoped to the workload.",
        evidence=(f"profile={profile.name}", *(f"policy={arn}" for arn in arns)),
        cli=cli,
        policy=policy,
        severity=_severity(ctx, "baseline-aws-managed-policy"),
        remediation=(
            f"Replace {names} with {corrected_policy_name(role)}, which keeps only the actions "
            f"{role.name} uses from them that the {profile.name} profile allows."
            if policy
            else f"Write {corrected_policy_name(role)} from the part of {names} the workload uses "
            "(IAM Access Analyzer can generate it from CloudTrail), attach it, and detach the AWS-managed "
            "policies."
        ),
    )


@rule
def baseline_untrusted_principal(ctx: RuleContext) -> Iterator[Finding]:
    role, profile = ctx.role, ctx.profile
    if not profile.trusted_principals or ctx.trust is None:
        return
    untrusted: list[tuple[str, str]] = []
    for statement in ctx.trust.statements:
        if not statement.allows or statement.principals is None or statement.not_principal:
            continue
        for kind, value in statement.principals.all_values():
            if not _trusted(profile, value) and (kind, value) not in untrusted:
                untrusted.append((kind, value))
    if not untrusted:
        return
    corrected = trust_policy_without(role.trust_policy, lambda kind, value: (kind, value) in untrusted)
    names = ", ".join(f"{kind} {value}" for kind, value in untrusted)
    yield ctx.finding(
        "baseline-untrusted-principal",
        f"The trust policy of {role.name} allows {names}, which the {profile.name} profile does not list among "
        f"the principals roles of its class may trust ({', '.join(profile.trusted_principals)}).",
        evidence=(f"profile={profile.name}", *(f"principal={kind}:{value}" for kind, value in untrusted)),
        cli=[update_trust_cli(role)],
        policy=corrected,
        severity=_severity(ctx, "baseline-untrusted-principal"),
        remediation=(
            f"Update the trust policy of {role.name} to the corrected document, which drops {names}."
            if corrected
            else f"No principal of {role.name}'s trust policy is one the {profile.name} profile allows: write a "
            "trust policy for the intended principal, or have the security team review the profile."
        ),
    )


def _trusted(profile: Profile, value: str) -> bool:
    # A bare account id in a Principal means that account's root: match either spelling.
    spellings = [value.lower()]
    if _ACCOUNT_ID.match(value):
        spellings.append(f"arn:aws:iam::{value}:root")
    return any(fnmatchcase(s, p.lower()) for s in spellings for p in profile.trusted_principals)
