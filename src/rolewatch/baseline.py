"""Least-privilege baselines: profiles of what a class of role may have, and suppressions.

A baseline file (YAML) holds `profiles` (the first whose selector matches a role applies; the last
profile must match everything) and `suppressions` (accepted risks with a justification and expiry).
An optional `defaults` mapping gives every profile its values unless the profile states its own.
The shipped default is rolewatch/baselines/default.yaml; its comments describe every field.

Validation is strict: an unknown key, a wrong type, an action or service the catalogue does not know,
a bad date or severity raises BaselineError naming the file and the field path, because a typo in a
baseline silently weakens the audit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from fnmatch import fnmatchcase
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from rolewatch.model import Finding, PolicyError, RoleSnapshot, Severity
from rolewatch.policy.catalogue import catalogue
from rolewatch.policy.document import parse_policy, type_name
from rolewatch.rule_metadata import rule_catalogue
from rolewatch.yaml_data import load_yaml

DEFAULT_BASELINE = "rolewatch/baselines/default.yaml"

# IAM's limits for a role's MaxSessionDuration, in seconds.
MIN_SESSION_SECONDS = 3600
MAX_SESSION_SECONDS = 43200
MAX_UNUSED_DAYS = 3650

# Role names and service principals cannot contain "|", so it separates alternative globs.
ALTERNATIVES = "|"


class BaselineError(ValueError):
    """A baseline file that cannot be used; the message names the file and the field."""


def _any_glob(patterns: str, text: str) -> bool:
    return any(fnmatchcase(text, p) for p in patterns.split(ALTERNATIVES))


@dataclass(frozen=True)
class Selector:
    path: str | None = None  # IAM path glob, e.g. "/service-role/*"
    name: str | None = None  # role name glob; "a*|b*" (a YAML list) matches either
    tags: tuple[tuple[str, str], ...] = ()  # all must match (value may be a glob)
    trusted_service: str | None = None  # a service principal the trust policy names, e.g. "ec2.amazonaws.com"

    @property
    def is_catch_all(self) -> bool:
        return self.path is None and self.name is None and not self.tags and self.trusted_service is None

    def matches(self, role: RoleSnapshot, trusted_services: frozenset[str]) -> bool:
        if self.path is not None and not fnmatchcase(role.path, self.path):
            return False
        # Role names are unique regardless of case in IAM, so "*deploy*" also selects "ProdDeployRole".
        if self.name is not None and not _any_glob(self.name.lower(), role.name.lower()):
            return False
        if not self._tags_match(role.tag_map):
            return False
        if self.trusted_service is not None:
            wanted = self.trusted_service.lower()
            return any(_any_glob(wanted, service.lower()) for service in trusted_services)
        return True

    def _tags_match(self, role_tags: dict[str, str]) -> bool:
        # IAM tag keys are unique regardless of case, so compare keys case-insensitively.
        lowered = {k.lower(): v for k, v in role_tags.items()}
        return all(key.lower() in lowered and fnmatchcase(lowered[key.lower()], value) for key, value in self.tags)


@dataclass(frozen=True)
class AccessAnalyzerSettings:
    """Which IAM Access Analyzer checks run for a profile's roles, and what they compare against.

    The custom policy checks (CheckAccessNotGranted, CheckNoNewAccess, CheckNoPublicAccess) are billed
    per call, so each can be switched off per profile; ValidatePolicy and the analyzer findings are free.
    """

    validate_policy: bool = True
    check_access_not_granted: bool = True  # needs sensitive actions (here or the profile's own)
    check_no_new_access: bool = True  # needs a reference_policy
    check_no_public_access: bool = True  # the trust policy
    findings: bool = True  # an analyzer's external-access and unused-access findings for the role
    recommendations: bool = True  # GenerateFindingRecommendation for unused permissions
    sensitive_actions: tuple[str, ...] = ()  # checked in addition to the profile's sensitive_actions
    reference_policy: str | None = None  # JSON text; None: CheckNoNewAccess has nothing to compare with


@dataclass(frozen=True)
class Profile:
    name: str
    description: str = ""
    selector: Selector = field(default_factory=Selector)
    allowed_services: tuple[str, ...] = ()  # empty: any service
    allowed_actions: tuple[str, ...] = ()  # action patterns; empty: any action of allowed services
    sensitive_actions: tuple[str, ...] = ()  # must never be granted to this class of role
    forbidden_managed_policies: tuple[str, ...] = ()  # names (AWS-managed) or ARN globs
    required_tags: tuple[str, ...] = ()
    max_session_duration: int | None = None  # seconds
    require_permissions_boundary: bool = False
    prefer_customer_managed: bool = False
    trusted_principals: tuple[str, ...] = ()  # globs over principal values; empty: no restriction
    resources: tuple[tuple[str, tuple[str, ...]], ...] = ()  # service -> ARNs a corrected policy may name
    # Added fields:
    allowed_managed_policies: tuple[str, ...] = ()  # AWS-managed policies accepted despite prefer_customer_managed
    permissions_boundary: str | None = None  # the boundary policy (name or ARN) roles of this class carry
    severities: tuple[tuple[str, Severity], ...] = ()  # rule id -> severity for this profile's findings
    max_unused_days: int | None = None  # a role not used for longer is reported (unused-role); None: off
    access_analyzer: AccessAnalyzerSettings = field(default_factory=AccessAnalyzerSettings)

    @property
    def restricts_actions(self) -> bool:
        return bool(self.allowed_services or self.allowed_actions)

    @property
    def permitted_mask(self) -> int:
        """Catalogue actions the profile allows (every action when it lists no services or actions)."""
        return _permitted_mask(self.allowed_services, self.allowed_actions)

    @property
    def sensitive_mask(self) -> int:
        return catalogue().mask_of(self.sensitive_actions)

    def resources_for(self, service: str) -> tuple[str, ...]:
        for prefix, arns in self.resources:
            if prefix == service.lower():
                return arns
        return ()

    def severity_for(self, rule_id: str) -> Severity | None:
        return dict(self.severities).get(rule_id)

    @property
    def access_analyzer_sensitive_actions(self) -> tuple[str, ...]:
        """What CheckAccessNotGranted looks for: the profile's sensitive actions plus the Access Analyzer list."""
        return tuple(dict.fromkeys((*self.sensitive_actions, *self.access_analyzer.sensitive_actions)))

    def forbids_policy(self, arn: str) -> bool:
        return any(policy_matches(p, arn) for p in self.forbidden_managed_policies)

    def accepts_managed_policy(self, arn: str) -> bool:
        return any(policy_matches(p, arn) for p in self.allowed_managed_policies)


