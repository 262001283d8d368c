"""Principal-centric effective permissions: what a role can actually do, across all its policies.

Evaluation follows IAM's policy-evaluation logic for one principal in its own account:
1. every Allow statement of every identity policy (inline and managed) grants its actions on its
   resources; actions whose resource types cannot match the statement's Resource are not granted
   (e.g. `s3:ListAllMyBuckets` on `arn:aws:s3:::bucket`), and IAM write actions on
   `arn:aws:iam::aws:...` grant nothing (AWS-managed policies are immutable). `NotResource` grants
   every resource except those named;
2. an explicit Deny in any policy (the permissions boundary included) removes what it covers: a Deny
   on resources removes an action where they cover all of its resource types, else excepts them; a
   Deny with `NotResource` removes the action from every resource except those named, so
   `Deny iam:* NotResource <one role>` leaves only that role reachable (unconditional denies only,
   see conditions.py);
3. a permissions boundary caps the result: only actions the boundary also allows remain, and only on
   the resources it allows them on.

"Every resource" (`unrestricted`) is decided per action against the catalogue's ARN formats, never by
string equality: `arn:aws:s3:::*`, `arn:*:s3:::*/*` and `arn:aws:iam::*:role/*` reach every resource of
the action's type (globs.pattern_covers_format). An Allow with `NotResource`, or one a Deny excepts a
few resources from, still counts as every resource (every other one is reached); its exceptions stay
in `Scope.excludes` for the questions that need them (which roles can be passed or assumed).

Time is an input: `Permissions(..., now=...)` decides time windows; compiled documents, cached by their
text, hold no verdict about time. Action sets are bitsets over the catalogue (see catalogue.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

from rolewatch.model import PolicyError
from rolewatch.policy.catalogue import ACCESS_LIST, ACCESS_READ, ActionCatalogue, catalogue
from rolewatch.policy.conditions import (
    ConditionClass,
    PrincipalContext,
    classify,
    is_principal_condition,
    is_via_service,
    passed_to_services,
    principal_condition_holds,
    time_state,
)
from rolewatch.policy.document import Condition, PolicyDocument, Statement, parse_policy
from rolewatch.policy.globs import (
    FormatTokens,
    arn_format_tokens,
    arn_globs_intersect,
    arn_pattern_meets_format,
    arn_resource_meets_format,
    glob_includes,
    glob_match,
    part_meets,
    pattern_covers_format,
)


@dataclass(frozen=True)
class Grant:
    """One statement's contribution: the actions it grants (or denies) and on what."""

    mask: int = field(repr=False)  # a bitset over the catalogue: thousands of digits in decimal
    unrestricted: bool  # Resource "*" (or none), or NotResource: the statement names no includes
    resources: tuple[str, ...]
    not_resource: bool
    patterns: tuple[str, ...]
    not_action: bool
    restricting: tuple[Condition, ...]  # conditions an attacker cannot satisfy at will
    unknown_conditions: tuple[Condition, ...]
    pass_to: frozenset[str] | None  # iam:PassedToService values, None when unrestricted
    delegation: bool  # cannot mint more privilege: iam:PermissionsBoundary, harmless iam:PolicyARN
    location: str
    # Actions on every resource of (one of) their types (Allow), or removed from every resource (Deny).
    full: int = field(default=0, repr=False)
    # Deny NotResource: actions left only on the named resources.
    narrows: int = field(default=0, repr=False)
    time_conditions: tuple[Condition, ...] = ()
    via_service: bool = False  # kms:ViaService: the key is used only through the named services
    # Conditions on the principal itself (its ARN, account, tags, MFA), decided per role when its
    # context is known; until then they stay among `restricting`/`unknown_conditions`.
    principal_conditions: tuple[Condition, ...] = ()

    @property
    def conditional(self) -> bool:
        return bool(self.restricting)

    @property
    def structurally_unconditional(self) -> bool:
        """No condition but time windows: a Deny that holds whenever its window is open."""
        return not (self.restricting or self.unknown_conditions or self.pass_to is not None or self.delegation)

    def names_action(self, action: str) -> bool:
        """Whether the statement's Action/NotAction text covers an action (for names outside the catalogue)."""
        return _patterns_name(self.patterns, action.lower()) != self.not_action

    def in_force(self, now: datetime | None) -> ConditionClass:
        """TIME_OPEN, TIME_PENDING or TIME_CLOSED: the statement's time windows at `now`."""
        state = ConditionClass.TIME_OPEN
        for condition in self.time_conditions:
            cls = time_state(condition, now)
            if cls is ConditionClass.TIME_CLOSED:
                return cls
            if cls is not ConditionClass.TIME_OPEN:
                state = ConditionClass.TIME_PENDING  # pending, or a time value the audit cannot read
        return state

    def __repr__(self) -> str:
        element = "NotAction" if self.not_action else "Action"
        scope = "every resource" if self.unrestricted else f"{len(self.resources)} resource pattern(s)"
        return f"Grant({self.location}, {element} {list(self.patterns)}, {self.mask.bit_count()} actions, {scope})"


