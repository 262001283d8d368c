"""admin-access: the role can do (nearly) everything on every resource."""

from __future__ import annotations

from collections.abc import Iterator

from rolewatch.model import Finding, Severity
from rolewatch.rules.permissions.grants import (
    NEAR_ADMIN_COVERAGE,
    admin_level,
    contributing,
    removal_cli,
)
from rolewatch.rules.registry import RuleContext, rule


@rule
def admin_access(ctx: RuleContext) -> Iterator[Finding]:
    level = admin_level(ctx.permissions)
    if level is None:
        return
    perm = ctx.permissions
    cat = perm.catalogue
    everywhere = perm.unrestricted & perm.escalation
    conditional_only = (perm.unrestricted & perm.definite).bit_count() / len(cat) < NEAR_ADMIN_COVERAGE
    missing = cat.all & ~everywhere
    if level == "full":
        detail = f"{ctx.role.name} can perform every action on every resource"
        severity = Severity.HIGH if conditional_only else Severity.CRITICAL
    else:
        share = everywhere.bit_count() / len(cat)
        detail = (
            f"{ctx.role.name} can perform {share:.0%} of all AWS actions on every resource "
            f"(near-administrator: a NotAction or broad grant excludes only {missing.bit_count()} actions)"
        )
        severity = Severity.MEDIUM if conditional_only else Severity.HIGH
    if conditional_only:
        detail += ", but only under the conditions listed in the evidence"
    yield ctx.finding(
        "admin-access",
        detail + ".",
        actions=("*",),
        evidence=contributing(ctx, everywhere, everywhere=True),
        severity=severity,
        cli=removal_cli(ctx, everywhere, everywhere=True),
    )