@cache
def _permitted_mask(services: tuple[str, ...], actions: tuple[str, ...]) -> int:
    cat = catalogue()
    service_mask = cat.all
    if services:
        service_mask = 0
        for service in services:
            service_mask |= cat.service_mask(service)
    action_mask = cat.mask_of(actions) if actions else cat.all
    return service_mask & action_mask


def reference_policy_from_profile(profile: Profile) -> dict[str, Any] | None:
    """The profile's allowed access as an identity policy on every resource (None when it allows everything).

    As in `Profile.permitted_mask`: with only services, every action of them ("service:*"); with actions,
    those actions, less any outside the listed services.
    """
    if not profile.restricts_actions:
        return None
    services = set(profile.allowed_services)
    if not profile.allowed_actions:
        actions = [f"{s}:*" for s in profile.allowed_services]
    else:
        actions = [a for a in profile.allowed_actions if not services or a.split(":", 1)[0].lower() in services]
    if not actions:
        return None
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}


def policy_matches(pattern: str, arn: str) -> bool:
    """A bare name names an AWS-managed policy (any path, any partition); anything else is an ARN glob."""
    if pattern.startswith("arn:"):
        return fnmatchcase(arn, pattern)
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[2] != "iam" or parts[4] != "aws":
        return False
    return fnmatchcase(parts[5].rsplit("/", 1)[-1], pattern)