@dataclass(frozen=True)
class CompiledPolicy:
    document: PolicyDocument = field(repr=False)
    allows: tuple[Grant, ...]
    denies: tuple[Grant, ...]  # denies with no condition but time windows (decided at `now`)
    conditional_denies: tuple[Grant, ...]
    unknown_actions: tuple[tuple[str, str], ...]  # (location, pattern) naming no catalogue action
    void_resources: tuple[tuple[str, str], ...]  # (location, pattern) no action of the statement can use
    # Does any statement depend on who the principal is (so permissions differ per role)? Set once.
    principal_dependent: bool = False

    def __post_init__(self) -> None:
        dependent = any(g.principal_conditions for g in self.allows + self.denies + self.conditional_denies)
        object.__setattr__(self, "principal_dependent", dependent)


@dataclass(frozen=True)
class LabeledGrant:
    """Part of a statement's grant as it stands for one principal: the actions that remain after denies
    and the boundary, and the resources they remain on."""

    policy: str  # the policy's name (inline) or ARN (managed)
    grant: Grant
    mask: int = field(repr=False)  # what remains after denies and the boundary
    unrestricted_mask: int = field(repr=False)  # of those, the actions on every resource of their type
    includes: tuple[str, ...] | None = None  # resource patterns; None: every resource
    excludes: tuple[str, ...] = ()  # except these

    @property
    def resources(self) -> tuple[str, ...]:
        """The resource patterns the actions remain on ("*" for every resource)."""
        return ("*",) if self.includes is None else self.includes

    def __repr__(self) -> str:
        return f"LabeledGrant({self.policy}, {self.grant!r}, {self.mask.bit_count()} actions remain)"


@dataclass(frozen=True)
class Scope:
    """Where one grant lets the principal perform one action."""

    grant: Grant
    policy: str
    includes: tuple[str, ...]  # empty when everywhere
    excludes: tuple[str, ...]
    everywhere: bool  # every resource (but the excludes)

    @property
    def conditional(self) -> bool:
        return self.grant.conditional

    def matches(self, arn: str) -> bool:
        if not self.everywhere and not any(glob_match(p, arn) for p in self.includes):
            return False
        return not any(glob_match(x, arn) for x in self.excludes)


@lru_cache(maxsize=8192)
def _patterns_name(patterns: tuple[str, ...], action: str) -> bool:
    """Does one of the Action patterns match the (lower-case) action name? Cached: the few names
    outside the catalogue are asked about for every role."""
    service = action.split(":", 1)[0]
    for written in patterns:
        pattern = written.lower()
        pattern_service = pattern.split(":", 1)[0]
        if pattern_service != service and "*" not in pattern_service and "?" not in pattern_service:
            continue  # a literal service that is not the action's: cannot match
        if glob_match(pattern, action):
            return True
    return False


def document_key(raw: Any) -> str:
    """The text a document is cached under: bytes are decoded as parse_policy decodes them."""
    if isinstance(raw, (bytes, bytearray)):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyError("", f"document is not UTF-8 text: {exc}") from None
    return raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True, default=str)


def compile_policy(raw: Any, location: str = "", kind: str = "identity") -> CompiledPolicy:
    """Parse and compile a document; raises PolicyError. Cached by document text, so the many roles
    that share a managed policy (or an identical inline one) cost one analysis."""
    try:
        return _compile_cached(_key_of(raw), kind)
    except PolicyError as exc:
        where = ".".join(part for part in (location, exc.location) if part)
        raise PolicyError(where, exc.message) from None


