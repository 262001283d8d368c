"""The principal graph: which principal of an audit can become which, and what that gives it.

Nodes are the audit's principals (roles; users and groups as sources). Edges are "can become", each
with the conditions that decide it (PMapper's model):
- `assume`: the target's trust policy names the caller's ARN (in the same account the trust alone
  admits it), or names the caller's account root or `*`, and then the caller's own sts:AssumeRole
  grant must cover the target's ARN;
- `pass-role`: the caller may pass the target to a service that runs code (iam:PassRole on the target,
  iam:PassedToService admitting the service, the service's launch actions granted) and the target trusts
  that service;
- `update-trust`: the caller may rewrite the target's trust policy to admit itself.
`modify` edges (writing another role's policies, or a customer-managed policy attached to it) are kept
for evidence; they do not let the caller act as the target by themselves.

Escalation is judged by what is gained: a path counts when some principal on it can do more than the
source (administrator access, an escalation method the source lacks, sensitive data or credentials the
source lacks), compared on effective-permission masks (`Power`). Passing a logs-only role adds nothing.

Cost: trust policies are indexed once by principal (ARN, account root, `*`, service); an edge whose
Resource covers many roles points at a `TargetGroup` (the roles trusting one service, or one account's
root, matched by pattern), never at every pair, and what a group or a role reaches is computed once and
reused by every path through it. Where the targets cannot be known (a wildcard Resource while the audit
does not hold every role, a named role outside the audit) the graph says so (`Unknown`), and the rules
keep their conservative verdict.

Pure: no AWS calls; the caller supplies permissions and the judgement of power (rules decide it).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from weakref import WeakKeyDictionary

from rolewatch.model import RoleSnapshot
from rolewatch.policy.catalogue import ActionCatalogue, catalogue
from rolewatch.policy.conditions import ConditionClass, classify, time_state
from rolewatch.policy.document import Condition, PolicyDocument
from rolewatch.policy.globs import glob_match
from rolewatch.policy.permissions import Permissions, Scope, format_conditions

ASSUME = "assume"
PASS_ROLE = "pass-role"
UPDATE_TRUST = "update-trust"
MODIFY = "modify"
BECOME = frozenset({ASSUME, PASS_ROLE, UPDATE_TRUST})
# What a principal reaches is computed once and reused; beyond this many nested computations (a long
# chain) the chain is walked instead, so the recursion stays shallow.
MAX_NESTED_REACH = 64

# Conditions of a service's trust that the caller meets by launching in its own account.
_SERVICE_TRUST_SATISFIED = {"aws:sourceaccount", "aws:sourceorgid", "aws:sourceorgpaths"}
_ROLE_WRITES = ("iam:AttachRolePolicy", "iam:PutRolePolicy")
_POLICY_WRITES = ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion")


@dataclass(frozen=True)
class Launcher:
    """A way to run code as a passed role: iam:PassRole to one of `services` together with `actions`."""

    name: str
    services: tuple[str, ...]
    actions: tuple[str, ...]


@dataclass(frozen=True)
class Power:
    """What a principal can do by itself, in the terms escalation is judged by."""

    admin: bool
    methods: frozenset[str]  # escalation methods it holds without another principal
    everywhere: int  # sensitive data and credential actions allowed on every resource (a catalogue mask)
    somewhere: int  # the same, allowed on some resource


NO_POWER = Power(False, frozenset(), 0, 0)


@dataclass(frozen=True)
class Reach:
    """Something a path gives its source that the source lacks. `rank`: 3 administrator access,
    2 an escalation method, 1 sensitive actions on every resource, 0 on some resources."""

    rank: int
    what: str


@dataclass(frozen=True)
class TargetGroup:
    """The roles an edge with a broad Resource reaches: those trusting `service` (or `account`'s root,
    or every role of `account`), matched by `pattern` (None: all), minus `excludes`."""

    kind: str  # "service", "account" or "all"
    key: str  # the service principal or the account id
    pattern: str | None = None
    excludes: tuple[str, ...] = ()

    def describe(self) -> str:
        who = {
            "service": f"roles trusting {self.key}",
            "account": f"roles trusting account {self.key} or every principal",
            "all": f"roles of account {self.key}",
        }[self.kind]
        return who + (f" matching {self.pattern}" if self.pattern else "")


@dataclass(frozen=True)
class Edge:
    source: str
    kind: str  # ASSUME, PASS_ROLE, UPDATE_TRUST or MODIFY
    how: str  # what the caller does, e.g. "iam:PassRole to lambda.amazonaws.com + lambda:CreateFunction"
    conditions: tuple[str, ...]  # the caller's grant's conditions and the trust's, as written
    conditional: bool  # some condition may not be met by the caller
    target: str | None = None  # a principal ARN, or None when the edge reaches a group
    group: TargetGroup | None = None
    launcher: tuple[str, ...] = ()  # for pass-role edges: the Launchers (by name) the caller can use


@dataclass(frozen=True)
class Unknown:
    """Targets the audit cannot know: the verdict stays conservative and the finding says why."""

    source: str
    kind: str
    launcher: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Hop:
    target: str
    how: str
    conditions: tuple[str, ...]
    conditional: bool


@dataclass(frozen=True)
class Path:
    """A chain of hops from a source to a principal, and what it reaches there."""

    source: str
    hops: tuple[Hop, ...]
    reach: Reach

    @property
    def conditional(self) -> bool:
        return any(h.conditional for h in self.hops)

    @property
    def first(self) -> Hop:
        return self.hops[0]

    def describe(self, name_of: Callable[[str], str]) -> str:
        """`a -> b -> c: administrator access`."""
        return " -> ".join([name_of(self.source), *(name_of(h.target) for h in self.hops)]) + f": {self.reach.what}"

    def conditions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for h in self.hops for c in h.conditions))


@dataclass(frozen=True)
class TrustEntry:
    role: str
    conditions: tuple[str, ...]
    conditional: bool


@dataclass
class TrustIndex:
    """Who each role's trust policy admits to sts:AssumeRole, indexed by principal (built once)."""

    by_principal: dict[str, list[TrustEntry]] = field(default_factory=dict)  # caller ARN -> roles
    by_account: dict[str, list[TrustEntry]] = field(default_factory=dict)  # account id (root) -> roles
    by_service: dict[str, list[TrustEntry]] = field(default_factory=dict)  # service principal -> roles
    wildcard: list[TrustEntry] = field(default_factory=list)  # roles trusting "*"


