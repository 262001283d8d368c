"""role-chain-escalation: roles this role can assume that hold more than it does."""

from __future__ import annotations

from collections.abc import Iterator

from rolewatch.model import Finding
from rolewatch.policy.graph import ASSUME
from rolewatch.rules.escalation.paths import REACH_SEVERITY, lower_severity, path_evidence
from rolewatch.rules.permissions.grants import (
    admin_level,
)
from rolewatch.rules.registry import RuleContext, rule
from rolewatch.shell import command


@rule(cross_role=True)
def role_chain_escalation(ctx: RuleContext) -> Iterator[Finding]:
    graph = ctx.account.graph
    if graph is None or admin_level(ctx.permissions) == "full":
        return
    paths = graph.escalations(ctx.role.arn, {ASSUME})
    if not paths:
        return
    best = paths[0]
    severity = REACH_SEVERITY[best.reach.rank]
    if best.conditional:
        severity = lower_severity(severity)
    chain = best.describe(graph.name_of)
    target = best.hops[-1].target
    detail = f"{ctx.role.name} can assume {graph.name_of(best.first.target)}"
    if len(best.hops) > 1:
        detail += f" and from there reach {graph.name_of(target)}"
    detail += f", which has {best.reach.what} (chain: {chain})."
    names = [graph.name_of(h.target) for h in best.hops]
    yield ctx.finding(
        "role-chain-escalation",
        detail,
        actions=("sts:AssumeRole",),
        evidence=[f"target: {target}", *path_evidence(paths, graph)],
        cli=[
            _cli("aws", "iam", "get-role", "--role-name", n, "--query", "Role.AssumeRolePolicyDocument") for n in names
        ],
        severity=severity,
    )


def _cli(*words: str) -> str:
    """A shell command line with every word quoted where needed (role names are untrusted text)."""
    return command(*words)
