"""baseline-forbidden-managed-policy and baseline-aws-managed-policy: managed policies the role's profile
forbids, or AWS-managed ones where it prefers customer-managed policies (a forbidden policy gets only
the stronger finding).
"""

from __future__ import annotations

from collections.abc import Iterator

from rolewatch.model import Finding
from rolewatch.remediation import (
    corrected_policy_name,
    detach_policy_cli,
    fetch_managed_policy_cli,
    least_privilege_policy,
    replace_with_policy_cli,
)
from rolewatch.rules.baseline.profile_policies import (
    forbids,
    permissions_of,
    policy_name,
    profile_severity,
)
from rolewatch.rules.registry import RuleContext, rule


@rule
def baseline_forbidden_managed_policy(ctx: RuleContext) -> Iterator[Finding]:
    role, profile = ctx.role, ctx.profile
    arns = sorted(arn for arn in role.managed_policy_arns if forbids(profile, arn))
    if not arns:
        return
    names = ", ".join(policy_name(arn) for arn in arns)
    policy = least_privilege_policy(permissions_of(ctx, arns), profile, role)
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
        severity=profile_severity(ctx, "baseline-forbidden-managed-policy"),
        remediation=summary,
    )


@rule
def baseline_aws_managed_policy(ctx: RuleContext) -> Iterator[Finding]:
    role, profile = ctx.role, ctx.profile
    if not profile.prefer_customer_managed:
        return
    arns = sorted(
        arn
        for arn in role.managed_policy_arns
        # forbidden ones have their own, stronger finding
        if ":iam::aws:policy/" in arn and not forbids(profile, arn) and not profile.accepts_managed_policy(arn)
    )
    if not arns:
        return
    names = ", ".join(policy_name(arn) for arn in arns)
    policy = least_privilege_policy(permissions_of(ctx, arns), profile, role)
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
        severity=profile_severity(ctx, "baseline-aws-managed-policy"),
        remediation=(
            f"Replace {names} with {corrected_policy_name(role)}, which keeps only the actions "
            f"{role.name} uses from them that the {profile.name} profile allows."
            if policy
            else f"Write {corrected_policy_name(role)} from the part of {names} the workload uses "
            "(IAM Access Analyzer can generate it from CloudTrail), attach it, and detach the AWS-managed "
            "policies."
        ),
    )