def build_trust_index(trust: Mapping[str, PolicyDocument], now: datetime) -> TrustIndex:
    index = TrustIndex()
    for arn in sorted(trust):
        for statement in trust[arn].statements:
            if not statement.allows or statement.principals is None or statement.not_principal:
                continue
            if not any(glob_match(a.lower(), "sts:assumerole") for a in statement.actions):
                continue
            decided = _trust_conditions(statement.conditions, now)
            if decided is None:
                continue  # a closed time window: the statement admits no one
            for kind, value in statement.principals.all_values():
                if kind == "AWS":
                    entry = TrustEntry(arn, *decided(service=False))
                    if value == "*":
                        index.wildcard.append(entry)
                    elif value.isdigit() or value.endswith(":root"):
                        account = value if value.isdigit() else value.split(":")[4]
                        index.by_account.setdefault(account, []).append(entry)
                    else:
                        index.by_principal.setdefault(value, []).append(entry)
                elif kind == "Service":
                    index.by_service.setdefault(value.lower(), []).append(TrustEntry(arn, *decided(service=True)))
    return index


def _trust_conditions(
    conditions: tuple[Condition, ...], now: datetime
) -> Callable[..., tuple[tuple[str, ...], bool]] | None:
    classes = [(c, cls if (cls := classify(c)) is not ConditionClass.TIME else time_state(c, now)) for c in conditions]
    if any(cls is ConditionClass.TIME_CLOSED for _, cls in classes):
        return None

    def decided(*, service: bool) -> tuple[tuple[str, ...], bool]:
        kept = [(c, cls) for c, cls in classes if not (service and c.key.lower() in _SERVICE_TRUST_SATISFIED)]
        text = tuple(format_conditions((c,)) for c, _ in kept)
        return text, any(cls is ConditionClass.RESTRICTING for _, cls in kept)

    return decided


def _literal(pattern: str) -> bool:
    return "*" not in pattern and "?" not in pattern


def _is_role_arn(arn: str) -> bool:
    parts = arn.split(":", 5)
    return len(parts) == 6 and parts[2] == "iam" and parts[5].startswith("role/")


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def named_role_arns(permissions: Permissions) -> set[str]:
    """Role ARNs written literally in the Resource of the grants that can make an edge: the roles an
    event audit reads besides its targets to judge what passing or assuming them gives."""
    out: set[str] = set()
    for action in ("iam:PassRole", "sts:AssumeRole", "iam:UpdateAssumeRolePolicy"):
        for scope in permissions.scopes(action):
            out.update(p for p in scope.includes if _literal(p) and _is_role_arn(p))
    return out


