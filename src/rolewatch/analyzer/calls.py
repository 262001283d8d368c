"""The IAM Access Analyzer calls rolewatch makes, one function per operation, and what their failures mean.

Each function declares the IAM action it needs (`access_analyzer_requires`: both deployed functions, only
when Access Analyzer is on). ListFindingsV2 and GetFindingV2 are authorised by `access-analyzer:ListFindings`
and `access-analyzer:GetFinding`: the V2 operations have no IAM action of their own. Every list-like call
goes through botocore's paginator. Throttling and transient errors are retried by the clients' standard
retry mode (inventory/clients.py); what still fails comes back as a `CallFailure` saying what it means
for the audit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
)

from rolewatch.aws_permissions import ACCOUNT_ANALYZERS, EVERY_FUNCTION, WITH_ACCESS_ANALYZER, actions_of, requires
from rolewatch.inventory.clients import AwsClients

# Analyzer types whose findings are about IAM roles: external access (trust policies) and unused access.
# Internal-access analyzers report on resources (buckets, tables), not on roles.
ROLE_ANALYZER_TYPES = frozenset({"ACCOUNT", "ORGANIZATION", "ACCOUNT_UNUSED_ACCESS", "ORGANIZATION_UNUSED_ACCESS"})
TRUST_POLICY_RESOURCE_TYPE = "AWS::IAM::AssumeRolePolicyDocument"
# CheckAccessNotGranted accepts one access entry of at most 100 actions (service model: AccessActionsList).
MAX_ACTIONS_PER_ACCESS_CHECK = 100

IAM_ACTION_OF = {
    "ListFindingsV2": "access-analyzer:ListFindings",
    "GetFindingV2": "access-analyzer:GetFinding",
}

# Both functions run the check, and only when ACCESS_ANALYZER=auto (the template's UseAccessAnalyzer).
access_analyzer_requires = partial(requires, by=EVERY_FUNCTION, only_if=WITH_ACCESS_ANALYZER)

_ACCESS_DENIED = {"AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "UnrecognizedClientException"}
_THROTTLED = {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
_REJECTED = {"ValidationException", "InvalidParameterException", "UnprocessableEntityException"}
# What a service answers for an operation it does not have (moto answers with the bare HTTP status).
_NOT_IMPLEMENTED = {"UnknownOperationException", "NotImplemented", "InvalidAction", "UnknownOperation"}


def iam_action(operation: str) -> str:
    return IAM_ACTION_OF.get(operation, f"access-analyzer:{operation}")


@dataclass(eq=False)
class CallFailure(Exception):
    """A call that failed after botocore's retries; `reason` is for people, the flags for the check."""

    operation: str
    reason: str
    service_unavailable: bool = False  # no Access Analyzer at this endpoint: stop asking for this invocation
    rejected: bool = False  # refused for this input (a document it cannot check): the answer will not change
    not_found: bool = False  # the finding or recommendation does not exist (any more)

    def __str__(self) -> str:
        return self.reason


def failure_of(exc: Exception, operation: str, endpoint: str = "") -> CallFailure:
    """What a botocore exception means for the audit."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = _short(str(error.get("Message", "")))
        if code in _ACCESS_DENIED:
            return CallFailure(operation, f"access denied ({iam_action(operation)} is not granted to the auditor)")
        if code in _THROTTLED:
            return CallFailure(operation, f"throttled by Access Analyzer ({code}) after botocore's retries")
        if code.isdigit() or code in _NOT_IMPLEMENTED:
            # Real Access Analyzer names every error; a bare HTTP status is an endpoint without the service.
            where = f"the endpoint {endpoint}" if endpoint else "the endpoint"
            answer = f"HTTP {status or code}" + (f" {message}" if message else "")
            return CallFailure(
                operation, f"{where} does not implement IAM Access Analyzer ({answer})", service_unavailable=True
            )
        if code == "ResourceNotFoundException":
            return CallFailure(operation, f"not found: {message or code}", not_found=True)
        if code in _REJECTED:
            return CallFailure(operation, f"refused the input ({code}: {message})", rejected=True)
        return CallFailure(operation, f"failed ({code}: {message})" if message else f"failed ({code})")
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
        return CallFailure(operation, f"cannot reach Access Analyzer ({exc})", service_unavailable=True)
    if isinstance(exc, (NoCredentialsError, NoRegionError)):
        return CallFailure(operation, f"no AWS configuration ({exc})", service_unavailable=True)
    if isinstance(exc, ParamValidationError):
        return CallFailure(operation, f"refused the input before sending it ({_short(str(exc))})", rejected=True)
    return CallFailure(operation, f"failed ({type(exc).__name__}: {_short(str(exc))})")


def _short(message: str) -> str:
    """One line of an error message; an HTML error page (moto server) says nothing worth repeating."""
    text = " ".join(message.split())
    if text.startswith("<"):
        return ""
    return text[:200]


T = TypeVar("T")


def guarded(clients: AwsClients, operation: str, call: Callable[[], T]) -> T:
    """Run one Access Analyzer call; any AWS failure becomes a CallFailure (programming errors propagate)."""
    try:
        return call()
    except (ClientError, BotoCoreError) as exc:
        raise failure_of(exc, operation, _endpoint(clients)) from exc


def _endpoint(clients: AwsClients) -> str:
    try:
        return str(clients.accessanalyzer.meta.endpoint_url)
    except BotoCoreError:
        return ""


def _without_metadata(response: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


# -- analyzers and their findings ---------------------------------------------------------------------


@dataclass(frozen=True)
class Analyzer:
    arn: str
    name: str
    type: str

    def covers(self, account_id: str) -> bool:
        """Whether this analyzer can report on the roles of `account_id`."""
        return analyzer_covers(self.arn, self.type, account_id)


def analyzer_covers(arn: str, analyzer_type: str, account_id: str) -> bool:
    """An organization analyzer (zone of trust: the organization, in its management or delegated
    administrator account) reports every member account; an account analyzer only the account it lives
    in (the account field of its ARN). In organization mode the central clients list the security
    account's analyzers, whose account analyzers cannot know a member's roles: asking them would read
    nothing and hide that no organization analyzer covers the member."""
    if analyzer_type.startswith("ORGANIZATION") or not account_id:
        return True
    parts = arn.split(":", 5)
    return len(parts) < 6 or not parts[4] or parts[4] == account_id


def no_covering_analyzer(region: str, account_id: str, analyzers: Sequence[str]) -> str:
    """Why no analyzer's findings could be read for the roles of `account_id`."""
    return (
        f"no ACTIVE organization analyzer in {region} covers account {account_id} (the active analyzers, "
        f"{', '.join(analyzers)}, are account analyzers of another account; create an ORGANIZATION or "
        "ORGANIZATION_UNUSED_ACCESS analyzer in the delegated administrator account)"
    )


