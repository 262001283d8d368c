"""How the analysis treats Condition blocks.

An auditor cannot know the request context, so each condition is put in one of these classes
(keys compare case-insensitively):

- time: aws:CurrentTime, aws:TokenIssueTime, aws:EpochTime with a Date or Numeric operator, evaluated
  against the clock: `time-closed` (an upper bound in the past: the statement can never apply again, it
  is void), `time-open` (satisfied now: a bound the present already meets) or `time-pending` (not
  satisfied now but may be later: a lower bound in the future, or an equality). For an Allow, open and
  pending windows both count (the grant holds now or will); for a Deny only an open window counts.
- delegation: iam:PermissionsBoundary. The grant cannot create unbounded principals, so it is not an
  escalation path.
- pass-to: iam:PassedToService. PassRole only to the named services; escalation methods check that
  the service they pass a role to is among them.
- restricting: network origin (aws:SourceIp, aws:SourceVpc, aws:SourceVpce, aws:VpcSourceIp), tags the
  caller does not control (aws:ResourceTag/, aws:PrincipalTag/, iam:ResourceTag/, <svc>:ResourceTag/),
  aws:MultiFactorAuthPresent, aws:SourceAccount, aws:SourceArn, aws:CalledVia, aws:ViaAWSService,
  iam:PolicyARN, iam:AWSServiceName, kms:ViaService, aws:PrincipalArn, aws:userid. The grant counts,
  marked conditional: findings built only from conditional grants are one severity lower and name the
  conditions.
- unknown: anything else. Treated as satisfiable (conservative): the grant counts in full.

For a Deny, only an unconditional statement (or one whose conditions are all `time` and satisfied now)
subtracts access; a conditional Deny may not apply to an attacker's request, so it is not relied on.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from rolewatch.policy.document import Condition

TIME_KEYS = {"aws:currenttime", "aws:tokenissuetime", "aws:epochtime"}

RESTRICTING_KEYS = {
    "aws:sourceip",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:vpcsourceip",
    "aws:multifactorauthpresent",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:calledvia",
    "aws:calledviafirst",
    "aws:calledvialast",
    "aws:viaawsservice",
    "aws:principalarn",
    "aws:userid",
    "iam:policyarn",
    "iam:awsservicename",
    "kms:viaservice",
}
RESTRICTING_PREFIXES = ("aws:resourcetag/", "aws:principaltag/", "iam:resourcetag/")


class ConditionClass(enum.Enum):
    TIME_OPEN = "time-open"
    TIME_PENDING = "time-pending"
    TIME_CLOSED = "time-closed"
    DELEGATION = "delegation"
    PASS_TO = "pass-to"
    RESTRICTING = "restricting"
    UNKNOWN = "unknown"


def classify(condition: Condition, now: datetime | None = None) -> ConditionClass:
    key = condition.key.lower()
    if key in TIME_KEYS:
        return _time_class(condition, now or datetime.now(UTC))
    if key == "iam:permissionsboundary":
        return ConditionClass.DELEGATION
    if key == "iam:passedtoservice":
        return ConditionClass.PASS_TO
    if key in RESTRICTING_KEYS or key.startswith(RESTRICTING_PREFIXES) or key.endswith(":resourcetag"):
        return ConditionClass.RESTRICTING
    if ":resourcetag/" in key:
        return ConditionClass.RESTRICTING
    return ConditionClass.UNKNOWN


def _time_class(condition: Condition, now: datetime) -> ConditionClass:
    base = condition.base
    if not (base.startswith("Date") or base.startswith("Numeric")) or not condition.values:
        return ConditionClass.UNKNOWN
    bounds = [_as_time(v) for v in condition.values]
    if any(b is None for b in bounds):
        return ConditionClass.UNKNOWN
    known = [b for b in bounds if b is not None]
    # Several values are OR-ed: the condition holds now if one value admits the present.
    if base in _UPPER_BOUNDS:
        # Every bound in the past closes the window for good.
        return ConditionClass.TIME_OPEN if any(now < b for b in known) else ConditionClass.TIME_CLOSED
    if base in _LOWER_BOUNDS:
        # A lower bound in the future opens the window later: not in force now.
        return ConditionClass.TIME_OPEN if any(now > b for b in known) else ConditionClass.TIME_PENDING
    # Equality and inequality hold at isolated moments (or all but one): never relied on as "now".
    return ConditionClass.TIME_PENDING


_UPPER_BOUNDS = ("DateLessThan", "DateLessThanEquals", "NumericLessThan", "NumericLessThanEquals")
_LOWER_BOUNDS = ("DateGreaterThan", "DateGreaterThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals")


def _as_time(value: str) -> datetime | None:
    text = value.strip()
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text), UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def passed_to_services(conditions: tuple[Condition, ...]) -> frozenset[str] | None:
    """Services iam:PassedToService allows (lower-case patterns), or None when unrestricted."""
    services: set[str] | None = None
    for c in conditions:
        if c.key.lower() == "iam:passedtoservice" and c.base in ("StringEquals", "StringLike"):
            values = {v.lower() for v in c.values}
            services = values if services is None else services & values
    return None if services is None else frozenset(services)