# A managed policy's document is one object that every role attaching it shares: its text is
# computed once per object, not once per role. Entries hold the object, so its id cannot be reused.
_KEYS_BY_IDENTITY: dict[int, tuple[Any, str]] = {}
_KEYS_BY_IDENTITY_LIMIT = 4096


def _key_of(raw: Any) -> str:
    if not isinstance(raw, dict):
        return document_key(raw)
    hit = _KEYS_BY_IDENTITY.get(id(raw))
    if hit is not None and hit[0] is raw:
        return hit[1]
    key = document_key(raw)
    if len(_KEYS_BY_IDENTITY) >= _KEYS_BY_IDENTITY_LIMIT:
        _KEYS_BY_IDENTITY.pop(next(iter(_KEYS_BY_IDENTITY)))
    _KEYS_BY_IDENTITY[id(raw)] = (raw, key)
    return key


# Unbounded on purpose: a compiled policy lives as long as the process, so its identity can stand for
# its text (audit.py shares the permissions of roles with the same compiled policies by identity).
# It holds nothing that depends on the time: that is decided per audit.
@cache
def _compile_cached(key: str, kind: str) -> CompiledPolicy:
    return compile_document(parse_policy(key, "", kind))  # type: ignore[arg-type]


def forget_compiled_policies() -> None:
    """Drop every compiled policy: only between two audits (within one, identity stands for text). A warm
    container that audits account after account (the weekly organization run) calls it after each, or the
    documents of every account it has seen (their ARNs name the account, so none is shared) would stay
    in memory: benchmarks/bench_org_audit.py measured about 5 MB per 200-role account."""
    _compile_cached.cache_clear()
    _KEYS_BY_IDENTITY.clear()


def compiled_policies_kept() -> int:
    return int(_compile_cached.cache_info().currsize)


def compile_document(document: PolicyDocument) -> CompiledPolicy:
    cat = catalogue()
    allows: list[Grant] = []
    denies: list[Grant] = []
    conditional_denies: list[Grant] = []
    unknown: list[tuple[str, str]] = []
    void: list[tuple[str, str]] = []
    for statement in document.statements:
        grant, void_here = _compile_statement(statement, cat, unknown)
        void.extend(void_here)
        if statement.allows:
            allows.append(grant)
        elif grant.structurally_unconditional:
            denies.append(grant)
        else:
            conditional_denies.append(grant)
    return CompiledPolicy(
        document, tuple(allows), tuple(denies), tuple(conditional_denies), tuple(unknown), tuple(void)
    )


