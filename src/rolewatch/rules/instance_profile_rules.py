"""Rules for roles in instance profiles: they must trust EC2, and stay within the instance-role baseline.

A role is an instance role when `role.instance_profiles` is non-empty (the inventory fills it from
IAM, with the instances running with each profile).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rolewatch.model import Finding
from rolewatch.principals import is_ec2_service, partition_of_arn
from rolewatch.remediation import (
    action_summary,
    catalogue_names,
    least_privilege_policy,
    remove_grants_cli,
    replace_with_policy_cli,
    update_trust_cli,
)
from rolewatch.rules.excess import excess_severity
from rolewatch.rules.registry import RuleContext, rule
from rolewatch.rules.trust_rules import ASSUME_ROLE, allows_action, trust_document
from rolewatch.shell import join

MAX_LISTED = 20  # excess actions named in a finding; the detail gives the full count


# -- instance-profile-trust -----------------------------------------------------------------------
@rule
def instance_profile_trust(ctx: RuleContext) -> Iterator[Finding]:
    """The role is in an instance profile but its trust policy does not let EC2 assume it.

    EC2 counts when an Allow statement names ec2.amazonaws.com (or ec2.amazonaws.com.cn) as a Service
    principal for sts:AssumeRole. Roles without a parsable trust policy produce nothing here.
    """
    if ctx.trust is None or not ctx.role.instance_profiles:
        return
    trusts_ec2 = any(
        allows_action(statement, ASSUME_ROLE) and any(is_ec2_service(s) for s in statement.principals.of("Service"))
        for statement in ctx.trust.statements
        if statement.principals is not None and not statement.not_principal
    )
    if trusts_ec2:
        return
    profiles = ctx.role.instance_profiles
    names = ", ".join(p.name for p in profiles)
    instances = [i for p in profiles for i in p.instance_ids]
    detail = (
        f"Role {ctx.role.name} is in instance profile(s) {names} but its trust policy does not allow "
        "ec2.amazonaws.com to call sts:AssumeRole, so no instance can use it"
        + (f" (running instances: {', '.join(instances)})." if instances else ".")
    )
    yield ctx.finding(
        "instance-profile-trust",
        detail,
        actions=[ASSUME_ROLE],
        evidence=[
            *(f"InstanceProfile={p.arn}" for p in profiles),
            *(f"Instance={i}" for i in instances),
            "AssumeRolePolicyDocument: no Allow for Service ec2.amazonaws.com",
        ],
        cli=[*(_remove_from_profile_cli(p.name, ctx.role.name) for p in profiles), update_trust_cli(ctx.role)],
        policy=_with_ec2_trust(ctx),
    )


def _remove_from_profile_cli(profile_name: str, role_name: str) -> str:
    return join(
        [
            "aws",
            "iam",
            "remove-role-from-instance-profile",
            "--instance-profile-name",
            profile_name,
            "--role-name",
            role_name,
        ]
    )


def _with_ec2_trust(ctx: RuleContext) -> dict[str, Any]:
    """The trust policy with an EC2 statement added (for when the role is meant to run on instances)."""
    document = trust_document(ctx)
    china = partition_of_arn(ctx.role.arn) == "aws-cn"
    service = "ec2.amazonaws.com.cn" if china else "ec2.amazonaws.com"
    document["Statement"].append({"Effect": "Allow", "Principal": {"Service": service}, "Action": ASSUME_ROLE})
    return document


# -- instance-profile-excess-permissions ----------------------------------------------------------
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