Cost = tuple[bool, int]  # (some hop is conditional, number of hops): lower is better
Entry = tuple[Cost, tuple[Hop, ...]]


@dataclass
class _Reps:
    """For what a set of paths reaches, the best path to each kind of power (unconditional, then short)."""

    admin: Entry | None = None
    methods: dict[str, Entry] = field(default_factory=dict)
    everywhere: list[tuple[int, Entry]] = field(default_factory=list)
    somewhere: list[tuple[int, Entry]] = field(default_factory=list)

    def add(self, power: Power, entry: Entry) -> None:
        """A principal's own power, reached by `entry`."""
        cost = entry[0]
        if power.admin and (self.admin is None or cost < self.admin[0]):
            self.admin = entry
        for title in power.methods:
            old = self.methods.get(title)
            if old is None or cost < old[0]:
                self.methods[title] = entry
        _add_mask(self.everywhere, power.everywhere, entry)
        _add_mask(self.somewhere, power.somewhere, entry)

    def merge(self, other: _Reps, prefix: tuple[Hop, ...], via: Edge | None = None, skip: Power | None = None) -> None:
        """What `other` reaches, seen from behind `prefix`. `via`: `other` is a group's reach and its
        paths' first hop (the member) is entered by that edge. `skip`: power the receiver already has."""
        extra_cond = any(h.conditional for h in prefix) or (via is not None and via.conditional)
        extra_len = len(prefix)

        def cost(c: Cost) -> Cost:
            return (c[0] or extra_cond, c[1] + extra_len)

        built: dict[int, tuple[Hop, ...]] = {}  # paths are shared by many entries: each is built once

        def build(path: tuple[Hop, ...]) -> tuple[Hop, ...]:
            found = built.get(id(path))
            if found is None:
                found = (*prefix, _entered(path[0], via), *path[1:]) if via is not None else prefix + path
                built[id(path)] = found
            return found

        if other.admin is not None and not (skip is not None and skip.admin):
            c = cost(other.admin[0])
            if self.admin is None or c < self.admin[0]:
                self.admin = (c, build(other.admin[1]))
        for title, (c0, path) in other.methods.items():
            if skip is not None and title in skip.methods:
                continue
            c = cost(c0)
            old = self.methods.get(title)
            if old is None or c < old[0]:
                self.methods[title] = (c, build(path))
        for mine, theirs, had in ((self.everywhere, other.everywhere, 0), (self.somewhere, other.somewhere, 1)):
            for mask, (c0, path) in theirs:
                new = mask & ~(skip.everywhere if had == 0 else skip.somewhere) if skip is not None else mask
                if new:
                    _add_mask(mine, new, (cost(c0), build(path)))


# What of an edge a path through it depends on: not its source, kind or launchers.
_EdgeShape = tuple[TargetGroup | None, str | None, str, tuple[str, ...], bool]


def _shape(edge: Edge) -> _EdgeShape:
    return (edge.group, edge.target, edge.how, edge.conditions, edge.conditional)


def _entered(hop: Hop, via: Edge) -> Hop:
    conditions = tuple(dict.fromkeys(via.conditions + hop.conditions))
    return Hop(hop.target, via.how, conditions, via.conditional or hop.conditional)


def _add_mask(entries: list[tuple[int, Entry]], mask: int, entry: Entry) -> None:
    """Keep a path for every bit, preferring better paths; entries whose bits are all covered by better
    ones are dropped, so the list stays as short as the distinct sources of sensitive access."""
    if not mask:
        return
    cost = entry[0]
    covered = 0
    for m, (c, _) in entries:
        if c <= cost:
            covered |= m
    if not mask & ~covered:
        return
    kept = []
    for m, e in entries:
        rest = m & ~mask if cost < e[0] else m
        if rest:
            kept.append((rest, e))
    kept.append((mask & ~covered, entry))
    entries[:] = kept


