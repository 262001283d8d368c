"""How the analysis treats Condition blocks.

An auditor cannot know the request context, so each condition is put in one of these classes
(keys compare case-insensitively):

- time: aws:CurrentTime, aws:TokenIssueTime, aws:EpochTime with a Date or Numeric operator. Time is an
  input of the audit (`now`), never read from the clock here: compiled policies are cached by their
  text, so the window is decided when a principal's permissions are computed (`time_state`), each time.
  `time-closed` (an upper bound in the past: the statement can never apply again, it is void),
  `time-open` (satisfied now) or `time-pending` (not satisfied now but may be later: a lower bound in
  the future, an equality, or no `now` given). For an Allow, open and pending windows both count (the
  grant holds now or will); for a Deny only an open window counts.
- delegation: the grant cannot mint more privilege than it has, so it is not an escalation path:
  iam:PermissionsBoundary, and iam:PolicyARN when every policy it admits is an AWS-managed policy that
  grants no administrator access and no escalation (`HARMLESS_MANAGED_POLICIES`, checked against AWS's
  documents by a corpus test). iam:PolicyARN admitting anything else (a wildcard, a customer-managed
  policy whose document the audit does not hold, AdministratorAccess) decides nothing: the grant counts
  in full, since the attachable policy may be privileged.
- pass-to: iam:PassedToService. PassRole only to the named services; escalation methods check that
  the service they pass a role to is among them.
- via-service: kms:ViaService. The key may only be used through the named services, so the grant
  reaches the data those services let the role read, which the rules judge on the services' own
  actions; it never counts as "every key" on its own. Also restricting (below).
- restricting: network origin (aws:SourceIp, aws:SourceVpc, aws:SourceVpce, aws:VpcSourceIp), tags the
  caller does not control (aws:ResourceTag/, aws:PrincipalTag/, iam:ResourceTag/, <svc>:ResourceTag/),
  aws:MultiFactorAuthPresent, aws:SourceAccount, aws:SourceArn, aws:CalledVia, aws:ViaAWSService,
  iam:AWSServiceName, kms:ViaService, aws:PrincipalArn, aws:userid. The grant counts, marked
  conditional: findings built only from conditional grants are one severity lower and name the
  conditions.
- unknown: anything else. Treated as satisfiable (conservative): the grant counts in full.

For a Deny, only an unconditional statement (or one whose conditions are all `time` and open now)
subtracts access; a conditional Deny may not apply to an attacker's request, so it is not relied on.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
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
    "iam:awsservicename",
    "kms:viaservice",
}
RESTRICTING_PREFIXES = ("aws:resourcetag/", "aws:principaltag/", "iam:resourcetag/")

# AWS-managed policies that grant neither administrator access nor any escalation method: attaching
# one cannot raise anyone's privileges. Names as in `arn:aws:iam::aws:policy[/path]/NAME`; a name that
# ends in "ReadOnlyAccess" is read-only by AWS's naming. tests/corpus checks every entry against the
# policies' real documents.
HARMLESS_MANAGED_POLICIES = frozenset(
    {
        "ReadOnlyAccess",
        "ViewOnlyAccess",
        "SecurityAudit",
        "AWSLambdaBasicExecutionRole",
        "AWSLambdaVPCAccessExecutionRole",
        "AWSLambdaSQSQueueExecutionRole",
        "AWSLambdaDynamoDBExecutionRole",
        "AWSLambdaKinesisExecutionRole",
        "AWSXRayDaemonWriteAccess",
        "AWSXrayWriteOnlyAccess",
        "CloudWatchAgentServerPolicy",
        "CloudWatchLambdaInsightsExecutionRolePolicy",
        "AmazonSSMManagedInstanceCore",
        "AmazonECSTaskExecutionRolePolicy",
        "AmazonEC2ContainerRegistryReadOnly",
        "AmazonEKSWorkerNodePolicy",
        "AmazonEKS_CNI_Policy",
    }
)
_MANAGED_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/(?:.*/)?(?P<name>[^/*?]+)$")


def harmless_policy_arn(arn: str) -> bool:
    """Is the ARN (no wildcard) an AWS-managed policy that grants no administrator access or escalation?"""
    match = _MANAGED_POLICY_ARN.match(arn.strip())
    if match is None:
        return False
    name = match.group("name")
    return name in HARMLESS_MANAGED_POLICIES or name.endswith("ReadOnlyAccess")


class ConditionClass(enum.Enum):
    TIME = "time"  # decided against `now` by time_state
    TIME_OPEN = "time-open"
    TIME_PENDING = "time-pending"
    TIME_CLOSED = "time-closed"
    DELEGATION = "delegation"
    PASS_TO = "pass-to"
    RESTRICTING = "restricting"
    UNKNOWN = "unknown"


def classify(condition: Condition) -> ConditionClass:
    """The class of a condition, without the time: time keys are `TIME` (see time_state)."""
    key = condition.key.lower()
    if key in TIME_KEYS:
        return ConditionClass.TIME
    if key == "iam:permissionsboundary":
        return ConditionClass.DELEGATION
    if key == "iam:policyarn":
        return ConditionClass.DELEGATION if _admits_only_harmless_policies(condition) else ConditionClass.UNKNOWN
    if key == "iam:passedtoservice":
        return ConditionClass.PASS_TO
    if key in RESTRICTING_KEYS or key.startswith(RESTRICTING_PREFIXES) or key.endswith(":resourcetag"):
        return ConditionClass.RESTRICTING
    if ":resourcetag/" in key:
        return ConditionClass.RESTRICTING
    return ConditionClass.UNKNOWN


def _admits_only_harmless_policies(condition: Condition) -> bool:
    """iam:PolicyARN with a positive operator whose every value is a harmless AWS-managed policy."""
    if condition.if_exists or condition.qualifier == "ForAllValues" or not condition.values:
        return False  # passes when the key is absent: admits anything
    if condition.base not in ("StringEquals", "StringLike", "ArnEquals", "ArnLike"):
        return False  # negated operators admit every other policy
    return all(harmless_policy_arn(v) for v in condition.values)


def is_via_service(condition: Condition) -> bool:
    return condition.key.lower() == "kms:viaservice" and not condition.base.startswith(("StringNot", "ArnNot"))


def time_state(condition: Condition, now: datetime | None) -> ConditionClass:
    """TIME_OPEN, TIME_PENDING or TIME_CLOSED at `now`; UNKNOWN for a time key the audit cannot read.
    Without `now` every window is pending: an Allow counts, a Deny is not relied on."""
    if now is None:
        return ConditionClass.TIME_PENDING if _time_bounds(condition) is not None else ConditionClass.UNKNOWN
    return _time_class(condition, now)


def _time_bounds(condition: Condition) -> list[datetime] | None:
    base = condition.base
    if not (base.startswith("Date") or base.startswith("Numeric")) or not condition.values:
        return None
    bounds = [_as_time(v) for v in condition.values]
    if any(b is None for b in bounds):
        return None
    return [b for b in bounds if b is not None]


def _time_class(condition: Condition, now: datetime) -> ConditionClass:
    known = _time_bounds(condition)
    if known is None:
        return ConditionClass.UNKNOWN
    base = condition.base
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


# -- conditions on the principal itself ---------------------------------------------------------------
# Keys whose value the audit knows for a role's sessions: its ARN and account, its tags (when the role
# cannot change them), user-only keys a role session never carries, and whether its sessions can carry MFA.
PRINCIPAL_KEYS = {
    "aws:principalarn",
    "aws:principalaccount",
    "aws:principaltype",
    "aws:username",
    "aws:multifactorauthpresent",
}
PRINCIPAL_TAG_PREFIX = "aws:principaltag/"


def is_principal_condition(condition: Condition) -> bool:
    key = condition.key.lower()
    return key in PRINCIPAL_KEYS or key.startswith(PRINCIPAL_TAG_PREFIX)


@dataclass(frozen=True)
class PrincipalContext:
    """What the audit knows of the requests a role's sessions make.

    `tags_fixed` is False when the role's tags are not what its sessions present: its trust policy
    admits session tags (sts:TagSession) or the role may tag or untag itself. Then every tag condition
    stays undecided, since whoever sets the tag gets what it unlocks. `service_sessions_only`: only AWS
    services assume the role (EC2, Lambda, ...), so no session carries MFA.
    """

    arn: str
    account: str
    tags: tuple[tuple[str, str], ...] = ()  # (lower-case key, value)
    tags_fixed: bool = False
    service_sessions_only: bool = False

    def value_of(self, key: str) -> str | _Unknown | None:
        """The request's value of a principal key: a string, None (absent), or UNDECIDED."""
        if key == "aws:principalarn":
            return self.arn
        if key == "aws:principalaccount":
            return self.account or UNDECIDED
        if key == "aws:principaltype":
            return "AssumedRole"
        if key == "aws:username":
            return None  # a user-only key: absent from every role session
        if key == "aws:multifactorauthpresent":
            return "false" if self.service_sessions_only else UNDECIDED
        if key.startswith(PRINCIPAL_TAG_PREFIX):
            if not self.tags_fixed:
                return UNDECIDED
            wanted = key.removeprefix(PRINCIPAL_TAG_PREFIX)
            return next((v for k, v in self.tags if k == wanted), None)
        return UNDECIDED