@access_analyzer_requires("access-analyzer:ListAnalyzers")
def list_role_analyzers(clients: AwsClients) -> list[Analyzer]:
    """The ACTIVE external-access and unused-access analyzers of the clients' region (one paginated call)."""

    def call() -> list[Analyzer]:
        pages = clients.accessanalyzer.get_paginator("list_analyzers").paginate()
        return [
            Analyzer(arn=a["arn"], name=a["name"], type=a["type"])
            for page in pages
            for a in page.get("analyzers", [])
            if a.get("status") == "ACTIVE" and a.get("type") in ROLE_ANALYZER_TYPES
        ]

    return guarded(clients, "ListAnalyzers", call)


def role_findings_filter(role_arn: str) -> dict[str, Any]:
    """ListFindingsV2 filter: ACTIVE findings on one role (filter key `resource`)."""
    return {"status": {"eq": ["ACTIVE"]}, "resource": {"eq": [role_arn]}}


@access_analyzer_requires("access-analyzer:ListFindings", on=ACCOUNT_ANALYZERS)
def list_active_role_findings(clients: AwsClients, analyzer_arn: str, role_arn: str) -> list[dict[str, Any]]:
    """Finding summaries (FindingSummaryV2) of the analyzer for one role (the whole account's are read
    once by `account_findings.read_account_analyzer_findings`)."""

    def call() -> list[dict[str, Any]]:
        pages = clients.accessanalyzer.get_paginator("list_findings_v2").paginate(
            analyzerArn=analyzer_arn, filter=role_findings_filter(role_arn)
        )
        return [f for page in pages for f in page.get("findings", [])]

    return guarded(clients, "ListFindingsV2", call)


@access_analyzer_requires("access-analyzer:GetFinding", on=ACCOUNT_ANALYZERS)
def get_finding_details(clients: AwsClients, analyzer_arn: str, finding_id: str) -> dict[str, Any]:
    """The finding with every page of its `findingDetails` merged."""

    def call() -> dict[str, Any]:
        pages = clients.accessanalyzer.get_paginator("get_finding_v2").paginate(analyzerArn=analyzer_arn, id=finding_id)
        merged: dict[str, Any] = {}
        details: list[dict[str, Any]] = []
        for page in pages:
            merged.update(
                {k: v for k, v in _without_metadata(page).items() if k not in ("findingDetails", "nextToken")}
            )
            details.extend(page.get("findingDetails", []))
        merged["findingDetails"] = details
        return merged

    return guarded(clients, "GetFindingV2", call)


@dataclass(frozen=True)
class Recommendation:
    status: str  # SUCCEEDED, IN_PROGRESS, FAILED
    steps: tuple[dict[str, Any], ...] = ()
    error: str | None = None