class PrincipalGraph:
    """Built once per audit; edges and reach are computed on first query and kept for the audit."""

    def __init__(
        self,
        principals: Mapping[str, RoleSnapshot],
        trust: Mapping[str, PolicyDocument],
        permissions: Mapping[str, Permissions],
        *,
        power: Callable[[Permissions], Power],
        launchers: Sequence[Launcher] = (),
        complete: bool = False,
        now: datetime,
    ) -> None:
        self.principals = principals
        self.permissions = permissions
        self.complete = complete  # the audit holds every role of the account(s) its principals are in
        self.trust = build_trust_index(trust, now)
        self._power_of = power
        self._launchers = tuple(launchers)
        self._launcher_needs = tuple(_needs(launcher.actions) for launcher in self._launchers)
        self._service_sets: dict[str, dict[str, TrustEntry]] = {
            service: {e.role: e for e in entries} for service, entries in self.trust.by_service.items()
        }
        # A trust of "*" admits a caller of any account whose own grant allows it, as its root's does.
        self._root_sets: dict[str, dict[str, TrustEntry]] = {
            account: {e.role: e for e in (*self.trust.wildcard, *entries)}
            for account, entries in self.trust.by_account.items()
        }
        self._power: dict[str, Power] = {}
        # Roles with the same policies share one Permissions object (the engine's cache): their power
        # is computed once. Weak keys: a Permissions object the engine let go is not kept alive here.
        self._power_by_permissions: WeakKeyDictionary[Permissions, Power] = WeakKeyDictionary()
        self._edges: dict[str, tuple[tuple[Edge, ...], tuple[Unknown, ...]]] = {}
        self._members: dict[TargetGroup, tuple[TrustEntry, ...]] = {}
        self._reach_of: dict[str | TargetGroup, _Reps] = {}
        self._escalations: dict[tuple[int, ...], tuple[Path, ...]] = {}
        self._escalations_of: str | None = None
        # What a set of first edges gains a principal with a given power does not depend on which
        # principal it is: the paths (hops, reach) are found once per (edge shapes, power) and each
        # principal's paths start from it. Many roles share both (a template's PassRole statements).
        self._gains: dict[tuple[tuple[_EdgeShape, ...], Power], tuple[tuple[tuple[Hop, ...], Reach], ...]] = {}
        self._in_progress: set[str | TargetGroup] = set()
        self._partial: dict[
            str | TargetGroup, tuple[_Reps, list[tuple[str | TargetGroup, tuple[Hop, ...], Edge | None]]]
        ] = {}
        self._by_policy: dict[str, list[str]] | None = None
        self._roles_of_account: dict[str, list[str]] = {}
        cat = catalogue()
        self._edge_mask = cat.mask_of(
            ("sts:AssumeRole", "iam:PassRole", "iam:UpdateAssumeRolePolicy", *_ROLE_WRITES, *_POLICY_WRITES)
        )

    # -- nodes -------------------------------------------------------------------------------------

    def name_of(self, arn: str) -> str:
        role = self.principals.get(arn)
        return role.name if role is not None else arn

    def power(self, arn: str) -> Power:
        found = self._power.get(arn)
        if found is None:
            permissions = self.permissions.get(arn)
            found = self._power[arn] = NO_POWER if permissions is None else self._power_for(permissions)
        return found

    def _power_for(self, permissions: Permissions) -> Power:
        found = self._power_by_permissions.get(permissions)
        if found is None:
            found = self._power_by_permissions[permissions] = self._power_of(permissions)
        return found

    # -- edges -------------------------------------------------------------------------------------

    def edges_from(self, arn: str) -> tuple[Edge, ...]:
        return self._edges_and_unknowns(arn)[0]

    def unknown_from(self, arn: str) -> tuple[Unknown, ...]:
        return self._edges_and_unknowns(arn)[1]

    def observe(self, arn: str, permissions: Permissions) -> bool:
        """Record a principal's power and edges from permissions the caller has at hand (the engine
        computes every audited role's once). Returns whether questions about it need other principals:
        it can become another, or its targets are unknown."""
        if arn not in self._power:
            self._power[arn] = self._power_for(permissions)
        edges, unknowns = self._edges_and_unknowns(arn, permissions)
        return bool(unknowns) or any(e.kind in BECOME for e in edges)

    def _edges_and_unknowns(
        self, arn: str, permissions: Permissions | None = None
    ) -> tuple[tuple[Edge, ...], tuple[Unknown, ...]]:
        found = self._edges.get(arn)
        if found is None:
            edges: list[Edge] = []
            unknowns: list[Unknown] = []
            if permissions is None:
                permissions = self.permissions.get(arn)
            named = arn in self.trust.by_principal
            if permissions is not None and (named or permissions.allowed & self._edge_mask):
                self._assume_edges(arn, permissions, edges, unknowns)
                self._pass_role_edges(arn, permissions, edges, unknowns)
                self._update_trust_edges(arn, permissions, edges, unknowns)
                self._modify_edges(arn, permissions, edges)
            found = self._edges[arn] = (tuple(edges), tuple(unknowns))
        return found

    def _assume_edges(self, arn: str, permissions: Permissions, edges: list[Edge], unknowns: list[Unknown]) -> None:
        account = _account_of(arn)
        grants = [s for s in permissions.scopes("sts:AssumeRole") if not s.grant.delegation]
        for entry in self.trust.by_principal.get(arn, ()):
            if entry.role == arn:
                continue
            how = "sts:AssumeRole (its trust policy names this principal)"
            if _account_of(entry.role) == account:  # the trust alone admits a caller it names
                edges.append(_edge(arn, ASSUME, how, None, entry, target=entry.role))
                continue
            for scope in grants:  # another account's role: the caller's own grant must allow it too
                if scope.matches(entry.role):
                    edges.append(_edge(arn, ASSUME, how, scope, entry, target=entry.role))
                    break
        how = "sts:AssumeRole (its trust policy admits this account or every principal)"
        roots = self._root_sets.get(account, {})
        for scope in grants:
            if scope.everywhere:
                group = TargetGroup("account", account, None, scope.excludes)
                edges.append(_edge(arn, ASSUME, how, scope, None, group=group))
                if not self.complete:
                    unknowns.append(Unknown(arn, ASSUME, (), _unknown_everywhere("sts:AssumeRole")))
                continue
            for pattern in scope.includes:
                if _literal(pattern):
                    entry = roots.get(pattern) or next((e for e in self.trust.wildcard if e.role == pattern), None)
                    if entry is not None and entry.role != arn and scope.matches(pattern):
                        edges.append(_edge(arn, ASSUME, how, scope, entry, target=entry.role))
                    elif pattern not in self.principals and _is_role_arn(pattern) and _account_of(pattern) == account:
                        unknowns.append(Unknown(arn, ASSUME, (), _unknown_role(pattern)))
                elif _account_of(pattern) in (account, "*", ""):
                    group = TargetGroup("account", account, pattern, scope.excludes)
                    edges.append(_edge(arn, ASSUME, how, scope, None, group=group))
                    if not self.complete:
                        unknowns.append(Unknown(arn, ASSUME, (), _unknown_pattern("sts:AssumeRole", pattern)))

    def _pass_role_edges(self, arn: str, permissions: Permissions, edges: list[Edge], unknowns: list[Unknown]) -> None:
        passes = [s for s in permissions.scopes("iam:PassRole") if not s.grant.delegation]
        if not passes:
            return
        held = [
            launcher
            for launcher, needs in zip(self._launchers, self._launcher_needs, strict=True)
            if _holds(permissions, needs)
        ]
        by_service: dict[str, list[str]] = {}
        for launcher in held:
            for service in launcher.services:
                by_service.setdefault(service, []).append(launcher.name)
        for scope in passes:
            allowed = scope.grant.pass_to
            for service, names in by_service.items():
                if allowed is None or any(glob_match(p, service) for p in allowed):
                    self._scope_edges(
                        arn,
                        scope,
                        service=service,
                        how=f"iam:PassRole to {service}",
                        launcher=tuple(names),
                        edges=edges,
                        unknowns=unknowns,
                    )

    def _scope_edges(
        self,
        arn: str,
        scope: Scope,
        *,
        service: str,
        how: str,
        launcher: tuple[str, ...],
        edges: list[Edge],
        unknowns: list[Unknown],
    ) -> None:
        account = _account_of(arn)
        kind = PASS_ROLE
        trusting = self._service_sets.get(service, {})
        if scope.everywhere:
            group = TargetGroup("service", service, None, scope.excludes)
            edges.append(_edge(arn, kind, how, scope, None, group=group, launcher=launcher))
            if not self.complete:
                unknowns.append(Unknown(arn, kind, launcher, _unknown_everywhere("iam:PassRole")))
            return
        for pattern in scope.includes:
            if _literal(pattern):
                entry = trusting.get(pattern)
                if entry is not None and entry.role != arn and scope.matches(pattern):
                    edges.append(_edge(arn, kind, how, scope, entry, target=entry.role, launcher=launcher))
                elif pattern not in self.principals and _is_role_arn(pattern):
                    unknowns.append(Unknown(arn, kind, launcher, _unknown_role(pattern)))
            elif _account_of(pattern) in (account, "*", ""):
                group = TargetGroup("service", service, pattern, scope.excludes)
                edges.append(_edge(arn, kind, how, scope, None, group=group, launcher=launcher))
                if not self.complete:
                    unknowns.append(Unknown(arn, kind, launcher, _unknown_pattern("iam:PassRole", pattern)))

    def _update_trust_edges(
        self, arn: str, permissions: Permissions, edges: list[Edge], unknowns: list[Unknown]
    ) -> None:
        account = _account_of(arn)
        how = "iam:UpdateAssumeRolePolicy (rewrites its trust policy to admit this principal)"
        for scope in permissions.scopes("iam:UpdateAssumeRolePolicy"):
            if scope.grant.delegation:
                continue
            if scope.everywhere:
                edges.append(_edge(arn, UPDATE_TRUST, how, scope, None, group=TargetGroup("all", account)))
                if not self.complete:
                    unknowns.append(Unknown(arn, UPDATE_TRUST, (), _unknown_everywhere("iam:UpdateAssumeRolePolicy")))
                continue
            for pattern in scope.includes:
                if _literal(pattern):
                    if pattern in self.principals and pattern != arn:
                        edges.append(_edge(arn, UPDATE_TRUST, how, scope, None, target=pattern))
                elif _account_of(pattern) in (account, "*", ""):
                    group = TargetGroup("all", account, pattern, scope.excludes)
                    edges.append(_edge(arn, UPDATE_TRUST, how, scope, None, group=group))

    def _modify_edges(self, arn: str, permissions: Permissions, edges: list[Edge]) -> None:
        """Roles (other than the caller) whose policies the caller may change, named one by one."""
        account = _account_of(arn)
        for action in _ROLE_WRITES:
            for scope in permissions.scopes(action):
                if scope.grant.delegation or scope.everywhere:
                    continue  # on every role: the escalation method itself says it
                for pattern in scope.includes:
                    if _literal(pattern):
                        targets = [pattern] if pattern in self.principals and scope.matches(pattern) else []
                    else:
                        group = TargetGroup("all", account, pattern, scope.excludes)
                        targets = [e.role for e in self.members(group)]
                    edges.extend(_edge(arn, MODIFY, action, scope, None, target=t) for t in targets if t != arn)
        by_policy = self._roles_by_policy()
        for action in _POLICY_WRITES:
            for scope in permissions.scopes(action):
                if scope.grant.delegation or scope.everywhere:
                    continue
                for pattern in scope.includes:
                    policies = [pattern] if _literal(pattern) else [p for p in by_policy if glob_match(pattern, p)]
                    for policy in policies:
                        for role in by_policy.get(policy, ()):
                            if role != arn and scope.matches(policy):
                                edges.append(_edge(arn, MODIFY, f"{action} on {policy}", scope, None, target=role))

    def _sorted_roles(self, account: str) -> list[str]:
        found = self._roles_of_account.get(account)
        if found is None:
            found = self._roles_of_account[account] = sorted(
                a for a in self.principals if _account_of(a) == account and _is_role_arn(a)
            )
        return found

    def _roles_by_policy(self) -> dict[str, list[str]]:
        if self._by_policy is None:
            by_policy: dict[str, list[str]] = {}
            for arn, role in self.principals.items():
                for policy in role.managed_policy_arns:
                    if ":aws:policy/" not in policy:  # AWS-managed policies cannot be changed
                        by_policy.setdefault(policy, []).append(arn)
            self._by_policy = by_policy
        return self._by_policy

    # -- groups ------------------------------------------------------------------------------------

    def members(self, group: TargetGroup) -> tuple[TrustEntry, ...]:
        found = self._members.get(group)
        if found is None:
            if group.kind == "service":
                entries = self.trust.by_service.get(group.key, [])
            elif group.kind == "account":
                entries = list(
                    {e.role: e for e in (*self.trust.wildcard, *self.trust.by_account.get(group.key, []))}.values()
                )
            else:
                entries = [TrustEntry(a, (), False) for a in self._sorted_roles(group.key)]
            found = self._members[group] = tuple(_matching(entries, group))
        return found

    # -- reach -------------------------------------------------------------------------------------

    def escalations(self, arn: str, kinds: Iterable[str] = BECOME, *, launcher: str | None = None) -> list[Path]:
        """Paths from `arn` whose first edge is of one of `kinds` (and, given `launcher`, passes a role
        that way) and that reach power `arn` lacks: the best path to each thing gained, best first
        (rank, then unconditional, then shortest)."""
        wanted = set(kinds) & BECOME
        mine = self.power(arn)
        if mine.admin:
            return []
        edges = self.edges_from(arn)
        chosen = tuple(
            i for i, edge in enumerate(edges) if edge.kind in wanted and (launcher is None or launcher in edge.launcher)
        )
        # Launchers of one service share its PassRole edges: the paths are found once per set of edges
        # (kept for the principal last asked about, which is how rules ask: one role at a time).
        if self._escalations_of != arn:
            self._escalations_of = arn
            self._escalations.clear()
        found = self._escalations.get(chosen)
        if found is None:
            found = self._escalations[chosen] = self._escalations_by(arn, [edges[i] for i in chosen], mine)
        return list(found)

    def _escalations_by(self, arn: str, edges: list[Edge], mine: Power) -> tuple[Path, ...]:
        key = (tuple(_shape(edge) for edge in edges), mine)
        gains = self._gains.get(key)
        if gains is None:
            gained = _Reps()
            for edge in edges:
                if edge.group is not None:
                    gained.merge(self._reach(edge.group), (), via=edge, skip=mine)
                elif edge.target is not None:
                    hop = Hop(edge.target, edge.how, edge.conditions, edge.conditional)
                    gained.merge(self._reach(edge.target), (hop,), skip=mine)
            gains = self._gains[key] = tuple((p.hops, p.reach) for p in _paths(arn, gained, self))
        return tuple(Path(arn, hops, reach) for hops, reach in gains)

    def _reach(self, start: str | TargetGroup) -> _Reps:
        return self._reach_with_dependencies(start)[0]

    def _reach_with_dependencies(self, start: str | TargetGroup) -> tuple[_Reps, frozenset[str | TargetGroup]]:
        """Everything reachable from a principal (itself included) or a group's members, by the best
        path to each power, and the computations still under way it had to leave out. Breadth first
        with a visited set; what another principal or group reaches is computed once and merged
        wherever it is reached. Inside a cycle, a start being computed further up is left out and
        noted with the path to it; once that start is finished, the partial result is completed with
        it (each result is computed once). A long chain is walked instead of nested."""
        found = self._reach_of.get(start)
        if found is not None:
            return found, frozenset()
        if start in self._partial:
            return self._complete(start)
        self._in_progress.add(start)
        reps = _Reps()
        pending: list[tuple[str | TargetGroup, tuple[Hop, ...], Edge | None]] = []
        skipped: set[str | TargetGroup] = set()
        visited: set[str | TargetGroup] = {start}
        queue: deque[tuple[str, tuple[Hop, ...]]] = deque()
        if isinstance(start, TargetGroup):
            for entry in self.members(start):
                visited.add(entry.role)
                queue.append((entry.role, (Hop(entry.role, "", entry.conditions, entry.conditional),)))
        else:
            queue.append((start, ()))
        while queue:
            node, path = queue.popleft()
            reps.add(self.power(node), ((any(h.conditional for h in path), len(path)), path))
            for edge in self.edges_from(node):
                if edge.kind not in BECOME:
                    continue
                target: str | TargetGroup | None = edge.group if edge.group is not None else edge.target
                if target is None or target in visited:
                    continue  # reached already, by a path at least as short
                visited.add(target)
                hop = (
                    None
                    if edge.group is not None
                    else Hop(edge.target or "", edge.how, edge.conditions, edge.conditional)
                )
                prefix = path if hop is None else (*path, hop)
                via = edge if hop is None else None
                if target in self._in_progress:
                    pending.append((target, prefix, via))  # being computed further up
                    skipped.add(target)
                elif isinstance(target, str) and len(self._in_progress) > MAX_NESTED_REACH:
                    queue.append((target, prefix))
                else:
                    theirs, their_skips = self._reach_with_dependencies(target)
                    reps.merge(theirs, prefix, via=via)
                    if their_skips:
                        pending.append((target, prefix, via))
                        skipped |= their_skips
        self._in_progress.discard(start)
        skipped.discard(start)
        pending = [p for p in pending if p[0] != start]
        if not pending:
            self._reach_of[start] = reps
            return reps, frozenset()
        self._partial[start] = (reps, pending)
        return reps, frozenset(skipped)

    def _complete(self, start: str | TargetGroup) -> tuple[_Reps, frozenset[str | TargetGroup]]:
        """A partial result, completed with what it left out once those computations have finished."""
        partial, pending = self._partial[start]
        waiting = frozenset(t for t, _, _ in pending if t in self._in_progress)
        if waiting:
            return partial, waiting
        del self._partial[start]
        self._in_progress.add(start)  # a cycle back to it while completing: already covered
        reps = _Reps()
        reps.merge(partial, ())
        for target, prefix, via in pending:
            theirs, _ = self._reach_with_dependencies(target)
            reps.merge(theirs, prefix, via=via)
        self._in_progress.discard(start)
        self._reach_of[start] = reps
        return reps, frozenset()


