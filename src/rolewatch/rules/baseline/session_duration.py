"""baseline-session-duration: sessions longer than the role's profile allows."""

from __future__ import annotations

from collections.abc import Iterator

from rolewatch.model import Finding
from rolewatch.remediation import (
    max_session_cli,
)
from rolewatch.rules.baseline.profile_policies import (
    profile_severity,
)
from rolewatch.rules.registry import RuleContext, rule


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
        severity=profile_severity(ctx, "baseline-session-duration"),
        remediation=f"Lower the MaxSessionDuration of {role.name} to {limit} seconds.",
    )