def _get_recommendation(clients: AwsClients, analyzer_arn: str, finding_id: str) -> Recommendation:
    def call() -> Recommendation:
        pages = clients.accessanalyzer.get_paginator("get_finding_recommendation").paginate(
            analyzerArn=analyzer_arn, id=finding_id
        )
        status, error, steps = "", None, []
        for page in pages:
            status = page.get("status", status)
            if page.get("error"):
                error = f"{page['error'].get('code')}: {page['error'].get('message')}"
            steps.extend(page.get("recommendedSteps", []))
        return Recommendation(status=status, steps=tuple(steps), error=error)

    return guarded(clients, "GetFindingRecommendation", call)


@access_analyzer_requires(
    "access-analyzer:GetFindingRecommendation",
    "access-analyzer:GenerateFindingRecommendation",
    by=EVERY_FUNCTION,
    on=ACCOUNT_ANALYZERS,
    only_if=WITH_ACCESS_ANALYZER,
)
def finding_recommendation(clients: AwsClients, analyzer_arn: str, finding_id: str) -> Recommendation:
    """Access Analyzer's recommended policy change for an unused-permission finding.

    Reads the recommendation; when none was ever generated, asks for one and reads once more. Generation
    is asynchronous: an IN_PROGRESS answer is returned as such (no waiting inside a Lambda run); the next
    audit finds it SUCCEEDED.
    """
    try:
        return _get_recommendation(clients, analyzer_arn, finding_id)
    except CallFailure as failure:
        if not failure.not_found:
            raise
    guarded(
        clients,
        "GenerateFindingRecommendation",
        lambda: clients.accessanalyzer.generate_finding_recommendation(analyzerArn=analyzer_arn, id=finding_id),
    )
    return _get_recommendation(clients, analyzer_arn, finding_id)


# -- policy checks (no analyzer needed) -----------------------------------------------------------------


@access_analyzer_requires("access-analyzer:ValidatePolicy")
def validate_policy(
    clients: AwsClients, document: str, policy_type: str, resource_type: str | None = None
) -> list[dict[str, Any]]:
    """Every ValidatePolicy finding of the document (all pages)."""
    kwargs: dict[str, Any] = {"policyDocument": document, "policyType": policy_type}
    if resource_type:
        kwargs["validatePolicyResourceType"] = resource_type

    def call() -> list[dict[str, Any]]:
        pages = clients.accessanalyzer.get_paginator("validate_policy").paginate(**kwargs)
        return [f for page in pages for f in page.get("findings", [])]

    return guarded(clients, "ValidatePolicy", call)


def action_batches(actions: Sequence[str]) -> list[tuple[str, ...]]:
    """The actions in batches CheckAccessNotGranted accepts (one access entry, at most 100 actions)."""
    unique = list(dict.fromkeys(actions))
    return [
        tuple(unique[i : i + MAX_ACTIONS_PER_ACCESS_CHECK]) for i in range(0, len(unique), MAX_ACTIONS_PER_ACCESS_CHECK)
    ]


@access_analyzer_requires("access-analyzer:CheckAccessNotGranted")
def check_access_not_granted(clients: AwsClients, document: str, actions: Iterable[str]) -> dict[str, Any]:
    access = [{"actions": list(actions)}]
    if len(access[0]["actions"]) > MAX_ACTIONS_PER_ACCESS_CHECK:
        raise ValueError(f"at most {MAX_ACTIONS_PER_ACCESS_CHECK} actions per call: use action_batches()")
    return guarded(
        clients,
        "CheckAccessNotGranted",
        lambda: _without_metadata(
            clients.accessanalyzer.check_access_not_granted(
                policyDocument=document, access=access, policyType="IDENTITY_POLICY"
            )
        ),
    )


@access_analyzer_requires("access-analyzer:CheckNoNewAccess")
def check_no_new_access(clients: AwsClients, document: str, reference: str) -> dict[str, Any]:
    """Does `document` grant anything `reference` does not? (new = the role's policy, existing = reference)"""
    return guarded(
        clients,
        "CheckNoNewAccess",
        lambda: _without_metadata(
            clients.accessanalyzer.check_no_new_access(
                newPolicyDocument=document, existingPolicyDocument=reference, policyType="IDENTITY_POLICY"
            )
        ),
    )


@access_analyzer_requires("access-analyzer:CheckNoPublicAccess")
def check_no_public_trust(clients: AwsClients, trust_document: str) -> dict[str, Any]:
    return guarded(
        clients,
        "CheckNoPublicAccess",
        lambda: _without_metadata(
            clients.accessanalyzer.check_no_public_access(
                policyDocument=trust_document, resourceType=TRUST_POLICY_RESOURCE_TYPE
            )
        ),
    )


ADAPTER_FUNCTIONS = (
    list_role_analyzers,
    list_active_role_findings,
    get_finding_details,
    finding_recommendation,
    validate_policy,
    check_access_not_granted,
    check_no_new_access,
    check_no_public_trust,
)
# The access-analyzer actions the check calls, as their functions declare them with `requires`.
REQUIRED_ACTIONS: frozenset[str] = frozenset().union(*(actions_of(f) for f in ADAPTER_FUNCTIONS))
