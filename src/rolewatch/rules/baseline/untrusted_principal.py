"""baseline-untrusted-principal: trusted principals the role's profile does not list."""

from __future__ import annotations

import re
from collections.abc import Iterator
from fnmatch import fnmatchcase

from rolewatch.baseline import Profile
from rolewatch.model import Finding
from rolewatch.remediation import (
    trust_policy_without,
    update_trust_cli,
)
from rolewatch.rules.baseline.profile_policies import (
    profile_severity,
)
from rolewatch.rules.registry import RuleContext, rule

_ACCOUNT_ID = re.compile(r"^\d{12}$")


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
        severity=profile_severity(ctx, "baseline-untrusted-principal"),
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
