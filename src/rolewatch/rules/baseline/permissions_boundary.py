"""baseline-permissions-boundary: the boundary the role's profile requires."""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase

from rolewatch.model import Finding, Severity
from rolewatch.policy.catalogue import ACCESS_PERMISSIONS, ACCESS_WRITE
from rolewatch.policy.permissions import Permissions
from rolewatch.remediation import (
    boundary_arn_for,
    permissions_boundary_cli,
)
from rolewatch.rules.baseline.profile_policies import (
    policy_name,
    profile_severity,
)
from rolewatch.rules.registry import RuleContext, rule


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
        severity=profile_severity(
            ctx, "baseline-permissions-boundary", None if changes_iam or current else Severity.LOW
        ),
        remediation=f"Attach the permissions boundary {policy_name(expected)} to {role.name}"
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
    return policy_name(current) == expected
