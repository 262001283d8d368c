"""policy-resource-mismatch: a Resource none of the statement's actions can use."""

from __future__ import annotations

from collections.abc import Iterator

from rolewatch.model import Finding
from rolewatch.rules.registry import RuleContext, rule
from rolewatch.rules.validation.customer_policies import customer_policies, policy_labels


@rule
def policy_resource_mismatch(ctx: RuleContext) -> Iterator[Finding]:
    evidence: list[str] = []
    labels: list[str] = []
    for label, policy in sorted(customer_policies(ctx), key=lambda lp: lp[0]):
        if policy.void_resources:
            labels.append(label)
            evidence += [f"{label} {location}: {pattern}" for location, pattern in policy.void_resources]
    if evidence:
        yield ctx.finding(
            "policy-resource-mismatch",
            f"{policy_labels(labels)} of {ctx.role.name}: {len(evidence)} Resource value(s) match no "
            "resource type of their statement's actions, so those grants are void.",
            evidence=evidence,
        )