def _edge(
    source: str,
    kind: str,
    how: str,
    scope: Scope | None,
    entry: TrustEntry | None,
    *,
    target: str | None = None,
    group: TargetGroup | None = None,
    launcher: tuple[str, ...] = (),
) -> Edge:
    conditions: tuple[str, ...] = ()
    conditional = False
    if scope is not None:
        g = scope.grant
        if g.restricting or g.unknown_conditions:
            conditions = tuple(format_conditions((c,)) for c in (*g.restricting, *g.unknown_conditions))
            conditional = bool(g.restricting)
    if entry is not None:
        conditions += entry.conditions
        conditional = conditional or entry.conditional
    return Edge(source, kind, how, conditions, conditional, target, group, launcher)


def _matching(entries: Iterable[TrustEntry], group: TargetGroup) -> list[TrustEntry]:
    ordered = sorted(entries, key=lambda e: e.role)
    pattern = group.pattern
    if pattern is not None and pattern.endswith("*") and _literal(pattern[:-1]):
        # Most patterns are a prefix ("arn:...:role/team-*"): found by bisection, not by a scan.
        prefix = pattern[:-1]
        keys = [e.role for e in ordered]
        start = bisect_left(keys, prefix)
        end = start
        while end < len(ordered) and ordered[end].role.startswith(prefix):
            end += 1
        ordered = ordered[start:end]
    elif pattern is not None:
        ordered = [e for e in ordered if glob_match(pattern, e.role)]
    if group.excludes:
        ordered = [e for e in ordered if not any(glob_match(x, e.role) for x in group.excludes)]
    return ordered