def _compile_statement(
    statement: Statement, cat: ActionCatalogue, unknown: list[tuple[str, str]]
) -> tuple[Grant, list[tuple[str, str]]]:
    restricting: list[Condition] = []
    unknown_conditions: list[Condition] = []
    time_conditions: list[Condition] = []
    delegation = False
    for condition in statement.conditions:
        cls = classify(condition)
        if cls is ConditionClass.TIME:
            time_conditions.append(condition)
        elif cls is ConditionClass.RESTRICTING:
            restricting.append(condition)
        elif cls is ConditionClass.UNKNOWN:
            unknown_conditions.append(condition)
        elif cls is ConditionClass.DELEGATION:
            delegation = True
    via_service = any(is_via_service(c) for c in statement.conditions)
    principal_conditions = tuple(c for c in statement.conditions if is_principal_condition(c))

    action_mask = 0
    for i, pattern in enumerate(statement.actions):
        expanded = cat.expand(pattern)
        if not expanded:
            unknown.append((f"{statement.location}.{'NotAction' if statement.not_action else 'Action'}[{i}]", pattern))
        action_mask |= expanded
    if statement.not_action:
        action_mask = cat.all & ~action_mask

    void: list[tuple[str, str]] = []
    narrows = 0
    resources = statement.resources
    if not resources or (not statement.not_resource and "*" in resources):
        mask = full = action_mask
        unrestricted = True
    elif statement.not_resource:
        unrestricted = True
        reached = resources_mask(resources)  # actions the exceptions can name at all
        if statement.allows:
            # Every resource but these: nothing where they cover every resource the action can take.
            mask = action_mask & ~covers_every_type(resources, action_mask & reached)
            full = mask
        else:
            # Deny everywhere but these: removed where they name nothing the action can take.
            full = action_mask & ~reached
            narrows = action_mask & reached
            mask = action_mask
    else:
        unrestricted = False
        mask = 0
        for i, pattern in enumerate(resources):
            m = resource_pattern_mask(pattern)
            if action_mask and not (m & action_mask):
                void.append((f"{statement.location}.Resource[{i}]", pattern))
            mask |= m
        mask &= action_mask
        # Allow: on every resource of a type; Deny: removed from every resource of every type.
        full = mask & resources_full_mask(resources) if statement.allows else covers_every_type(resources, mask)
    if via_service and statement.allows:
        full = 0  # the key's reach is what the named services let the role read
    grant = Grant(
        mask=intern_mask(mask),
        unrestricted=unrestricted,
        resources=resources,
        not_resource=statement.not_resource,
        patterns=statement.actions,
        not_action=statement.not_action,
        restricting=tuple(restricting),
        unknown_conditions=tuple(unknown_conditions),
        pass_to=passed_to_services(statement.conditions),
        delegation=delegation,
        location=statement.location,
        full=intern_mask(full),
        narrows=intern_mask(narrows),
        time_conditions=tuple(time_conditions),
        via_service=via_service,
        principal_conditions=principal_conditions,
    )
    return grant, void


_INTERNED: dict[int, int] = {}
_INTERNED_LIMIT = 1 << 16


def intern_mask(mask: int) -> int:
    """One shared int per distinct mask: a mask costs up to 2.7 KB, and thousands of statements
    (one per role, each with its own bucket or table name) grant the same actions."""
    shared = _INTERNED.get(mask)
    if shared is not None:
        return shared
    if len(_INTERNED) < _INTERNED_LIMIT:
        _INTERNED[mask] = mask
    return mask


def resource_pattern_mask(pattern: str) -> int:
    """Every catalogue action that can act on some resource the ARN pattern matches."""
    return _pattern_analysis(pattern)[0]


def _immutable_filter(pattern: str, cat: ActionCatalogue) -> int:
    parts = pattern.split(":", 5)
    if len(parts) == 6 and parts[2] == "iam" and parts[4] == "aws":
        # arn:aws:iam::aws:policy/... names AWS-managed policies, which no customer can change.
        return cat.level_mask(ACCESS_LIST) | cat.level_mask(ACCESS_READ)
    return cat.all


def _formats_met(pattern: str) -> list[tuple[str, str, str]]:
    """(prefix, resource type, ARN format) of every format the pattern can match some ARN of."""
    cat = catalogue()
    parts = pattern.split(":", 5)
    if len(parts) != 6:
        return [
            (prefix, resource_type, arn_format)
            for prefix, resource_type, arn_format in cat.formats_for_arn_service(None)
            if arn_pattern_meets_format(pattern, arn_format_tokens(arn_format))
        ]
    literal_service = "*" not in parts[2] and "?" not in parts[2]
    head = tuple(parts[:5])
    out = []
    for group_head, members in _format_groups(parts[2] if literal_service else None):
        # The formats of a group share their first five parts: compared once per group.
        if not all(part_meets(p, f) for p, f in zip(head, group_head, strict=True)):
            continue
        if any(not p and f == _SCOPE_TOKENS for p, f in zip(head[3:], group_head[3:], strict=True)):
            continue  # an empty region or account names no ARN that has one (`arn:aws:s3:::*` is no access point)
        for prefix, resource_type, tokens, arn_format in members:
            if arn_resource_meets_format(parts[5], tokens):
                out.append((prefix, resource_type, arn_format))
    return out


# Patterns are mostly unique per role (bucket and table names): a 5,000-role account has some 7,000,
# each asked about again by the rules. Bounded, but above that: the masks are interned (shared), so an
# entry costs its pattern and a few references, where recomputing one costs a walk over the formats.
_PATTERNS_KEPT = 16384


