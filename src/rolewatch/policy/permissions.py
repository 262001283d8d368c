"""Principal-centric effective permissions: what a role can actually do, across all its policies.

Evaluation follows IAM's logic for one principal in its own account:
1. every Allow statement of every identity policy (inline and managed) grants its actions on its
   resources; actions whose resource types cannot match the statement's Resource are not granted
   (e.g. `s3:ListAllMyBuckets` on `arn:aws:s3:::bucket`), and IAM write actions on
   `arn:aws:iam::aws:...` grant nothing (AWS-managed policies are immutable);
2. an explicit Deny in any policy removes the actions it names from every grant whose resources it
   covers (unconditional denies only: see conditions.py);
3. a permissions boundary caps the result: only actions the boundary also allows remain.

Action sets are bitsets over the catalogue (see catalogue.py). Compiled documents are cached by their
text, so a managed policy shared by a thousand roles is analysed once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from rolewatch.model import PolicyError
from rolewatch.policy.catalogue import ACCESS_LIST, ACCESS_READ, ActionCatalogue, catalogue
from rolewatch.policy.conditions import ConditionClass, classify, passed_to_services
from rolewatch.policy.document import Condition, PolicyDocument, Statement, parse_policy
from rolewatch.policy.globs import (
    FormatTokens,
    arn_format_tokens,
    arn_pattern_meets_format,
    arn_resource_meets_format,
    glob_covers,
    glob_match,
    part_meets,
)


@dataclass(frozen=True)
class Grant:
    """One statement's contribution: the actions it grants (or denies) and on what."""

    mask: int = field(repr=False)  # a bitset over the catalogue: thousands of digits in decimal
    unrestricted: bool  # applies to every resource: Resource "*" (NotResource is treated so too)
    resources: tuple[str, ...]
    not_resource: bool
    patterns: tuple[str, ...]
    not_action: bool
    restricting: tuple[Condition, ...]  # conditions an attacker cannot satisfy at will
    unknown_conditions: tuple[Condition, ...]
    pass_to: frozenset[str] | None  # iam:PassedToService values, None when unrestricted
    delegation: bool  # conditioned on iam:PermissionsBoundary
    location: str
    not_yet_in_force: bool = False  # a time window that has not opened (DateGreaterThan in the future)

    @property
    def conditional(self) -> bool:
        return bool(self.restricting)

    def names_action(self, action: str) -> bool:
        """Whether the statement's Action/NotAction text covers an action (for names outside the catalogue)."""
        return _patterns_name(self.patterns, action.lower()) != self.not_action

    def __repr__(self) -> str:
        element = "NotAction" if self.not_action else "Action"
        scope = "every resource" if self.unrestricted else f"{len(self.resources)} resource pattern(s)"
        return f"Grant({self.location}, {element} {list(self.patterns)}, {self.mask.bit_count()} actions, {scope})"


@dataclass(frozen=True)
class CompiledPolicy:
    document: PolicyDocument = field(repr=False)
    allows: tuple[Grant, ...]
    denies: tuple[Grant, ...]  # denies that hold unconditionally
    conditional_denies: tuple[Grant, ...]
    unknown_actions: tuple[tuple[str, str], ...]  # (location, pattern) naming no catalogue action
    void_resources: tuple[tuple[str, str], ...]  # (location, pattern) no action of the statement can use


@dataclass(frozen=True)
class LabeledGrant:
    policy: str  # the policy's name (inline) or ARN (managed)
    grant: Grant
    mask: int = field(repr=False)  # what remains after denies and the boundary
    unrestricted_mask: int = field(repr=False)

    def __repr__(self) -> str:
        return f"LabeledGrant({self.policy}, {self.grant!r}, {self.mask.bit_count()} actions remain)"


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
@cache
def _compile_cached(key: str, kind: str) -> CompiledPolicy:
    return compile_document(parse_policy(key, "", kind))  # type: ignore[arg-type]


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
        if grant is None:
            continue
        if statement.allows:
            allows.append(grant)
        elif (
            grant.restricting
            or grant.unknown_conditions
            or grant.pass_to is not None
            or grant.delegation
            or grant.not_yet_in_force
        ):
            conditional_denies.append(grant)
        else:
            denies.append(grant)
    return CompiledPolicy(
        document, tuple(allows), tuple(denies), tuple(conditional_denies), tuple(unknown), tuple(void)
    )


