"""assume-any-role: the role may call sts:AssumeRole on every role, not on the roles it needs.

The grant is read through the engine's scopes (denies and the boundary applied; `sts:AssumeRole*`,
`sts:*` and `*` included): a scope counts when it covers every role, either every resource or an ARN
pattern whose resource part covers `role/*` (`arn:aws:iam::*:role/*`, `arn:aws:iam::ACCOUNT:role/*`),
in the role's account. Grants pinned by iam:PermissionsBoundary are left out, as the graph leaves them.

A grant on every role is not by itself a way in: each target's trust policy must admit the caller too.
But every role whose trust admits the caller's account as a whole (its root) or every principal is
then one call away, today and whenever such a role is created. The principal graph (policy/graph.py)
knows which readable roles those are, so the finding names them; whether one of them gives more than
the caller has is `role-chain-escalation`'s question, at its own severity.

Severity: medium when the graph, holding every role of the account, shows readable roles this grant
reaches that way; low when it reaches none today, or when the audit does not hold every role (an event
audit; `privilege-escalation` then reports the unknown targets). One step lower when every such grant is
conditional. Administrators are reported by `admin-access` instead.
"""

from __future__ import annotations

from collections.abc import Iterator

from rolewatch.model import Finding, Severity
from rolewatch.policy.globs import glob_covers, glob_match
from rolewatch.policy.graph import ASSUME
from rolewatch.policy.permissions import Scope, format_conditions
from rolewatch.principals import partition_of_arn
from rolewatch.remediation import revise_policy_cli
from rolewatch.rules.escalation.paths import lower_severity
from rolewatch.rules.permissions.grants import is_admin
from rolewatch.rules.registry import RuleContext, rule

MAX_NAMED = 10  # reachable roles named in the evidence; the detail gives the count


@rule
def assume_any_role(ctx: RuleContext) -> Iterator[Finding]:
    if is_admin(ctx) or not ctx.role.account_id:
        return
    partition = partition_of_arn(ctx.role.arn)
    broad = [
        s
        for s in ctx.permissions.scopes("sts:AssumeRole")
        if not s.grant.delegation and covers_every_role(s, partition, ctx.role.account_id)
    ]
    if not broad:
        return
    reached = _reached(ctx)
    graph = ctx.account.graph
    known = graph is not None and graph.complete
    severity = Severity.MEDIUM if reached and known else Severity.LOW
    conditional = all(s.conditional for s in broad)
    if conditional:
        severity = lower_severity(severity)
    where = [_where(s) for s in broad]
    detail = f"{ctx.role.name} may call sts:AssumeRole on every role ({'; '.join(where)})"
    if reached and known:
        detail += (
            f": today that reaches {len(reached)} role(s) whose trust policy admits account "
            f"{ctx.role.account_id} as a whole or every principal, and any such role created later."
        )
    elif known:
        detail += (
            ": no role of the account admits it today, but any role that comes to trust account "
            f"{ctx.role.account_id} as a whole will."
        )
    else:
        detail += (
            f", so every role that trusts account {ctx.role.account_id} as a whole is one call away; "
            "this audit does not hold every role of the account, so which ones is not known."
        )
    labels = list(dict.fromkeys(s.policy for s in broad))
    yield ctx.finding(
        "assume-any-role",
        detail,
        actions=("sts:AssumeRole",),
        evidence=[
            *(f"granted by {w}" for w in where),
            *(f"reaches {name}" for name in reached[:MAX_NAMED]),
            *([f"and {len(reached) - MAX_NAMED} more role(s)"] if len(reached) > MAX_NAMED else []),
        ],
        cli=[c for label in labels if ":iam::aws:policy/" not in label for c in revise_policy_cli(ctx.role, label)],
        severity=severity,
    )


def covers_every_role(scope: Scope, partition: str, account: str) -> bool:
    """Every resource, or an ARN pattern that covers every role of the account (any name, any path)."""
    if scope.everywhere:
        return True
    for pattern in scope.includes:
        parts = pattern.split(":", 5)
        if len(parts) < 6 or parts[0] != "arn":
            continue
        _, part, service, region, owner, resource = parts
        if (
            glob_match(part, partition)
            and glob_match(service, "iam")
            and glob_match(region, "")
            and glob_match(owner, account)
            and glob_covers(resource, "role/*")
        ):
            return True
    return False


def _reached(ctx: RuleContext) -> list[str]:
    """Names of the readable roles this role's broad sts:AssumeRole grants reach, sorted."""
    graph = ctx.account.graph
    if graph is None:
        return []
    names: set[str] = set()
    for edge in graph.edges_from(ctx.role.arn):
        if edge.kind == ASSUME and edge.group is not None:
            names.update(graph.name_of(e.role) for e in graph.members(edge.group) if e.role != ctx.role.arn)
    return sorted(names)


def _where(scope: Scope) -> str:
    text = f"{scope.policy} {scope.grant.location}"
    if scope.grant.restricting:
        text += f" (only when {format_conditions(scope.grant.restricting)})"
    return text