def _needs(actions: Sequence[str]) -> tuple[int, tuple[str, ...]]:
    """The catalogue mask of the actions, and those of them outside the catalogue."""
    cat = catalogue()
    mask = 0
    outside: list[str] = []
    for action in actions:
        bits = cat.expand(action)
        if bits:
            mask |= bits
        else:
            outside.append(action)
    return mask, tuple(outside)


def _holds(permissions: Permissions, needs: tuple[int, tuple[str, ...]]) -> bool:
    """Are all the actions allowed, each on some resource (one mask test for those in the catalogue)?"""
    mask, outside = needs
    if (permissions.escalation & mask) != mask:
        return False
    return all(permissions.allows(action) for action in outside)


def _paths(source: str, gained: _Reps, graph: PrincipalGraph) -> list[Path]:
    """`gained` holds only what the source lacks (merged with skip=its power)."""
    cat = catalogue()
    out: list[Path] = []
    if gained.admin is not None:
        out.append(Path(source, gained.admin[1], Reach(3, "administrator access")))
    for title in sorted(gained.methods):
        out.append(Path(source, gained.methods[title][1], Reach(2, f"privilege escalation via {title}")))
    everywhere = 0
    for mask, (_, path) in gained.everywhere:
        everywhere |= mask
        out.append(Path(source, path, Reach(1, f"{_names(cat, mask)} on every resource")))
    for whole, (_, path) in gained.somewhere:
        mask = whole & ~everywhere  # already named as reached on every resource
        if not mask:
            continue
        out.append(Path(source, path, Reach(0, f"{_names(cat, mask)} on the resources its policies name")))
    out.sort(key=lambda p: (-p.reach.rank, p.conditional, len(p.hops), p.reach.what, [h.target for h in p.hops]))
    return out


def _names(cat: ActionCatalogue, mask: int) -> str:
    names = cat.names_in(mask, 4)
    extra = mask.bit_count() - len(names)
    return ", ".join(names) + (f" (+{extra} more)" if extra else "")


def _unknown_everywhere(action: str) -> str:
    return f"{action} on every role, and this audit does not hold every role of the account"


def _unknown_pattern(action: str, pattern: str) -> str:
    return f"{action} on {pattern}, and this audit does not hold every role of the account"


def _unknown_role(arn: str) -> str:
    return f"names {arn}, which this audit could not read"