def _compile_statement(
    statement: Statement, cat: ActionCatalogue, unknown: list[tuple[str, str]]
) -> tuple[Grant | None, list[tuple[str, str]]]:
    restricting: list[Condition] = []
    unknown_conditions: list[Condition] = []
    delegation = False
    not_yet = False
    for condition in statement.conditions:
        cls = classify(condition)
        if cls is ConditionClass.TIME_CLOSED:
            return None, []  # the statement can no longer apply
        if cls is ConditionClass.TIME_PENDING:
            not_yet = True  # an Allow still counts (it will hold); a Deny is not relied on
        if cls is ConditionClass.RESTRICTING:
            restricting.append(condition)
        elif cls is ConditionClass.UNKNOWN:
            unknown_conditions.append(condition)
        elif cls is ConditionClass.DELEGATION:
            delegation = True

    action_mask = 0
    for i, pattern in enumerate(statement.actions):
        expanded = cat.expand(pattern)
        if not expanded:
            unknown.append((f"{statement.location}.{'NotAction' if statement.not_action else 'Action'}[{i}]", pattern))
        action_mask |= expanded
    if statement.not_action:
        action_mask = cat.all & ~action_mask

    void: list[tuple[str, str]] = []
    if not statement.resources or statement.not_resource or "*" in statement.resources:
        resource_mask = cat.all
        unrestricted = True
    else:
        resource_mask = 0
        for i, pattern in enumerate(statement.resources):
            m = resource_pattern_mask(pattern)
            if action_mask and not (m & action_mask):
                void.append((f"{statement.location}.Resource[{i}]", pattern))
            resource_mask |= m
        unrestricted = False
    grant = Grant(
        mask=intern_mask(action_mask & resource_mask),
        unrestricted=unrestricted,
        resources=statement.resources,
        not_resource=statement.not_resource,
        patterns=statement.actions,
        not_action=statement.not_action,
        restricting=tuple(restricting),
        unknown_conditions=tuple(unknown_conditions),
        pass_to=passed_to_services(statement.conditions),
        delegation=delegation,
        location=statement.location,
        not_yet_in_force=not_yet,
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


# Bounded: patterns are mostly unique per role (bucket and table names), and each mask holds up to
# 2.5 KB; the shared ones (the managed policies') stay hot.
@lru_cache(maxsize=4096)
def resource_pattern_mask(pattern: str) -> int:
    """Every catalogue action that can act on some resource the ARN pattern matches."""
    cat = catalogue()
    if pattern == "*":
        return cat.all
    parts = pattern.split(":", 5)
    literal_service = len(parts) == 6 and "*" not in parts[2] and "?" not in parts[2]
    mask = 0
    if len(parts) != 6:
        for prefix, resource_type, arn_format in cat.formats_for_arn_service(None):
            if arn_pattern_meets_format(pattern, arn_format_tokens(arn_format)):
                mask |= cat.actions_for_resource_type(prefix, resource_type)
    else:
        head = tuple(parts[:5])
        for group_head, members in _format_groups(parts[2] if literal_service else None):
            # The formats of a group share their first five parts: compared once per group.
            if not all(part_meets(p, f) for p, f in zip(head, group_head, strict=True)):
                continue
            for prefix, resource_type, tokens in members:
                if arn_resource_meets_format(parts[5], tokens):
                    mask |= cat.actions_for_resource_type(prefix, resource_type)
    if len(parts) == 6 and parts[2] == "iam" and parts[4] == "aws":
        # arn:aws:iam::aws:policy/... names AWS-managed policies, which no customer can change.
        mask &= cat.level_mask(ACCESS_LIST) | cat.level_mask(ACCESS_READ)
    return intern_mask(mask)


FormatGroup = tuple[tuple[FormatTokens, ...], list[tuple[str, str, FormatTokens]]]


@lru_cache(maxsize=512)
def _format_groups(arn_service: str | None) -> list[FormatGroup]:
    """The catalogue's ARN formats for an ARN service field, grouped by their first five parts."""
    groups: dict[tuple[FormatTokens, ...], list[tuple[str, str, FormatTokens]]] = {}
    for prefix, resource_type, arn_format in catalogue().formats_for_arn_service(arn_service):
        tokens = arn_format_tokens(arn_format)
        if len(tokens) != 6:
            continue  # not an ARN of six parts: no pattern of six parts reaches it part by part
        groups.setdefault(tokens[:5], []).append((prefix, resource_type, tokens[5]))
    return list(groups.items())


class Permissions:
    """The effective permissions of one principal."""

    def __init__(
        self,
        policies: list[tuple[str, CompiledPolicy]],
        boundary: CompiledPolicy | None = None,
    ) -> None:
        cat = catalogue()
        self.catalogue = cat
        denies = [d for _, p in policies for d in p.denies]
        self._deny_grants = denies
        # Statements that can grant names outside the catalogue: only those on every resource (the
        # resource types of an unknown action are unknown). Kept whatever their catalogue mask.
        self._text_grants = [g for _, p in policies for g in p.allows if g.unrestricted]
        self.boundary = boundary
        # Outside the boundary: what it does not allow (anywhere / on every resource). An unchanged
        # mask stays the compiled object, shared by every role with that statement.
        outside_any = outside_unrestricted = 0
        if boundary is not None:
            bound_any, bound_unrestricted = _boundary_masks(boundary, cat)
            outside_any, outside_unrestricted = cat.all & ~bound_any, cat.all & ~bound_unrestricted
        grants: list[LabeledGrant] = []
        allowed = unrestricted = definite = conditional = 0
        for label, policy in policies:
            for g in policy.allows:
                m = g.mask
                for d in denies:
                    if m & d.mask and deny_covers(d, g):
                        m &= ~d.mask
                if m & outside_any:
                    m &= ~outside_any
                if not m:
                    continue
                um = 0
                if g.unrestricted:
                    um = m & ~outside_unrestricted if m & outside_unrestricted else m
                grants.append(LabeledGrant(label, g, m, um))
                allowed |= m
                unrestricted |= um
                if g.delegation:
                    continue
                if g.conditional:
                    conditional |= m
                else:
                    definite |= m
        self.grants = grants
        self.allowed = allowed  # on some resource, under some condition
        self.unrestricted = unrestricted  # on every resource (Resource "*")
        self.definite = definite  # without restricting conditions or boundary-enforced delegation
        self.escalation = definite | conditional  # what can serve an escalation path

    def allows(self, action: str) -> bool:
        """Is the action (any name, even one outside the catalogue) allowed on some resource?"""
        i = self.catalogue.index.get(action.lower())
        if i is not None:
            return bool(self.allowed >> i & 1)
        # Outside the catalogue (a new or retired action): only unrestricted statements can grant it,
        # an unrestricted Deny naming it removes it, and a boundary must allow it too.
        if any(d.unrestricted and not d.not_resource and d.names_action(action) for d in self._deny_grants):
            return False
        if self.boundary is not None and not _boundary_names(self.boundary, action):
            return False
        return any(g.names_action(action) for g in self._text_grants)

    def grants_for(self, mask: int) -> list[LabeledGrant]:
        return [lg for lg in self.grants if lg.mask & mask]

    def pass_role_targets(self) -> list[frozenset[str] | None]:
        """iam:PassedToService restrictions of every grant that allows iam:PassRole (None: any service)."""
        bit = self.catalogue.expand("iam:PassRole")
        return [lg.grant.pass_to for lg in self.grants if lg.mask & bit and not lg.grant.delegation]


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
    return all(any(glob_covers(d, a) for d in deny.resources) for a in allow.resources)


def _boundary_masks(boundary: CompiledPolicy, cat: ActionCatalogue) -> tuple[int, int]:
    any_mask = unrestricted_mask = 0
    for g in boundary.allows:
        any_mask |= g.mask
        if g.unrestricted:
            unrestricted_mask |= g.mask
    for d in boundary.denies:
        if d.unrestricted and not d.not_resource:
            any_mask &= ~d.mask
            unrestricted_mask &= ~d.mask
    return any_mask, unrestricted_mask


def empty_permissions() -> Permissions:
    return Permissions([])


def format_conditions(conditions: tuple[Condition, ...]) -> str:
    return "; ".join(f"{c.operator} {c.key} {list(c.values)}" for c in conditions)


def glob_any(patterns: tuple[str, ...] | frozenset[str], text: str) -> bool:
    return any(glob_match(p, text) for p in patterns)