@dataclass(frozen=True)
class Suppression:
    rule: str  # rule id glob
    role: str  # role name or ARN glob
    justification: str
    expires: date

    def names(self, finding: Finding, role: RoleSnapshot) -> bool:
        if not fnmatchcase(finding.rule, self.rule):
            return False
        # Role names are case-insensitive in IAM; so is the match.
        pattern = self.role.lower()
        return fnmatchcase(role.name.lower(), pattern) or fnmatchcase(role.arn.lower(), pattern)

    def expired(self, today: date) -> bool:
        return self.expires < today


@dataclass(frozen=True)
class Baseline:
    profiles: tuple[Profile, ...]
    suppressions: tuple[Suppression, ...] = ()
    skip_service_linked: bool = True
    source: str = "default"

    def profile_for(self, role: RoleSnapshot, trusted_services: frozenset[str]) -> Profile:
        for profile in self.profiles:
            if profile.selector.matches(role, trusted_services):
                return profile
        # Files are validated to end with a catch-all; a Baseline built in code may not.
        return Profile(name="(none)", description="no profile of the baseline matches this role")

    def suppression_for(self, finding: Finding, role: RoleSnapshot, today: date) -> Suppression | None:
        """The suppression (expired or not) that names this finding, if any.

        A live suppression wins over an expired one, so renewing an accepted risk means adding the new
        entry; the old one may stay in the file as history.
        """
        matching = [s for s in self.suppressions if s.names(finding, role)]
        live = [s for s in matching if not s.expired(today)]
        return (live or matching or [None])[0]


def load_baseline(path: str | Path | None = None) -> Baseline:
    """Load a baseline file, or the shipped default when path is None. Raises BaselineError."""
    if path is None:
        return _default_baseline()
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"{source}: cannot read the baseline file: {exc}") from None
    return parse_baseline_text(text, source)


@cache
def _default_baseline() -> Baseline:
    text = resources.files("rolewatch").joinpath("baselines/default.yaml").read_text(encoding="utf-8")
    return parse_baseline_text(text, DEFAULT_BASELINE)


def parse_baseline_text(text: str, source: str) -> Baseline:
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        raise BaselineError(f"{source}: not valid YAML: {exc}") from None
    return parse_baseline(raw, source)


def parse_baseline(raw: Any, source: str) -> Baseline:
    return _Parser(source).baseline(raw)


# -- validation ------------------------------------------------------------------------------------

