"""policy-unknown-action: actions and services the catalogue does not know."""

from __future__ import annotations

from collections.abc import Iterator

from rolewatch.model import Finding
from rolewatch.rules.registry import RuleContext, rule
from rolewatch.rules.validation.customer_policies import customer_policies, policy_labels


@rule
def policy_unknown_action(ctx: RuleContext) -> Iterator[Finding]:
    cat = ctx.permissions.catalogue
    problems: list[str] = []
    actions: list[str] = []
    labels: list[str] = []
    for label, policy in sorted(customer_policies(ctx), key=lambda lp: lp[0]):
        if not policy.unknown_actions:
            continue
        labels.append(label)
        for location, pattern in policy.unknown_actions:
            service = pattern.split(":", 1)[0]
            actions.append(pattern)
            if "*" not in service and "?" not in service and not cat.is_known_service(service):
                problems.append(f"{label} {location}: unknown service prefix {service!r} in {pattern!r}")
            else:
                problems.append(f"{label} {location}: {pattern!r} matches no action of the service")
    if problems:
        yield ctx.finding(
            "policy-unknown-action",
            f"{policy_labels(labels)} of {ctx.role.name} name {len(problems)} action(s) that do not exist "
            f"(in the {cat.source} catalogue); they grant or deny nothing.",
            actions=actions,
            evidence=problems,
        )