@lru_cache(maxsize=_PATTERNS_KEPT)
def _pattern_analysis(pattern: str) -> tuple[int, int, frozenset[tuple[str, str]]]:
    """For one Resource pattern: the actions that can act on some resource it matches, the actions it
    reaches every resource of one of their types for, and those (prefix, type) pairs."""
    cat = catalogue()
    if pattern == "*":
        return cat.all, cat.all, frozenset()
    meets = full = 0
    types = set()
    wild = "*" in pattern  # without `*`, only a format naming one resource can be covered whole
    for prefix, resource_type, arn_format in _formats_met(pattern):
        actions = cat.actions_for_resource_type(prefix, resource_type)
        meets |= actions
        if (wild or "${" not in arn_format.rsplit(":", 1)[-1]) and pattern_covers_format(pattern, arn_format):
            full |= actions
            types.add((prefix, resource_type))
    keep = _immutable_filter(pattern, cat)
    return intern_mask(meets & keep), intern_mask(full & keep), frozenset(types)


def _types_covered(pattern: str) -> tuple[int, frozenset[tuple[str, str]]]:
    """Actions with a resource type whose every ARN the pattern reaches, and those types."""
    _, full, types = _pattern_analysis(pattern)
    return full, types


def resource_pattern_full_mask(pattern: str) -> int:
    """Every action the pattern grants on every resource of one of its types."""
    return _types_covered(pattern)[0]


@lru_cache(maxsize=_PATTERNS_KEPT)
def resources_full_mask(patterns: tuple[str, ...]) -> int:
    mask = 0
    for pattern in patterns:
        mask |= resource_pattern_full_mask(pattern)
    return intern_mask(mask)


@lru_cache(maxsize=4096)
def resources_mask(patterns: tuple[str, ...]) -> int:
    mask = 0
    for pattern in patterns:
        mask |= resource_pattern_mask(pattern)
    return intern_mask(mask)


def covers_every_type(patterns: tuple[str, ...], within: int) -> int:
    """The actions of `within` every one of whose resource types the patterns reach whole (actions that
    take no resource type need "*")."""
    if "*" in patterns:
        return within
    return _covers_every_type(patterns, within)


@lru_cache(maxsize=2048)
def _covers_every_type(patterns: tuple[str, ...], within: int) -> int:
    cat = catalogue()
    candidates = 0
    types: set[tuple[str, str]] = set()
    for pattern in patterns:
        mask, covered = _types_covered(pattern)
        candidates |= mask
        types |= covered
    candidates &= within
    if not candidates:
        return 0
    out = 0
    for i in cat.indices_in(candidates):
        prefix = cat.names[i].split(":", 1)[0]
        if all((prefix, t) in types for t in cat.resource_types[i]):
            out |= 1 << i
    return out


_SCOPE_TOKENS: FormatTokens = ("${",)  # a whole part that is one variable (${Region}, ${Account})
FormatGroup = tuple[tuple[FormatTokens, ...], list[tuple[str, str, FormatTokens, str]]]


@lru_cache(maxsize=512)
def _format_groups(arn_service: str | None) -> list[FormatGroup]:
    """The catalogue's ARN formats for an ARN service field, grouped by their first five parts."""
    groups: dict[tuple[FormatTokens, ...], list[tuple[str, str, FormatTokens, str]]] = {}
    for prefix, resource_type, arn_format in catalogue().formats_for_arn_service(arn_service):
        tokens = arn_format_tokens(arn_format)
        if len(tokens) != 6:
            continue  # not an ARN of six parts: no pattern of six parts reaches it part by part
        groups.setdefault(tokens[:5], []).append((prefix, resource_type, tokens[5], arn_format))
    return list(groups.items())


def _intersect(includes: tuple[str, ...] | None, other: tuple[str, ...]) -> tuple[str, ...]:
    """Patterns for the resources both sides reach (None: every resource). Where two patterns only
    partly overlap, the first is kept: the result may reach more than the truth, never less."""
    if includes is None:
        return other
    out: list[str] = []
    for a in includes:
        for b in other:
            if glob_includes(a, b):
                kept = b
            elif glob_includes(b, a) or arn_globs_intersect(a, b):
                kept = a  # inside b, or a partial overlap kept whole
            else:
                continue
            if kept not in out:
                out.append(kept)
    return tuple(out)


