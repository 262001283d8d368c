"""How serious it is that a role holds actions beyond its baseline profile.

A profile lists what its class of role may do; going beyond the list is not equally serious for every
action. The grading (medium or above is something a security engineer would act on):

- high: an action the profile marks as sensitive, or a permissions-management action on every
  resource (who can reach what, through any resource of the type);
- medium: anything of a sensitive service (identity, keys, secrets, the organisation) on every
  resource, IAM reads included; a write on every resource of a type that supports resource-level
  permissions; a permissions-management action on named resources granted without conditions;
- low: everything else, i.e. reads and lists of non-sensitive services, and grants scoped to named
  resources (or held only under conditions): a non-sensitive service outside the profile's list is
  context, not an alert.
"""

from __future__ import annotations

from rolewatch.baseline import Profile
from rolewatch.model import Severity
from rolewatch.policy.catalogue import ACCESS_PERMISSIONS, ACCESS_WRITE, ActionCatalogue
from rolewatch.policy.permissions import Permissions

# Services where "service:*" or any unscoped grant hands over identity, keys or the organisation.
SENSITIVE_SERVICES = frozenset({"iam", "sts", "kms", "organizations", "secretsmanager", "sso", "account", "ram"})


def excess_severity(permissions: Permissions, profile: Profile, excess: int) -> Severity:
    """The severity of holding `excess` (a mask of actions the profile does not permit)."""
    cat = permissions.catalogue
    everywhere = excess & permissions.unrestricted
    managing = cat.level_mask(ACCESS_PERMISSIONS)
    if excess & profile.sensitive_mask or everywhere & managing:
        return Severity.HIGH
    if (
        everywhere & sensitive_service_actions(cat)
        or everywhere & permissions.definite & cat.level_mask(ACCESS_WRITE) & resource_level_actions(cat)
        or excess & managing & permissions.definite
    ):
        return Severity.MEDIUM
    return Severity.LOW


_SENSITIVE: dict[int, int] = {}


def sensitive_service_actions(cat: ActionCatalogue) -> int:
    key = id(cat)
    if key not in _SENSITIVE:
        mask = 0
        for service in SENSITIVE_SERVICES:
            mask |= cat.service_mask(service)
        _SENSITIVE[key] = mask
    return _SENSITIVE[key]


_RESOURCE_LEVEL: dict[int, int] = {}


def resource_level_actions(cat: ActionCatalogue) -> int:
    """Actions that support resource-level permissions: only for them is "*" a scoping failure."""
    key = id(cat)
    if key not in _RESOURCE_LEVEL:
        bits = bytearray((len(cat) + 7) // 8)
        for i, types in enumerate(cat.resource_types):
            if types:
                bits[i >> 3] |= 1 << (i & 7)
        _RESOURCE_LEVEL[key] = int.from_bytes(bits, "little")
    return _RESOURCE_LEVEL[key]
