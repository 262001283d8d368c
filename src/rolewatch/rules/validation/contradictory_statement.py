"""policy-contradictory-statement: an Allow the policy's own Denies cancel."""

from __future__ import annotations

from collections.abc import Iterator

from rolewatch.model import Finding
from rolewatch.policy.permissions import deny_covers
from rolewatch.rules.registry import RuleContext, rule
from rolewatch.rules.validation.customer_policies import policy_labels


@rule
def policy_contradictory_statement(ctx: RuleContext) -> Iterator[Finding]:
    denies = [d for _, p in ctx.policies for d in p.denies]
    if not denies:
        return
    evidence: list[str] = []
    labels: list[str] = []
    for label, policy in sorted(ctx.policies, key=lambda lp: lp[0]):
        cancelled = []
        for grant in policy.allows:
            remaining = grant.mask
            for d in denies:
                if remaining & d.mask and deny_covers(d, grant):
                    remaining &= ~d.mask
            if grant.mask and not remaining:
                cancelled.append(f"{label} {grant.location} ({', '.join(grant.patterns[:4])}) is fully denied")
        if cancelled:
            labels.append(label)
            evidence += cancelled
    if evidence:
        yield ctx.finding(
            "policy-contradictory-statement",
            f"{policy_labels(labels)} of {ctx.role.name}: {len(evidence)} Allow statement(s) are cancelled by "
            "explicit Deny statements and grant nothing.",
            evidence=evidence,
        )
