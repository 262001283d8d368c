"""privilege-escalation: the 119 published action sets, the principal graph, boundary escape.

A method applies when every one of its actions is allowed on some resource (denies and the boundary
applied; grants conditioned on iam:PermissionsBoundary excluded, since they cannot mint unbounded
principals). Details that decide real exploitability:
- a method that passes a role to a service (iam:PassRole) is escalation only when the principal graph
  (policy/graph.py) shows a passable role, trusting that service, that can do more than the caller
  (administrator access, an escalation method, sensitive data or credentials the caller lacks); where
  the passable roles cannot be known (a wildcard Resource while the audit does not hold every role, a
  named role the audit could not read) the method stays reported and the finding says why;
- iam:PassedToService only serves methods whose service it names;
- sts:AssumeRole alone counts only on every resource and only while the audit cannot see every role;
  otherwise `role-chain-escalation` follows the graph's assume edges to what they reach;
- a role whose identity policies exceed its permissions boundary and that may delete or replace that
  boundary (or rewrite the boundary policy) escapes it;
- a method only satisfied through conditional grants (network, tags, MFA...) is reported one severity
  lower, with the conditions in the evidence;
- among satisfied methods only the minimal ones are reported (a superset adds nothing).

One finding per role: at the severity of its worst method, listing every method with its evidence in
a fixed order, so its fingerprint does not depend on the order policies or methods come in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from rolewatch.model import Finding, Severity
from rolewatch.policy.catalogue import catalogue
from rolewatch.policy.graph import ASSUME, PASS_ROLE, PrincipalGraph
from rolewatch.policy.permissions import Permissions, format_conditions
from rolewatch.rules.escalation.methods import (
    Method,
    method_key,
    satisfied_methods,
)
from rolewatch.rules.escalation.paths import REACH_SEVERITY, count_more, lower_severity, path_evidence
from rolewatch.rules.permissions.grants import (
    admin_level,
    contributing,
)
from rolewatch.rules.registry import RuleContext, rule


@dataclass(frozen=True)
class _Way:
    """One way the role escalates: a method, or the escape from its boundary, with its evidence."""

    title: str
    actions: tuple[str, ...]
    severity: Severity
    evidence: tuple[str, ...]
    path: str = ""  # the graph path that makes it count, named in the detail
    conditional: bool = False

    @property
    def order(self) -> tuple[int, tuple[str, ...], str]:
        return (-self.severity.rank, tuple(sorted(self.actions)), self.title)


@rule(cross_role=True)
def privilege_escalation(ctx: RuleContext) -> Iterator[Finding]:
    if admin_level(ctx.permissions) == "full":
        return  # an administrator has nothing left to escalate to; admin-access reports it
    graph = ctx.account.graph
    ways = [w for m, c in satisfied_methods(ctx.permissions) if (w := _judge(ctx, graph, m, c)) is not None]
    escape = boundary_escape(ctx)
    if escape is not None:
        ways.append(escape)
    if not ways:
        return
    ways.sort(key=lambda w: w.order)
    worst = ways[0]
    evidence: list[str] = []
    for way in ways:
        evidence.extend(way.evidence)
    actions = sorted({a for w in ways for a in w.actions})
    more = f" and {len(ways) - 1} more method(s)" if len(ways) > 1 else ""
    detail = f"{ctx.role.name} can escalate privileges via {worst.title} ({' + '.join(worst.actions)})"
    if worst.path:
        detail += f", reaching {worst.path}"
    if worst.conditional:
        detail += ", when the conditions in the evidence hold"
    if len(ways) > 1:
        detail += f"; {len(ways)} methods in all, each with its evidence"
    yield ctx.finding(
        "privilege-escalation",
        detail + ".",
        actions=actions,
        evidence=evidence,
        severity=worst.severity,
        title=f"Privilege escalation: {worst.title}{more}",
    )


def _judge(ctx: RuleContext, graph: PrincipalGraph | None, method: Method, conditional: bool) -> _Way | None:
    """The method as a way to escalate, or None when the graph shows it gains nothing."""
    cat = ctx.permissions.catalogue
    actions, known_as = _method_text(method)
    severity = Severity.CRITICAL if method.direct_iam else Severity.HIGH
    notes: list[str] = []
    path_text = ""
    if graph is not None and "iam:passrole" in method.actions and method.passes_to:
        key = method_key(method)
        paths = graph.escalations(ctx.role.arn, {PASS_ROLE}, launcher=key)
        unknown = [u.reason for u in graph.unknown_from(ctx.role.arn) if u.kind == PASS_ROLE and key in u.launcher]
        if paths:
            best = paths[0]
            severity = REACH_SEVERITY[best.reach.rank]
            conditional = conditional or best.conditional
            notes = path_evidence(paths, graph)
            path_text = best.describe(graph.name_of)
        elif unknown:
            notes = [f"passable roles unknown: {reason}" for reason in sorted(set(unknown))]
        else:
            return None  # every role it can pass adds nothing the caller lacks
    elif graph is not None and set(method.actions) == {"sts:assumerole"}:
        unknown = [u.reason for u in graph.unknown_from(ctx.role.arn) if u.kind == ASSUME]
        if not unknown:
            return None  # every assumable role is in the graph: role-chain-escalation judges them
        notes = [f"assumable roles unknown: {reason}" for reason in sorted(set(unknown))]
    if conditional:
        severity = lower_severity(severity)
    mask = cat.mask_of(method.actions)  # cached: method.actions is a tuple
    evidence = [f"method: {method.title} ({' + '.join(actions)}), {severity.value}"]
    evidence += known_as
    evidence += [f"  granted by {g}" for g in sorted(contributing(ctx, mask))]
    evidence += [f"  {n}" for n in notes]
    if graph is not None and method.direct_iam:
        changed = sorted(
            {graph.name_of(e.target) for e in graph.edges_from(ctx.role.arn) if e.kind == "modify" and e.target}
        )
        if changed:
            evidence.append(f"  changes the policies of: {', '.join(changed[:10])}" + count_more(len(changed), 10))
    if conditional:
        evidence.append("  only when the conditions of its statements hold")
    return _Way(method.title, actions, severity, tuple(evidence), path_text, conditional)


@cache
def _method_text(method: Method) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A method's actions as the catalogue spells them, and its evidence lines naming its sources."""
    cat = catalogue()
    return tuple(cat.canonical(a) or a for a in method.actions), tuple(f"  known as {n}" for n in method.names)