class _Unknown:
    def __repr__(self) -> str:
        return "UNDECIDED"


UNDECIDED = _Unknown()
_STRING_MATCH = {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike", "Bool"}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def principal_condition_holds(condition: Condition, context: PrincipalContext | None) -> bool | None:
    """Does a condition on the principal hold for every request of the role's sessions (True), for none
    (False), or does it depend on what the audit cannot know (None)?"""
    if context is None:
        return None
    value = context.value_of(condition.key.lower())
    if isinstance(value, _Unknown):
        return None
    base = condition.base
    if base == "Null":
        wanted = [v.lower() for v in condition.values]
        if wanted not in (["true"], ["false"]):
            return None
        return (value is None) == (wanted == ["true"])
    if value is None:
        # Absent key: ...IfExists and ForAllValues pass, every other operator fails (negated ones too).
        return condition.if_exists or condition.qualifier == "ForAllValues"
    if base in _NEGATED:
        matched = _matches(_NEGATED[base], condition.values, value)
        return None if matched is None else not matched
    if base in _STRING_MATCH:
        return _matches(base, condition.values, value)
    return None


def _matches(base: str, values: tuple[str, ...], value: str) -> bool | None:
    if base in ("StringLike", "ArnLike", "ArnEquals"):
        return any(_glob(v, value) for v in values)
    if base == "StringEqualsIgnoreCase":
        return any(v.lower() == value.lower() for v in values)
    if base == "Bool":
        return any(v.lower() == value.lower() for v in values)
    if any("${" in v for v in values):
        return None  # a policy variable: left to the conservative reading
    return value in values


def _glob(pattern: str, text: str) -> bool:
    if "${" in pattern:
        return True  # a policy variable may stand for anything: not relied on to exclude
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.S) is not None