def _drop_excluded(includes: tuple[str, ...], excludes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(p for p in includes if not any(glob_includes(x, p) for x in excludes))


_MAX_BOUNDARY_SCOPES = 6  # resource-scoped boundary statements followed one by one; beyond, not narrowed


class Permissions:
    """The effective permissions of one principal at `now` (None: time windows undecided), with what
    the audit knows of the principal (`principal`: conditions on its ARN, account, tags, MFA decided)."""

    def __init__(
        self,
        policies: list[tuple[str, CompiledPolicy]],
        boundary: CompiledPolicy | None = None,
        now: datetime | None = None,
        principal: PrincipalContext | None = None,
    ) -> None:
        cat = self.catalogue = catalogue()
        self.boundary = boundary
        self.now = now
        self.principal = principal
        if principal is not None:
            policies = [(label, _for_principal(p, principal)) for label, p in policies]
            boundary = _for_principal(boundary, principal) if boundary is not None else None
        denies = [
            d
            for _, p in policies
            for d in p.denies
            if not d.time_conditions or d.in_force(now) is ConditionClass.TIME_OPEN
        ]
        boundary_allows: list[Grant] = []
        if boundary is not None:
            denies += [d for d in boundary.denies if d.in_force(now) is ConditionClass.TIME_OPEN]
            boundary_allows = [g for g in boundary.allows if g.in_force(now) is not ConditionClass.TIME_CLOSED]
        self._deny_grants = denies
        self._outside_allowed: dict[str, bool] = {}  # allows() of names outside the catalogue, as asked
        # Statements that can grant names outside the catalogue: only those on every resource (the
        # resource types of an unknown action are unknown). Kept whatever their catalogue mask.
        self._text_grants = [
            g
            for _, p in policies
            for g in p.allows
            if g.unrestricted and (not g.time_conditions or g.in_force(now) is not ConditionClass.TIME_CLOSED)
        ]
        bound_any = bound_full = cat.all
        if boundary is not None:
            bound_any = bound_full = 0
            for g in boundary_allows:
                bound_any |= g.mask
                bound_full |= g.full
        # NotResource denies first: each narrows a piece to its exceptions, and only then can a Resource
        # deny see every resource it covers (applied the other way round, a deny of s3:::*/* leaves an
        # allow on s3:::* whole, which the narrowing then reduces to the very objects that deny removes).
        # The result does not depend on the policies' order. Sorted once, not per allow.
        cutting_order = sorted(denies, key=lambda d: not d.not_resource)
        grants: list[LabeledGrant] = []
        for label, policy in policies:
            for g in policy.allows:
                if not g.mask or (g.time_conditions and g.in_force(now) is ConditionClass.TIME_CLOSED):
                    continue
                # Without a boundary the compiled grant's own masks serve (shared, not copied: a 5,000
                # role audit keeps a few thousand of these alive).
                whole = LabeledGrant(
                    label,
                    g,
                    g.mask if boundary is None else g.mask & bound_any,
                    g.full if boundary is None else g.full & bound_any,
                    None if g.unrestricted else g.resources,
                    g.resources if g.not_resource else (),
                )
                hits = [d for d in cutting_order if d.mask & g.mask]
                if boundary is None and not hits:
                    grants.append(whole)  # the usual case: nothing cuts it (its mask is not empty)
                    continue
                pieces = [whole]
                for d in hits:
                    pieces = [q for p in pieces for q in _apply_deny(p, d)]
                if boundary is not None:
                    pieces = [q for p in pieces for q in _apply_boundary(p, boundary_allows, bound_full)]
                grants.extend(p for p in pieces if p.mask)
        allowed = unrestricted = definite = conditional = 0
        for lg in grants:
            allowed |= lg.mask
            unrestricted |= lg.unrestricted_mask
            if lg.grant.delegation:
                continue
            if lg.grant.conditional:
                conditional |= lg.mask
            else:
                definite |= lg.mask
        self.grants = grants
        self.allowed = allowed  # on some resource, under some condition
        self.unrestricted = unrestricted  # on every resource of the action's type (but a few excepted)
        self.definite = definite  # without restricting conditions or boundary-enforced delegation
        self.escalation = definite | conditional  # what can serve an escalation path

    def allows(self, action: str) -> bool:
        """Is the action (any name, even one outside the catalogue) allowed on some resource?"""
        i = self.catalogue.index.get(action.lower())
        if i is not None:
            return bool(self.allowed >> i & 1)
        known = self._outside_allowed.get(action)
        if known is None:
            known = self._outside_allowed[action] = self._allows_outside(action)
        return known

    def _allows_outside(self, action: str) -> bool:
        # Outside the catalogue (a new or retired action): only unrestricted statements can grant it,
        # an unrestricted Deny naming it removes it, and a boundary must allow it too.
        if not self._text_grants:
            return False
        if any(d.unrestricted and not d.not_resource and d.names_action(action) for d in self._deny_grants):
            return False
        if self.boundary is not None and not _boundary_names(self.boundary, action):
            return False
        return any(g.names_action(action) for g in self._text_grants)

    def grants_for(self, mask: int) -> list[LabeledGrant]:
        return [lg for lg in self.grants if lg.mask & mask]

    def scopes(self, action: str) -> list[Scope]:
        """Where each grant lets the principal perform the action (after denies and the boundary)."""
        bit = self.catalogue.expand(action)
        if not bit:
            return []
        return [
            Scope(lg.grant, lg.policy, lg.includes or (), lg.excludes, lg.includes is None)
            for lg in self.grants
            if lg.mask & bit
        ]

    def pass_role_targets(self) -> list[frozenset[str] | None]:
        """iam:PassedToService restrictions of every grant that allows iam:PassRole (None: any service)."""
        bit = self.catalogue.expand("iam:PassRole")
        return [lg.grant.pass_to for lg in self.grants if lg.mask & bit and not lg.grant.delegation]


def _for_principal(policy: CompiledPolicy, principal: PrincipalContext) -> CompiledPolicy:
    """The policy as it applies to this principal: statements whose conditions on the principal fail are
    dropped, conditions that hold are no longer conditions (a Deny left without any then holds)."""
    if not policy.principal_dependent:
        return policy
    allows: list[Grant] = []
    denies = list(policy.denies)
    conditional: list[Grant] = []
    for grant, bucket in [(g, "allow") for g in policy.allows] + [(g, "deny") for g in policy.conditional_denies]:
        resolved = _resolve(grant, principal)
        if resolved is None:
            continue  # never applies to this principal
        if bucket == "allow":
            allows.append(resolved)
        elif resolved.structurally_unconditional:
            denies.append(resolved)
        else:
            conditional.append(resolved)
    return replace(policy, allows=tuple(allows), denies=tuple(denies), conditional_denies=tuple(conditional))


def _resolve(grant: Grant, principal: PrincipalContext) -> Grant | None:
    if not grant.principal_conditions:
        return grant
    held: list[Condition] = []
    for condition in grant.principal_conditions:
        verdict = principal_condition_holds(condition, principal)
        if verdict is False:
            return None
        if verdict is True:
            held.append(condition)
    if not held:
        return grant
    return replace(
        grant,
        restricting=tuple(c for c in grant.restricting if c not in held),
        unknown_conditions=tuple(c for c in grant.unknown_conditions if c not in held),
        principal_conditions=tuple(c for c in grant.principal_conditions if c not in held),
    )


def _full_on(includes: tuple[str, ...] | None, mask: int, grant: Grant) -> int:
    if grant.via_service:
        return 0
    if includes is None:
        return mask
    return mask & resources_full_mask(includes)


def _apply_deny(piece: LabeledGrant, deny: Grant) -> list[LabeledGrant]:
    """The piece after one unconditional Deny: untouched actions, removed ones, and the ones the deny
    leaves on fewer resources (a piece of their own)."""
    hit = piece.mask & deny.mask
    if not hit:
        return [piece]
    rest = piece.mask & ~hit
    out = [_with(piece, rest, piece.unrestricted_mask & rest)] if rest else []
    if deny.not_resource:
        # Denied everywhere but deny.resources: what the exceptions cannot name goes; the rest stays there only.
        narrowed = hit & deny.narrows
        if narrowed:
            out.extend(_narrowed(piece, narrowed, deny.resources))
        return out
    if deny.unrestricted:
        return out  # Resource "*": every resource
    removed = hit & deny.full
    if piece.includes is not None and all(any(glob_includes(d, a) for d in deny.resources) for a in piece.includes):
        removed = hit  # the allow's own resources are all denied
    kept = hit & ~removed
    if kept:
        if piece.includes is None:
            # Every resource but the denied ones: still every other resource of the type.
            excludes = piece.excludes + tuple(r for r in deny.resources if r not in piece.excludes)
            out.append(LabeledGrant(piece.policy, piece.grant, kept, piece.unrestricted_mask & kept, None, excludes))
        else:
            # The allow's resources this deny covers are gone for these actions too: a later deny (a
            # NotResource one narrowing to exactly those) must not find them still allowed.
            left = tuple(a for a in piece.includes if not any(glob_includes(d, a) for d in deny.resources))
            if left == piece.includes:
                out.append(_with(piece, kept, piece.unrestricted_mask & kept))
            else:
                out.append(
                    LabeledGrant(piece.policy, piece.grant, kept, piece.unrestricted_mask & kept, left, piece.excludes)
                )
    return out


def _apply_boundary(piece: LabeledGrant, boundary_allows: list[Grant], bound_full: int) -> list[LabeledGrant]:
    """Actions the boundary allows only on some resources remain only there."""
    limited = piece.mask & ~bound_full
    if not limited:
        return [piece]
    scoped = [g for g in boundary_allows if g.mask & limited and not g.unrestricted]
    if not scoped or len(scoped) > _MAX_BOUNDARY_SCOPES:
        return [_with(piece, piece.mask, piece.unrestricted_mask & bound_full)]
    out = [_with(piece, piece.mask & ~limited, piece.unrestricted_mask & ~limited)] if piece.mask & ~limited else []
    # Split the limited actions by which scoped boundary statements allow them.
    parts: list[tuple[int, tuple[str, ...]]] = [(limited, ())]
    for g in scoped:
        split: list[tuple[int, tuple[str, ...]]] = []
        for mask, resources in parts:
            inside, outside = mask & g.mask, mask & ~g.mask
            if inside:
                split.append((inside, resources + g.resources))
            if outside:
                split.append((outside, resources))
        parts = split
    for mask, resources in parts:
        if resources:  # else the boundary allows it nowhere these resources reach
            out.extend(_narrowed(piece, mask, resources))
    return out


def _narrowed(piece: LabeledGrant, mask: int, resources: tuple[str, ...]) -> list[LabeledGrant]:
    """The piece's `mask` actions left only on `resources` (none when they share no resource)."""
    includes = _drop_excluded(_intersect(piece.includes, resources), piece.excludes)
    if not includes:
        return []
    return [
        LabeledGrant(piece.policy, piece.grant, mask, _full_on(includes, mask, piece.grant), includes, piece.excludes)
    ]


def _with(piece: LabeledGrant, mask: int, unrestricted_mask: int) -> LabeledGrant:
    if mask == piece.mask and unrestricted_mask == piece.unrestricted_mask:
        return piece
    return LabeledGrant(piece.policy, piece.grant, mask, unrestricted_mask, piece.includes, piece.excludes)


def _boundary_names(boundary: CompiledPolicy, action: str) -> bool:
    """Does the boundary allow a name outside the catalogue? Some Allow must name it (on any resource:
    the action's resource types are unknown) and no unrestricted Deny may."""
    if any(d.unrestricted and not d.not_resource and d.names_action(action) for d in boundary.denies):
        return False
    return any(g.names_action(action) for g in boundary.allows)


def deny_covers(deny: Grant, allow: Grant) -> bool:
    if deny.unrestricted and not deny.not_resource:
        return True
    if deny.not_resource or allow.unrestricted:
        return False
    return all(any(glob_includes(d, a) for d in deny.resources) for a in allow.resources)


def empty_permissions() -> Permissions:
    return Permissions([])


def format_conditions(conditions: tuple[Condition, ...]) -> str:
    return "; ".join(f"{c.operator} {c.key} {list(c.values)}" for c in conditions)


def glob_any(patterns: tuple[str, ...] | frozenset[str], text: str) -> bool:
    return any(glob_match(p, text) for p in patterns)