_REMOVE_BOUNDARY = ("iam:DeleteRolePermissionsBoundary", "iam:PutRolePermissionsBoundary")
_REWRITE_POLICY = ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion")


def boundary_escape(ctx: RuleContext) -> _Way | None:
    """A bounded role whose own policies grant more than the boundary lets through, and that may delete
    or replace its boundary (or rewrite the boundary policy), can lift the cap: escalation."""
    bounded = ctx.permissions
    boundary = ctx.role.permissions_boundary
    if bounded.boundary is None or boundary is None:
        return None
    exceeds = Permissions(ctx.policies, None, ctx.now, bounded.principal).allowed & ~bounded.allowed
    if not exceeds:
        return None
    ways: list[tuple[str, bool, str]] = []  # (action, conditional, statement)
    for action in _REMOVE_BOUNDARY:
        ways += _own_scopes(bounded, action, ctx.role.arn)
    if boundary.arn and ":aws:policy/" not in boundary.arn:
        for action in _REWRITE_POLICY:
            ways += _own_scopes(bounded, action, boundary.arn)
    if not ways:
        return None
    conditional = all(c for _, c, _ in ways)
    severity = lower_severity(Severity.CRITICAL) if conditional else Severity.CRITICAL
    cat = bounded.catalogue
    names = cat.names_in(exceeds, 8)
    actions = tuple(sorted({a for a, _, _ in ways}))
    evidence = [
        f"method: permissions-boundary escape ({' or '.join(actions)}), {severity.value}",
        f"  boundary: {boundary.arn or boundary.name}",
        f"  its own policies grant {exceeds.bit_count()} action(s) the boundary blocks: {', '.join(names)}"
        + count_more(exceeds.bit_count(), len(names)),
    ]
    evidence += sorted(f"  {action} allowed by {where}" for action, _, where in ways)
    if conditional:
        evidence.append("  only when the conditions of its statements hold")
    return _Way("permissions-boundary escape", actions, severity, tuple(evidence), conditional=conditional)


def _own_scopes(permissions: Permissions, action: str, arn: str) -> list[tuple[str, bool, str]]:
    out = []
    for scope in permissions.scopes(action):
        if scope.grant.delegation or not scope.matches(arn):
            continue  # pinned by iam:PermissionsBoundary to a boundary of the grantor's choosing
        where = scope.grant.location
        if scope.grant.restricting:
            where += f" (only when {format_conditions(scope.grant.restricting)})"
        out.append((action, scope.conditional, where))
    return out
