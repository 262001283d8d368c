"""Trigger events -> audit requests: which roles, policies, instance profiles and instances to re-read.

Pure: no AWS calls. Two ways in:
- an EventBridge "AWS API Call via CloudTrail" event for one of the watched IAM or EC2 calls;
- a direct-invoke payload `{"roles": [...], "instance_ids": [...]}` (on-demand audits).

The payload only says *what* to look at and *who* did it: the verdict always comes from re-reading the
current state. Failed calls (`errorCode`) and calls outside the watched list come back as `Skipped`
with a reason (the handler logs it); an event that is not the expected shape raises `EventError`.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
IAM_SOURCE = "iam.amazonaws.com"
EC2_SOURCE = "ec2.amazonaws.com"
DIRECT_INVOCATION = "direct invocation"


class EventError(ValueError):
    """The input is not an event rolewatch can read; the message names the missing or wrong field."""


class TargetKind(enum.StrEnum):
    ROLE = "role"  # a role name
    POLICY = "policy"  # a managed policy ARN: audit every role it is attached to
    INSTANCE_PROFILE = "instance-profile"  # a profile name or ARN: audit its role
    INSTANCE = "instance"  # an EC2 instance id
    ASSOCIATION = "association"  # an instance-profile association id (iip-assoc-...)


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    value: str


@dataclass(frozen=True)
class Actor:
    """Who made the call (CloudTrail userIdentity), as the report names them."""

    type: str
    arn: str | None = None
    principal_id: str | None = None
    account_id: str | None = None
    session_issuer_arn: str | None = None  # the role behind an AssumedRole session
    invoked_by: str | None = None  # the AWS service that called on the principal's behalf

    @property
    def display(self) -> str:
        who = self.arn or self.principal_id or self.type
        if self.session_issuer_arn and self.session_issuer_arn != who:
            who = f"{who} (session of {self.session_issuer_arn})"
        return f"{who} via {self.invoked_by}" if self.invoked_by else who


@dataclass(frozen=True)
class AuditRequest:
    """What one trigger asks to audit, with the facts the report states about the change."""

    event_id: str
    event_name: str
    event_source: str
    time: str
    region: str
    account: str
    actor: Actor
    targets: tuple[Target, ...]
    source_ip: str | None = None
    user_agent: str | None = None
    request_parameters: Mapping[str, Any] = field(default_factory=dict, hash=False)
    error_code: str | None = None

    def of_kind(self, kind: TargetKind) -> tuple[str, ...]:
        return tuple(t.value for t in self.targets if t.kind is kind)

    @property
    def role_names(self) -> tuple[str, ...]:
        return self.of_kind(TargetKind.ROLE)

    @property
    def policy_arns(self) -> tuple[str, ...]:
        return self.of_kind(TargetKind.POLICY)

    @property
    def instance_profiles(self) -> tuple[str, ...]:
        return self.of_kind(TargetKind.INSTANCE_PROFILE)

    @property
    def instance_ids(self) -> tuple[str, ...]:
        return self.of_kind(TargetKind.INSTANCE)

    @property
    def association_ids(self) -> tuple[str, ...]:
        return self.of_kind(TargetKind.ASSOCIATION)


@dataclass(frozen=True)
class Skipped:
    """An event that needs no audit (failed call, unwatched call, nothing to audit), and why."""

    event_id: str
    event_name: str
    event_source: str
    reason: str
    error_code: str | None = None


TriggerResult = AuditRequest | Skipped


class _NothingToAudit(Exception):
    """Raised by a router when a watched call names no target; becomes a `Skipped`."""


# -- routers: one per watched call, CloudTrail detail -> targets ----------------------------------------


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _request(detail: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(detail.get("requestParameters"))


def _response(detail: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(detail.get("responseElements"))


def _required(value: Any, event_name: str, where: str) -> str:
    text = _text(value)
    if text is None:
        raise _NothingToAudit(f"{event_name} names no target: {where} is missing")
    return text


def _role_named(detail: Mapping[str, Any]) -> tuple[Target, ...]:
    role = _required(_request(detail).get("roleName"), detail["eventName"], "requestParameters.roleName")
    return (Target(TargetKind.ROLE, role),)


def _policy_version(detail: Mapping[str, Any]) -> tuple[Target, ...]:
    params = _request(detail)
    policy = _required(params.get("policyArn"), detail["eventName"], "requestParameters.policyArn")
    # A version created without setAsDefault changes no one's permissions until SetDefaultPolicyVersion,
    # which is itself watched; auditing now would only repeat the previous verdict.
    if detail["eventName"] == "CreatePolicyVersion" and params.get("setAsDefault") is False:
        raise _NothingToAudit("CreatePolicyVersion without setAsDefault: effective permissions are unchanged")
    return (Target(TargetKind.POLICY, policy),)


def _instance_profile_call(detail: Mapping[str, Any]) -> tuple[Target, ...]:
    params = _request(detail)
    name = _required(params.get("instanceProfileName"), detail["eventName"], "requestParameters.instanceProfileName")
    targets = [Target(TargetKind.INSTANCE_PROFILE, name)]
    if role := _text(params.get("roleName")):
        targets.append(Target(TargetKind.ROLE, role))
    return tuple(targets)


def _profile_of(spec: Any) -> str | None:
    """An IamInstanceProfileSpecification in either casing: the ARN if given, else the name."""
    spec = _mapping(spec)
    return _text(spec.get("arn") or spec.get("Arn")) or _text(spec.get("name") or spec.get("Name"))


def _run_instances(detail: Mapping[str, Any]) -> tuple[Target, ...]:
    launched = [_mapping(item) for item in _mapping(_response(detail).get("instancesSet")).get("items") or []]
    # The profile is in the request when given explicitly; with a launch template only the response
    # (each instance's iamInstanceProfile) shows it.
    requested = _profile_of(_request(detail).get("iamInstanceProfile"))
    profiles = [requested] if requested else [_profile_of(i.get("iamInstanceProfile")) for i in launched]
    profiles = list(dict.fromkeys(p for p in profiles if p))
    if not profiles:
        raise _NothingToAudit("RunInstances launched no instance with an instance profile")
    ids = [i for i in (_text(item.get("instanceId")) for item in launched) if i]
    return (
        *(Target(TargetKind.INSTANCE_PROFILE, p) for p in profiles),
        *(Target(TargetKind.INSTANCE, i) for i in ids),
    )


def _wrapped(section: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """EC2 logs these calls wrapped as {"<Call>Request": {...}}; accept the flat form too."""
    return _mapping(section.get(name)) or section


def _param(params: Mapping[str, Any], key: str) -> Any:
    """A parameter in the wrapped form's PascalCase ("InstanceId") or the flat form's camelCase."""
    return params.get(key) or params.get(key[0].lower() + key[1:])


def _association_call(detail: Mapping[str, Any]) -> tuple[Target, ...]:
    name = detail["eventName"]
    params = _wrapped(_request(detail), f"{name}Request")
    association = _mapping(_wrapped(_response(detail), f"{name}Response").get("iamInstanceProfileAssociation"))
    # Replace: the request holds the new profile and the old association id; Disassociate: only the
    # association id, so the response says which instance and profile it was.
    instance = _text(_param(params, "InstanceId")) or _text(association.get("instanceId"))
    profile = _profile_of(_param(params, "IamInstanceProfile")) or _profile_of(association.get("iamInstanceProfile"))
    association_id = _text(_param(params, "AssociationId")) or _text(association.get("associationId"))
    if not instance and not profile:
        raise _NothingToAudit(f"{name} names neither an instance nor an instance profile")
    found = [
        (TargetKind.INSTANCE, instance),
        (TargetKind.INSTANCE_PROFILE, profile),
        (TargetKind.ASSOCIATION, association_id),
    ]
    return tuple(Target(kind, value) for kind, value in found if value)


Router = Callable[[Mapping[str, Any]], tuple[Target, ...]]

IAM_ROUTES: dict[str, Router] = {
    **dict.fromkeys(
        (
            "CreateRole",
            "AttachRolePolicy",
            "DetachRolePolicy",
            "PutRolePolicy",
            "DeleteRolePolicy",
            "UpdateAssumeRolePolicy",
            "PutRolePermissionsBoundary",
            "DeleteRolePermissionsBoundary",
            "UpdateRole",
            "TagRole",
            "UntagRole",
        ),
        _role_named,
    ),
    "CreatePolicyVersion": _policy_version,
    "SetDefaultPolicyVersion": _policy_version,
    "CreateInstanceProfile": _instance_profile_call,
    "AddRoleToInstanceProfile": _instance_profile_call,
    "RemoveRoleFromInstanceProfile": _instance_profile_call,
}
EC2_ROUTES: dict[str, Router] = {
    "RunInstances": _run_instances,
    "AssociateIamInstanceProfile": _association_call,
    "ReplaceIamInstanceProfileAssociation": _association_call,
    "DisassociateIamInstanceProfile": _association_call,
}
ROUTES: dict[str, dict[str, Router]] = {IAM_SOURCE: IAM_ROUTES, EC2_SOURCE: EC2_ROUTES}
WATCHED_CALLS: frozenset[str] = frozenset(IAM_ROUTES) | frozenset(EC2_ROUTES)


# -- EventBridge envelope --------------------------------------------------------------------------


def wrap_cloudtrail_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """The EventBridge event that carries a CloudTrail record, built as EventBridge builds it."""
    source = str(record.get("eventSource", ""))
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cloudtrail:{record.get('eventID', '')}")),
        "detail-type": CLOUDTRAIL_DETAIL_TYPE,
        "source": f"aws.{source.split('.', 1)[0]}" if source else "",
        "account": str(record.get("recipientAccountId") or _mapping(record.get("userIdentity")).get("accountId", "")),
        "time": str(record.get("eventTime", "")),
        "region": str(record.get("awsRegion", "")),
        "resources": [],
        "detail": dict(record),
    }


def _detail_of(event: Any) -> Mapping[str, Any]:
    if not isinstance(event, Mapping):
        raise EventError(f"an event must be a JSON object, not {type(event).__name__}")
    if "detail-type" not in event:
        if "eventName" in event and "eventSource" in event:
            raise EventError("missing field 'detail-type': this is a bare CloudTrail record, not an EventBridge event")
        raise EventError("missing field 'detail-type': not an EventBridge event")
    if event["detail-type"] != CLOUDTRAIL_DETAIL_TYPE:
        raise EventError(f"field 'detail-type' is {event['detail-type']!r}, expected {CLOUDTRAIL_DETAIL_TYPE!r}")
    if "detail" not in event:
        raise EventError("missing field 'detail'")
    detail = event["detail"]
    if not isinstance(detail, Mapping):
        raise EventError(f"field 'detail' must be an object, not {type(detail).__name__}")
    for key in ("eventName", "eventSource"):
        if not _text(detail.get(key)):
            raise EventError(f"missing field 'detail.{key}'")
    return detail


def _actor(identity: Any) -> Actor:
    identity = _mapping(identity)
    issuer = _mapping(_mapping(identity.get("sessionContext")).get("sessionIssuer"))
    return Actor(
        type=_text(identity.get("type")) or "Unknown",
        arn=_text(identity.get("arn")),
        principal_id=_text(identity.get("principalId")),
        account_id=_text(identity.get("accountId")),
        session_issuer_arn=_text(issuer.get("arn")),
        invoked_by=_text(identity.get("invokedBy")),
    )


def parse_cloudtrail_event(event: Any) -> TriggerResult:
    """An EventBridge "AWS API Call via CloudTrail" event -> AuditRequest, or Skipped with the reason."""
    detail = _detail_of(event)
    name, source = detail["eventName"], detail["eventSource"]
    event_id = _text(detail.get("eventID")) or _text(event.get("id"))
    if event_id is None:
        raise EventError("missing field 'detail.eventID' (and no envelope 'id')")
    error_code = _text(detail.get("errorCode"))
    router = ROUTES.get(source, {}).get(name)
    if router is None:
        return Skipped(event_id, name, source, f"{source} {name} is not a watched call", error_code)
    if error_code:
        return Skipped(event_id, name, source, f"{name} failed ({error_code}): nothing changed", error_code)
    try:
        targets = router(detail)
    except _NothingToAudit as exc:
        return Skipped(event_id, name, source, str(exc))
    return AuditRequest(
        event_id=event_id,
        event_name=name,
        event_source=source,
        time=_text(detail.get("eventTime")) or _text(event.get("time")) or "",
        region=_text(detail.get("awsRegion")) or _text(event.get("region")) or "",
        account=_text(detail.get("recipientAccountId")) or _text(event.get("account")) or "",
        actor=_actor(detail.get("userIdentity")),
        targets=targets,
        source_ip=_text(detail.get("sourceIPAddress")),
        user_agent=_text(detail.get("userAgent")),
        request_parameters=_request(detail),
    )


# -- direct invocation -----------------------------------------------------------------------------

DIRECT_KEYS = {"roles": TargetKind.ROLE, "instance_ids": TargetKind.INSTANCE}
DIRECT_OPTIONAL_KEYS = {"id", "account", "region"}


def _names(payload: Mapping[str, Any], key: str) -> Sequence[str]:
    value = payload.get(key, [])
    if not isinstance(value, list) or not all(_text(v) for v in value):
        raise EventError(f"field {key!r} must be a list of non-empty strings")
    return value


def parse_direct_invocation(payload: Any) -> AuditRequest:
    """`{"roles": [...], "instance_ids": [...]}` (optional "id", "account", "region") -> AuditRequest."""
    if not isinstance(payload, Mapping):
        raise EventError(f"a direct invocation must be a JSON object, not {type(payload).__name__}")
    unknown = sorted(set(payload) - set(DIRECT_KEYS) - DIRECT_OPTIONAL_KEYS)
    if unknown:
        raise EventError(f"unknown field {unknown[0]!r} (expected roles, instance_ids)")
    targets = tuple(Target(kind, name) for key, kind in DIRECT_KEYS.items() for name in _names(payload, key))
    if not targets:
        raise EventError("missing field 'roles' or 'instance_ids': a direct invocation names at least one target")
    # Each on-demand run is its own audit: without a caller-given id, duplicates are not deduplicated.
    return AuditRequest(
        event_id=_text(payload.get("id")) or f"direct-{uuid.uuid4()}",
        event_name="DirectInvocation",
        event_source=DIRECT_INVOCATION,
        time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        region=_text(payload.get("region")) or "",
        account=_text(payload.get("account")) or "",
        actor=Actor(type=DIRECT_INVOCATION),
        targets=targets,
    )


# -- IAM Access Analyzer's own events --------------------------------------------------------------

ACCESS_ANALYZER_SOURCE = "aws.access-analyzer"
ACCESS_ANALYZER_FINDING = "Access Analyzer Finding"  # external access
UNUSED_ACCESS_FINDING = "Unused Access Finding for IAM entities"
ACCESS_ANALYZER_DETAIL_TYPES = {ACCESS_ANALYZER_FINDING: "external-access", UNUSED_ACCESS_FINDING: "unused-access"}
ROLE_RESOURCE_TYPE = "AWS::IAM::Role"
# Access Analyzer sends one event per region with an analyzer for the same (global) role, within about
# an hour of the change; all of them within this window are one audit.
ACCESS_ANALYZER_DEDUP_SECONDS = 3600


def access_analyzer_idempotency_key(family: str, role_arn: str, time: str) -> str:
    """The audit's id (and idempotency key) for an Access Analyzer event: the finding family, the role
    ARN and the hour of the event. The region, the analyzer and the finding id are left out on purpose:
    each regional analyzer reports the same role under its own finding id. A burst that straddles the
    hour gives two audits, never none; a finding of the other family is its own audit."""
    try:
        moment = datetime.fromisoformat(time.replace("Z", "+00:00"))
        window = int(moment.timestamp()) // ACCESS_ANALYZER_DEDUP_SECONDS
    except ValueError:
        window = 0  # no usable time: deduplicate on the role alone (within the idempotency record's life)
    return f"access-analyzer:{family}:{role_arn}:{window}"


def parse_access_analyzer_event(event: Any) -> TriggerResult:
    """An Access Analyzer finding event on a role -> an audit of that role, or Skipped with the reason.

    Audited: ACTIVE findings on an IAM role of the account the event arrived in. Skipped: other resource
    types, archived/resolved/deleted findings (the access is gone or accepted), error findings, roles of
    other accounts (an organization analyzer reports member accounts; rolewatch audits its own account).
    """
    if not isinstance(event, Mapping):
        raise EventError(f"an event must be a JSON object, not {type(event).__name__}")
    detail_type = _text(event.get("detail-type"))
    event_id = _text(event.get("id")) or ""
    if detail_type not in ACCESS_ANALYZER_DETAIL_TYPES:
        return Skipped(event_id, str(detail_type), ACCESS_ANALYZER_SOURCE, f"{detail_type!r} is not a watched event")
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise EventError("missing field 'detail' (an object)")
    resource = _text(detail.get("resource"))
    if resource is None:
        raise EventError("missing field 'detail.resource'")
    finding_id = _text(detail.get("findingId") or detail.get("id")) or ""

    def skipped(reason: str) -> Skipped:
        return Skipped(event_id, detail_type, ACCESS_ANALYZER_SOURCE, reason, _text(detail.get("error")))

    if detail.get("resourceType") != ROLE_RESOURCE_TYPE:
        return skipped(f"finding {finding_id} is on {detail.get('resourceType')} {resource}, not on an IAM role")
    if _text(detail.get("error")):
        return skipped(f"Access Analyzer could not analyze {resource} ({detail['error']})")
    if detail.get("isDeleted") is True or detail.get("status") != "ACTIVE":
        state = "deleted" if detail.get("isDeleted") is True else detail.get("status")
        return skipped(f"finding {finding_id} on {resource} is {state}: nothing to audit")
    parts = resource.split(":", 5)
    account = _text(event.get("account")) or ""
    if len(parts) < 6 or not parts[5].startswith("role/"):
        raise EventError(f"field 'detail.resource' is not a role ARN: {resource!r}")
    if account and parts[4] != account:
        return skipped(f"{resource} belongs to account {parts[4]}; this auditor audits account {account}")
    time = _text(event.get("time")) or ""
    analyzer = next((r for r in event.get("resources") or [] if isinstance(r, str)), None)
    return AuditRequest(
        event_id=access_analyzer_idempotency_key(ACCESS_ANALYZER_DETAIL_TYPES[detail_type], resource, time),
        event_name=detail_type,
        event_source=ACCESS_ANALYZER_SOURCE,
        time=time,
        region=_text(event.get("region")) or "",
        account=account,
        actor=Actor(type="IAM Access Analyzer", arn=analyzer),
        targets=(Target(TargetKind.ROLE, parts[5].rsplit("/", 1)[-1]),),
        request_parameters={
            "roleArn": resource,
            "findingId": finding_id,
            "findingType": _text(detail.get("findingType")) or "ExternalAccess",
            "analyzerArn": analyzer,
            "eventId": event_id,
        },
    )


def parse_event(event: Any) -> TriggerResult:
    """Any input the audit function accepts: an EventBridge CloudTrail event, an Access Analyzer finding
    event or a direct invocation."""
    if isinstance(event, Mapping) and "detail-type" not in event and any(k in event for k in DIRECT_KEYS):
        return parse_direct_invocation(event)
    if (
        isinstance(event, Mapping)
        and event.get("source") == ACCESS_ANALYZER_SOURCE
        and event.get("detail-type") != CLOUDTRAIL_DETAIL_TYPE
    ):
        return parse_access_analyzer_event(event)
    return parse_cloudtrail_event(event)
