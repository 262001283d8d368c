"""What rolewatch's code may call in AWS, declared where it calls it: the one source of the functions' grants.

Each adapter function that calls AWS says so with `@requires(actions, on=scope, by=function)`: the IAM
actions, the resource they are scoped to (a `Scope`: a name and the template expression of its ARN)
and the deployed Lambda function(s) that run it. What the Lambda service itself does with a function's
role (logs, traces, the on-failure destination) is declared the same way, by the function's handler
module (`declare_lambda_service`). `make permissions` (scripts/permissions.py) writes every function
role's inline policies in template.yaml from these declarations, and a test fails when the template and
the declarations differ, so a grant exists exactly when some code declares it.

A leaf module: it imports nothing of rolewatch nor boto3, so declaring costs a module nothing. The
registry fills as modules are imported; `scripts/permissions.py` imports them all before reading it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class Function(StrEnum):
    """A deployed Lambda function, by its logical id in template.yaml."""

    EVENT_AUDIT = "EventAuditFunction"
    ACCOUNT_AUDIT = "AccountAuditFunction"
    ORG_AUDIT = "OrgAuditFunction"  # organization mode only: the weekly state machine's steps


EVENT_AUDIT = Function.EVENT_AUDIT
ACCOUNT_AUDIT = Function.ACCOUNT_AUDIT
ORG_AUDIT = Function.ORG_AUDIT
EVERY_FUNCTION: tuple[Function, ...] = tuple(Function)

# A template condition under which a grant exists; None = always. Code that runs only when a feature
# is on declares the condition that turns the feature on, so switching it off also removes the grant.
WITH_ACCESS_ANALYZER = "UseAccessAnalyzer"  # ACCESS_ANALYZER=auto
WITH_SECURITY_HUB = "UseSecurityHub"  # SECURITY_HUB=true
WITH_AUDIT_EVENTS = "PutAuditEvents"  # AUDIT_EVENT_BUS is not "off"
WITH_CHAT_TOPIC = "HasChatTopic"  # CHAT_TOPIC_ARN is set (parameter ChatTopicArn)

# The `Scope.arn` placeholder for "the log group of the function the grant is for" (its LoggingConfig).
OWN_LOG_GROUP_ARN = "<the function's own log group>"


@dataclass(frozen=True)
class Scope:
    """The resource a declared action is granted on, as template.yaml names it.

    `arn` is a CloudFormation value in its long form ("*", {"Ref": ...}, {"Fn::GetAtt": [...]},
    {"Fn::Sub": ...}); `condition` an IAM Condition block that narrows the grant; `name` becomes the
    statement's Sid.
    """

    name: str
    arn: Any
    condition: Mapping[str, Any] | None = None


# "*" only for reads and for actions without resource-level permissions (tests/template checks both).
ANY_RESOURCE = Scope("AnyResource", "*")
REPORT_TOPIC = Scope("ReportTopic", {"Ref": "ReportTopic"})
STORED_REPORTS = Scope("StoredReports", {"Fn::Sub": "${ReportBucket.Arn}/reports/*"})
# ListBucket is authorised on the bucket: the prefix condition keeps it to the reports.
REPORT_LISTING = Scope(
    "ReportListing",
    {"Fn::GetAtt": ["ReportBucket", "Arn"]},
    {"StringLike": {"s3:prefix": ["reports/", "reports/*"]}},
)
REPORT_KEY = Scope("ReportKey", {"Fn::GetAtt": ["ReportKey", "Arn"]})
IDEMPOTENCY_TABLE = Scope("IdempotencyTable", {"Fn::GetAtt": ["IdempotencyTable", "Arn"]})
DEAD_LETTER_QUEUE = Scope("DeadLetterQueue", {"Fn::GetAtt": ["AuditDeadLetterQueue", "Arn"]})
ACCOUNT_ANALYZERS = Scope(
    "AccountAnalyzers", {"Fn::Sub": "arn:${AWS::Partition}:access-analyzer:${AWS::Region}:${AWS::AccountId}:analyzer/*"}
)
OWN_LOG_GROUP = Scope("OwnLogGroup", OWN_LOG_GROUP_ARN)
# BatchImportFindings is authorised on the product: only the account's default product.
SECURITY_HUB_PRODUCT = Scope(
    "SecurityHubDefaultProduct",
    {"Fn::Sub": "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:product/${AWS::AccountId}/default"},
)
# GetFindings (what was imported before, to archive the resolved) is authorised on the hub.
SECURITY_HUB = Scope(
    "SecurityHub", {"Fn::Sub": "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:hub/default"}
)
# The chat channel's topic (Amazon Q Developer in chat applications), given as a parameter.
CHAT_TOPIC = Scope("ChatTopic", {"Ref": "ChatTopicArn"})
AUDIT_EVENT_BUS = Scope(
    "AuditEventBus",
    {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${AuditEventBus}"},
)


@dataclass(frozen=True)
class Declaration:
    """Some actions on one scope that one piece of code needs, for the functions that run it."""

    code: str  # "module.qualname" of the declaring function, or "Lambda service: <what it does>"
    module: str | None  # the declaring function's module (None for the Lambda service)
    actions: frozenset[str]
    scope: Scope
    functions: frozenset[Function]
    only_if: str | None = None


_DECLARATIONS: list[Declaration] = []


def _declare(
    code: str,
    module: str | None,
    actions: Iterable[str],
    *,
    on: Scope,
    by: Function | Iterable[Function],
    only_if: str | None,
) -> None:
    functions = frozenset([by] if isinstance(by, Function) else by)
    actions = frozenset(actions)
    if not actions or not functions:
        raise ValueError(f"{code}: a declaration needs at least one action and one function")
    malformed = sorted(a for a in actions if a.count(":") != 1 or "*" in a)
    if malformed:
        raise ValueError(f"{code}: declare exact service:Action names, not {malformed}")
    declaration = Declaration(code, module, actions, on, functions, only_if)
    if declaration not in _DECLARATIONS:  # a module reloaded (tests do) declares nothing new
        _DECLARATIONS.append(declaration)


def requires(
    *actions: str,
    by: Function | Iterable[Function],
    on: Scope = ANY_RESOURCE,
    only_if: str | None = None,
) -> Callable[[F], F]:
    """Declare the AWS actions the decorated function calls, on which resource, run by which function.

    Stack several when the actions apply to different resources.
    """

    def register(fn: F) -> F:
        _declare(f"{fn.__module__}.{fn.__qualname__}", fn.__module__, actions, on=on, by=by, only_if=only_if)
        return fn

    return register


def lambda_service_requires(*actions: str, by: Function, on: Scope, why: str) -> None:
    """Declare what the Lambda service, not rolewatch's code, does with `by`'s role."""
    _declare(f"Lambda service: {why}", None, actions, on=on, by=by, only_if=None)


def declare_lambda_service(function: Function) -> None:
    """What Lambda does with the role of every rolewatch function, as template.yaml configures them all:
    write the function's logs (LoggingConfig), its traces (Tracing: Active), and send a failed
    invocation to the on-failure destination, an SQS queue encrypted with the report key. Called once
    by each function's handler module."""
    lambda_service_requires(
        "logs:CreateLogStream", "logs:PutLogEvents", by=function, on=OWN_LOG_GROUP, why="the function's logs"
    )
    lambda_service_requires(
        "xray:PutTraceSegments", "xray:PutTelemetryRecords", by=function, on=ANY_RESOURCE, why="active tracing"
    )
    lambda_service_requires("sqs:SendMessage", by=function, on=DEAD_LETTER_QUEUE, why="on-failure destination")
    lambda_service_requires(
        "kms:GenerateDataKey", "kms:Decrypt", by=function, on=REPORT_KEY, why="the encrypted on-failure destination"
    )


def declarations() -> tuple[Declaration, ...]:
    """Every declaration made by the modules imported so far."""
    return tuple(_DECLARATIONS)


def actions_of(fn: Callable[..., Any]) -> frozenset[str]:
    """The actions declared on one function (with every stacked `requires`)."""
    code = f"{fn.__module__}.{fn.__qualname__}"
    return frozenset().union(*(d.actions for d in _DECLARATIONS if d.code == code))


def declared_in(module: str) -> dict[str, frozenset[str]]:
    """{function name: its actions} for the functions of `module` that declare any."""
    out: dict[str, frozenset[str]] = {}
    for d in _DECLARATIONS:
        if d.module == module:
            name = d.code.removeprefix(f"{module}.")
            out[name] = out.get(name, frozenset()) | d.actions
    return out