_TOP_KEYS = {"version", "skip_service_linked", "defaults", "profiles", "suppressions"}
_SELECTOR_KEYS = {"path", "name", "tags", "trusted_service"}
_SUPPRESSION_KEYS = {"rule", "role", "justification", "expires"}
_PROFILE_ONLY_KEYS = {"name", "description", "selector"}
_STRING_LIST_FIELDS = (
    "required_tags",
    "forbidden_managed_policies",
    "allowed_managed_policies",
    "trusted_principals",
)
_INHERITABLE_KEYS = {
    "allowed_services",
    "allowed_actions",
    "sensitive_actions",
    "max_session_duration",
    "require_permissions_boundary",
    "prefer_customer_managed",
    "resources",
    "permissions_boundary",
    "severities",
    "max_unused_days",
    "access_analyzer",
    *_STRING_LIST_FIELDS,
}
_ACCESS_ANALYZER_SWITCHES = (
    "validate_policy",
    "check_access_not_granted",
    "check_no_new_access",
    "check_no_public_access",
    "findings",
    "recommendations",
)
_ACCESS_ANALYZER_KEYS = {*_ACCESS_ANALYZER_SWITCHES, "sensitive_actions", "reference_policy"}
# `reference_policy: profile` builds the reference from the profile's allowed_services/allowed_actions.
REFERENCE_FROM_PROFILE = "profile"
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class _Parser:
    """Turns the YAML value into a Baseline; every error names the file and the field path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> BaselineError:
        return BaselineError(f"{self.source}: {where}: {message}" if where else f"{self.source}: {message}")

    # -- structure ------------------------------------------------------------------------------
    def baseline(self, raw: Any) -> Baseline:
        top = self.mapping(raw, "", _TOP_KEYS)
        if top.get("version", 1) != 1:
            raise self.fail("version", f"unsupported baseline version {top['version']!r} (expected 1)")
        defaults = self.mapping(top.get("defaults", {}), "defaults", _INHERITABLE_KEYS)
        profiles_raw = self.sequence(top.get("profiles"), "profiles")
        if not profiles_raw:
            raise self.fail("profiles", "at least one profile is required")
        profiles = tuple(self.profile(item, f"profiles[{i}]", defaults) for i, item in enumerate(profiles_raw))
        self.check_profiles(profiles)
        suppressions_raw = self.sequence(top.get("suppressions", []), "suppressions")
        return Baseline(
            profiles=profiles,
            suppressions=tuple(self.suppression(s, f"suppressions[{i}]") for i, s in enumerate(suppressions_raw)),
            skip_service_linked=self.boolean(top.get("skip_service_linked", True), "skip_service_linked"),
            source=self.source,
        )

    def check_profiles(self, profiles: tuple[Profile, ...]) -> None:
        seen: set[str] = set()
        for i, profile in enumerate(profiles):
            if profile.name in seen:
                raise self.fail(f"profiles[{i}].name", f"duplicate profile name {profile.name!r}")
            seen.add(profile.name)
        if not profiles[-1].selector.is_catch_all:
            raise self.fail(
                f"profiles[{len(profiles) - 1}].selector",
                "the last profile must match every role (an empty selector), so no role goes unchecked",
            )

    def profile(self, raw: Any, where: str, defaults: dict[str, Any]) -> Profile:
        own = self.mapping(raw, where, _INHERITABLE_KEYS | _PROFILE_ONLY_KEYS)
        if "name" not in own:
            raise self.fail(f"{where}.name", "a profile needs a name")
        name = self.string(own["name"], f"{where}.name")
        if not _PROFILE_NAME.match(name):
            raise self.fail(f"{where}.name", f"{name!r} is not a valid profile name (letters, digits, . _ -)")
        # A profile's own value wins; otherwise the `defaults` value applies (reported at its own path).
        values = {k: (v, f"defaults.{k}") for k, v in defaults.items()}
        values.update({k: (v, f"{where}.{k}") for k, v in own.items()})

        def get(key: str, convert: Callable[[Any, str], Any], fallback: Any) -> Any:
            if key not in values:
                return fallback
            value, at = values[key]
            return convert(value, at)

        profile = Profile(
            name=name,
            description=self.string(own.get("description", ""), f"{where}.description", allow_empty=True).strip(),
            selector=self.selector(own.get("selector", {}), f"{where}.selector"),
            allowed_services=get("allowed_services", self.services, ()),
            allowed_actions=get("allowed_actions", self.action_patterns, ()),
            sensitive_actions=get("sensitive_actions", self.action_patterns, ()),
            forbidden_managed_policies=get("forbidden_managed_policies", self.strings, ()),
            allowed_managed_policies=get("allowed_managed_policies", self.strings, ()),
            required_tags=get("required_tags", self.strings, ()),
            max_session_duration=get("max_session_duration", self.session_duration, None),
            require_permissions_boundary=get("require_permissions_boundary", self.boolean, False),
            prefer_customer_managed=get("prefer_customer_managed", self.boolean, False),
            trusted_principals=get("trusted_principals", self.strings, ()),
            resources=get("resources", self.resource_map, ()),
            permissions_boundary=get("permissions_boundary", self.optional_string, None),
            severities=get("severities", self.severity_map, ()),
            max_unused_days=get("max_unused_days", self.unused_days, None),
        )
        settings = self.access_analyzer(defaults.get("access_analyzer"), own.get("access_analyzer"), where, profile)
        return replace(profile, access_analyzer=settings)

    def access_analyzer(self, inherited: Any, own: Any, where: str, profile: Profile) -> AccessAnalyzerSettings:
        """`defaults.access_analyzer` merged key by key with the profile's own `access_analyzer`."""
        values: dict[str, tuple[Any, str]] = {}
        for raw, at in ((inherited, "defaults.access_analyzer"), (own, f"{where}.access_analyzer")):
            if raw is not None:
                values.update({k: (v, f"{at}.{k}") for k, v in self.mapping(raw, at, _ACCESS_ANALYZER_KEYS).items()})
        switches = {key: self.boolean(*values[key]) for key in _ACCESS_ANALYZER_SWITCHES if key in values}
        sensitive = self.action_patterns(*values["sensitive_actions"]) if "sensitive_actions" in values else ()
        reference = (
            self.reference_policy(*values["reference_policy"], profile) if "reference_policy" in values else None
        )
        return AccessAnalyzerSettings(**switches, sensitive_actions=sensitive, reference_policy=reference)

    def reference_policy(self, raw: Any, where: str, profile: Profile) -> str | None:
        """A policy document (mapping), `profile` (built from the profile's allowed services/actions), or null."""
        if raw is None:
            return None
        if raw == REFERENCE_FROM_PROFILE:
            document = reference_policy_from_profile(profile)
            if document is None:
                raise self.fail(where, "`profile` needs a profile that lists allowed_services or allowed_actions")
            return json.dumps(document, sort_keys=True)
        if not isinstance(raw, Mapping):
            raise self.fail(
                where, f"expected a policy document (a mapping) or {REFERENCE_FROM_PROFILE!r}, not {_kind(raw)}"
            )
        try:
            parse_policy(dict(raw), "", "identity")
        except PolicyError as exc:
            raise self.fail(_join(where, exc.location), exc.message) from None
        return json.dumps(raw, sort_keys=True)

    def selector(self, raw: Any, where: str) -> Selector:
        sel = self.mapping(raw if raw is not None else {}, where, _SELECTOR_KEYS)
        tags = self.mapping(sel.get("tags", {}), f"{where}.tags", None)
        return Selector(
            path=self.optional_string(sel.get("path"), f"{where}.path"),
            name=self.alternatives(sel.get("name"), f"{where}.name"),
            tags=tuple((self.string(k, f"{where}.tags"), self.string(v, f"{where}.tags.{k}")) for k, v in tags.items()),
            trusted_service=self.alternatives(sel.get("trusted_service"), f"{where}.trusted_service"),
        )

    def suppression(self, raw: Any, where: str) -> Suppression:
        entry = self.mapping(raw, where, _SUPPRESSION_KEYS)
        missing = sorted(_SUPPRESSION_KEYS - set(entry))
        if missing:
            raise self.fail(
                f"{where}.{missing[0]}", "required (a suppression states rule, role, justification, expires)"
            )
        justification = " ".join(self.string(entry["justification"], f"{where}.justification").split())
        return Suppression(
            rule=self.string(entry["rule"], f"{where}.rule"),
            role=self.string(entry["role"], f"{where}.role"),
            justification=justification,
            expires=self.date(entry["expires"], f"{where}.expires"),
        )

    # -- field converters -----------------------------------------------------------------------
    def mapping(self, raw: Any, where: str, allowed: set[str] | None) -> dict[str, Any]:
        if not isinstance(raw, Mapping):
            raise self.fail(where, f"expected a mapping, not {_kind(raw)}")
        if allowed is not None:
            unknown = sorted(str(k) for k in raw if k not in allowed)
            if unknown:
                raise self.fail(
                    _join(where, unknown[0]), f"unknown key (expected one of: {', '.join(sorted(allowed))})"
                )
        return dict(raw)

    def sequence(self, raw: Any, where: str) -> list[Any]:
        if raw is None:
            raise self.fail(where, "required")
        if not isinstance(raw, list):
            raise self.fail(where, f"expected a list, not {_kind(raw)}")
        return raw

    def string(self, raw: Any, where: str, *, allow_empty: bool = False) -> str:
        if not isinstance(raw, str):
            raise self.fail(where, f"expected a string, not {_kind(raw)} (quote it in YAML)")
        if not allow_empty and not raw.strip():
            raise self.fail(where, "must not be empty")
        return raw

    def optional_string(self, raw: Any, where: str) -> str | None:
        return None if raw is None else self.string(raw, where)

    def strings(self, raw: Any, where: str) -> tuple[str, ...]:
        return tuple(self.string(item, f"{where}[{i}]") for i, item in enumerate(self.sequence(raw, where)))

    def alternatives(self, raw: Any, where: str) -> str | None:
        """A glob, or a list of globs joined by "|" (names and service principals cannot contain it)."""
        if raw is None:
            return None
        if isinstance(raw, list):
            globs = self.strings(raw, where)
            if not globs:
                raise self.fail(where, "must not be empty")
            return ALTERNATIVES.join(globs)
        return self.string(raw, where)

    def boolean(self, raw: Any, where: str) -> bool:
        if not isinstance(raw, bool):
            raise self.fail(where, f"expected true or false, not {_kind(raw)}")
        return raw

    def session_duration(self, raw: Any, where: str) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise self.fail(where, "expected an integer")
        if not MIN_SESSION_SECONDS <= raw <= MAX_SESSION_SECONDS:
            raise self.fail(where, f"must be between {MIN_SESSION_SECONDS} and {MAX_SESSION_SECONDS} seconds")
        return raw

    def unused_days(self, raw: Any, where: str) -> int | None:
        """Days (1..3650), or null to switch the unused-role check off for the profile."""
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_UNUSED_DAYS:
            raise self.fail(where, f"expected a number of days from 1 to {MAX_UNUSED_DAYS}, or null (off)")
        return raw

    def services(self, raw: Any, where: str) -> tuple[str, ...]:
        out = []
        for i, service in enumerate(self.strings(raw, where)):
            if not catalogue().is_known_service(service):
                raise self.fail(f"{where}[{i}]", f"unknown service prefix {service!r}")
            out.append(service.lower())
        return tuple(out)

    def action_patterns(self, raw: Any, where: str) -> tuple[str, ...]:
        patterns = self.strings(raw, where)
        for i, pattern in enumerate(patterns):
            if not catalogue().expand(pattern):
                raise self.fail(f"{where}[{i}]", f"{pattern!r} names no known action")
        return patterns

    def resource_map(self, raw: Any, where: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
        out = []
        for service, arns in self.mapping(raw, where, None).items():
            at = f"{where}.{service}"
            if not isinstance(service, str) or not catalogue().is_known_service(service):
                raise self.fail(at, f"unknown service prefix {service!r}")
            values = self.strings(arns, at)
            for i, arn in enumerate(values):
                if not arn.startswith("arn:"):
                    raise self.fail(f"{at}[{i}]", f"expected an ARN, not {arn!r}")
            out.append((service.lower(), values))
        return tuple(out)

    def severity_map(self, raw: Any, where: str) -> tuple[tuple[str, Severity], ...]:
        known = rule_catalogue()
        out = []
        for rule_id, text in self.mapping(raw, where, None).items():
            at = f"{where}.{rule_id}"
            if rule_id not in known:
                raise self.fail(at, f"unknown rule id {rule_id!r}")
            try:
                out.append((str(rule_id), Severity.parse(self.string(text, at))))
            except ValueError as exc:
                if isinstance(exc, BaselineError):
                    raise
                raise self.fail(at, str(exc)) from None
        return tuple(out)

    def date(self, raw: Any, where: str) -> date:
        if isinstance(raw, datetime):
            return raw.date()
        if isinstance(raw, date):
            return raw
        if isinstance(raw, str):
            try:
                return date.fromisoformat(raw.strip())
            except ValueError:
                pass
        raise self.fail(where, f"expected a date (YYYY-MM-DD), not {raw!r}")


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _kind(value: Any) -> str:
    """A YAML value's type in YAML's words."""
    return type_name(value, none="nothing", mapping="a mapping")
