"""Least-privilege baselines: profiles of what a class of role may have, and suppressions.

A baseline file (YAML) holds `profiles` (the first whose selector matches a role applies; the last
profile should match everything) and `suppressions` (accepted risks with a justification and expiry).
The shipped default is rolewatch/baselines/default.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from rolewatch.model import Finding, RoleSnapshot


class BaselineError(ValueError):
    """A baseline file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Selector:
    path: str | None = None  # IAM path glob, e.g. "/service-role/*"
    name: str | None = None  # role name glob
    tags: tuple[tuple[str, str], ...] = ()  # all must match (value may be a glob)
    trusted_service: str | None = None  # a service principal the trust policy names, e.g. "ec2.amazonaws.com"

    def matches(self, role: RoleSnapshot, trusted_services: frozenset[str]) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class Profile:
    name: str
    description: str = ""
    selector: Selector = field(default_factory=Selector)
    allowed_services: tuple[str, ...] = ()  # empty: any service
    allowed_actions: tuple[str, ...] = ()  # action patterns; empty: any action of allowed services
    sensitive_actions: tuple[str, ...] = ()  # must never be granted to this class of role
    forbidden_managed_policies: tuple[str, ...] = ()  # names or ARNs
    required_tags: tuple[str, ...] = ()
    max_session_duration: int | None = None  # seconds
    require_permissions_boundary: bool = False
    prefer_customer_managed: bool = False
    trusted_principals: tuple[str, ...] = ()  # globs over principal values; empty: no restriction
    resources: tuple[tuple[str, tuple[str, ...]], ...] = ()  # service -> ARNs a corrected policy may name


@dataclass(frozen=True)
class Suppression:
    rule: str  # rule id glob
    role: str  # role name or ARN glob
    justification: str
    expires: date


@dataclass(frozen=True)
class Baseline:
    profiles: tuple[Profile, ...]
    suppressions: tuple[Suppression, ...] = ()
    skip_service_linked: bool = True
    source: str = "default"

    def profile_for(self, role: RoleSnapshot, trusted_services: frozenset[str]) -> Profile:
        raise NotImplementedError

    def suppression_for(self, finding: Finding, role: RoleSnapshot, today: date) -> Suppression | None:
        """The suppression (expired or not) that names this finding, if any."""
        raise NotImplementedError


def load_baseline(path: str | Path | None = None) -> Baseline:
    """Load a baseline file, or the shipped default when path is None. Raises BaselineError."""
    raise NotImplementedError
