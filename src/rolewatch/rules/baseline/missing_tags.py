"""baseline-missing-tags: tags the role's profile requires."""

from __future__ import annotations

from collections.abc import Iterator

from rolewatch.model import Finding
from rolewatch.remediation import (
    tag_role_cli,
)
from rolewatch.rules.baseline.profile_policies import (
    profile_severity,
)
from rolewatch.rules.registry import RuleContext, rule


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
        severity=profile_severity(ctx, "baseline-missing-tags"),
        remediation=f"Tag {role.name} with {', '.join(missing)}: replace each <value> in the command.",
    )
