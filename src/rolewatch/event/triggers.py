"""Trigger events -> audit requests: which roles, policies, instance profiles and instances to re-read.

Pure: no AWS calls. Two ways in:
- an EventBridge "AWS API Call via CloudTrail" event for one of the watched IAM or EC2 calls;
- a direct-invoke payload `{"roles": [...], "instance_ids": [...]}` (on-demand audits).

The payload only says *what* to look at and *who* did it: the verdict always comes from re-reading the
current state. Failed calls (`errorCode`) and calls outside the watched list come back as `Skipped`
with a reason (the handler logs it); an event that is not the expected shape raises `EventError`.

Every field is checked before any AWS call: a field of the wrong type (an `errorCode` that is not a
non-empty string, `instancesSet.items` that is not a list of objects, Access Analyzer `resources`
that is not a list) and an identifier longer than AWS allows (a 1 MB event id or role name, more
targets than one on-demand audit takes) raise `EventError` naming the field. Nothing of absurd size
reaches IAM, a report or the idempotency record.
"""

from __future__ import annotations

import enum
import re
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


# Longest identifiers AWS issues or accepts (IAM: role names 64, instance-profile names 128, ARNs 2048;
# EC2 ids are about 20 characters; CloudTrail and EventBridge ids are UUIDs; a caller's "id" is ours).
MAX_EVENT_ID = 128
MAX_TARGET = {"role": 64, "policy": 2048, "instance-profile": 2048, "instance": 64, "association": 64}
MAX_DIRECT_TARGETS = 50  # per key of one on-demand invocation
_ACCOUNT = re.compile(r"\d{12}")
MAX_REGION = 64


class TargetKind(enum.StrEnum):
    ROLE = "role"  # a role name
    POLICY = "policy"  # a managed policy ARN: audit every role it is attached to
    INSTANCE_PROFILE = "instance-profile"  # a profile name or ARN: audit its role
    INSTANCE = "instance"  # an EC2 instance id
    ASSOCIATION = "association"  # an instance-profile association id (iip-assoc-...)


# IAM role names and EC2 instance ids as AWS issues them: anything else never reaches an API call.
TARGET_PATTERN = {
    TargetKind.ROLE: re.compile(r"[\w+=,.@-]{1,64}", re.ASCII),
    TargetKind.INSTANCE: re.compile(r"i-[0-9a-f]{1,32}"),
}


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


def _optional_text(container: Mapping[str, Any], key: str, where: str) -> str | None:
    """A string field that may be absent or null; any other type is a malformed event."""
    value = container.get(key)
    if value is None or isinstance(value, str):
        return _text(value)
    raise EventError(f"field {where!r} must be a string, not {type(value).__name__}")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _object(container: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    """An object field that may be absent or null ({}); any other type is a malformed event."""
    value = container.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise EventError(f"field {where!r} must be an object, not {type(value).__name__}")
    return value


def _request(detail: Mapping[str, Any]) -> Mapping[str, Any]:
    return _object(detail, "requestParameters", "detail.requestParameters")


def _response(detail: Mapping[str, Any]) -> Mapping[str, Any]:
    return _object(detail, "responseElements", "detail.responseElements")


def _required(params: Mapping[str, Any], key: str, event_name: str, where: str) -> str:
    text = _optional_text(params, key, f"detail.{where}")
    if text is None:
        raise _NothingToAudit(f"{event_name} names no target: {where} is missing")
    return text


def _role_named(detail: Mapping[str, Any]) -> tuple[Target, ...]:
    role = _required(_request(detail), "roleName", detail["eventName"], "requestParameters.roleName")
    return (Target(TargetKind.ROLE, role),)


def _policy_version(detail: Mapping[str, Any]) -> tuple[Target, ...]:
    params = _request(detail)
    policy = _required(params, "policyArn", detail["eventName"], "requestParameters.policyArn")
    # A version created without setAsDefault changes no one's permissions until SetDefaultPolicyVersion,
    # which is itself watched; auditing now would only repeat the previous verdict.
    if detail["eventName"] == "CreatePolicyVersion" and params.get("setAsDefault") is False:
        raise _NothingToAudit("CreatePolicyVersion without setAsDefault: effective permissions are unchanged")
    return (Target(TargetKind.POLICY, policy),)


def _instance_profile_call(detail: Mapping[str, Any]) -> tuple[Target, ...]:
    params = _request(detail)
    name = _required(params, "instanceProfileName", detail["eventName"], "requestParameters.instanceProfileName")
    targets = [Target(TargetKind.INSTANCE_PROFILE, name)]
    if role := _optional_text(params, "roleName", "detail.requestParameters.roleName"):
        targets.append(Target(TargetKind.ROLE, role))
    return tuple(targets)


def _profile_of(container: Mapping[str, Any], key: str, where: str) -> str | None:
    """An IamInstanceProfileSpecification in either casing: the ARN if given, else the name."""
    spec = _object(container, key, where)
    for field_name in ("arn", "Arn", "name", "Name"):
        if found := _optional_text(spec, field_name, f"{where}.{field_name}"):
            return found
    return None


def _objects(container: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    """A list of objects that may be absent or null ([]); anything else is a malformed event."""
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise EventError(f"field {where!r} must be a list of objects")
    return value


def _run_instances(detail: Mapping[str, Any]) -> tuple[Target, ...]:
    instances_set = _object(_response(detail), "instancesSet", "detail.responseElements.instancesSet")
    launched = _objects(instances_set, "items", "detail.responseElements.instancesSet.items")
    # The profile is in the request when given explicitly; with a launch template only the response
    # (each instance's iamInstanceProfile) shows it.
    requested = _profile_of(_request(detail), "iamInstanceProfile", "detail.requestParameters.iamInstanceProfile")
    items = "detail.responseElements.instancesSet.items"
    profiles = (
        [requested]
        if requested
        else [
            _profile_of(item, "iamInstanceProfile", f"{items}[{n}].iamInstanceProfile")
            for n, item in enumerate(launched)
        ]
    )
    profiles = list(dict.fromkeys(p for p in profiles if p))
    if not profiles:
        raise _NothingToAudit("RunInstances launched no instance with an instance profile")
    found = (_optional_text(item, "instanceId", f"{items}[{n}].instanceId") for n, item in enumerate(launched))
    ids = [i for i in found if i]
    return (
        *(Target(TargetKind.INSTANCE_PROFILE, p) for p in profiles),
        *(Target(TargetKind.INSTANCE, i) for i in ids),
    )


def _wrapped(section: Mapping[str, Any], name: str, where: str) -> tuple[Mapping[str, Any], str]:
    """EC2 logs these calls wrapped as {"<Call>Request": {...}}; accept the flat form too."""
    inner = _object(section, name, f"{where}.{name}")
    return (inner, f"{where}.{name}") if inner else (section, where)


def _param_key(params: Mapping[str, Any], key: str) -> str:
    """The wrapped form's PascalCase ("InstanceId") if present, else the flat form's camelCase."""
    return key if params.get(key) is not None else key[0].lower() + key[1:]


def _association_call(detail: Mapping[str, Any]) -> tuple[Target, ...]:
    name = detail["eventName"]
    params, at = _wrapped(_request(detail), f"{name}Request", "detail.requestParameters")
    response, out = _wrapped(_response(detail), f"{name}Response", "detail.responseElements")
    association = _object(response, "iamInstanceProfileAssociation", f"{out}.iamInstanceProfileAssociation")
    answer = f"{out}.iamInstanceProfileAssociation"
    # Replace: the request holds the new profile and the old association id; Disassociate: only the
    # association id, so the response says which instance and profile it was.
    key = _param_key(params, "InstanceId")
    instance = _optional_text(params, key, f"{at}.{key}") or _optional_text(
        association, "instanceId", f"{answer}.instanceId"
    )
    key = _param_key(params, "IamInstanceProfile")
    profile = _profile_of(params, key, f"{at}.{key}") or _profile_of(
        association, "iamInstanceProfile", f"{answer}.iamInstanceProfile"
    )
    key = _param_key(params, "AssociationId")
    association_id = _optional_text(params, key, f"{at}.{key}") or _optional_text(
        association, "associationId", f"{answer}.associationId"
    )
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


def _actor(detail: Mapping[str, Any]) -> Actor:
    where = "detail.userIdentity"
    identity = _object(detail, "userIdentity", where)
    context = _object(identity, "sessionContext", f"{where}.sessionContext")
    issuer = _object(context, "sessionIssuer", f"{where}.sessionContext.sessionIssuer")
    return Actor(
        type=_optional_text(identity, "type", f"{where}.type") or "Unknown",
        arn=_optional_text(identity, "arn", f"{where}.arn"),
        principal_id=_optional_text(identity, "principalId", f"{where}.principalId"),
        account_id=_optional_text(identity, "accountId", f"{where}.accountId"),
        session_issuer_arn=_optional_text(issuer, "arn", f"{where}.sessionContext.sessionIssuer.arn"),
        invoked_by=_optional_text(identity, "invokedBy", f"{where}.invokedBy"),
    )


def parse_cloudtrail_event(event: Any) -> TriggerResult:
    """An EventBridge "AWS API Call via CloudTrail" event -> AuditRequest, or Skipped with the reason."""
    detail = _detail_of(event)
    name, source = detail["eventName"], detail["eventSource"]
    event_id = _optional_text(detail, "eventID", "detail.eventID") or _optional_text(event, "id", "id")
    if event_id is None:
        raise EventError("missing field 'detail.eventID' (and no envelope 'id')")
    _bounded(event_id, "detail.eventID", MAX_EVENT_ID)
    error_code = None
    if "errorCode" in detail:
        error_code = _text(detail["errorCode"])
        if error_code is None:
            # A failed call is skipped, so an errorCode that does not say which error is not a success either.
            raise EventError(f"field 'detail.errorCode' must be a non-empty string, not {detail['errorCode']!r:.40}")
    router = ROUTES.get(source, {}).get(name)
    if router is None:
        return Skipped(event_id, _short(name), _short(source), f"{_short(source)} {_short(name)} is not a watched call")
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
        time=_optional_text(detail, "eventTime", "detail.eventTime") or _optional_text(event, "time", "time") or "",
        region=_region(
            _optional_text(detail, "awsRegion", "detail.awsRegion") or _optional_text(event, "region", "region"),
            "detail.awsRegion",
        ),
        account=_account(
            _optional_text(detail, "recipientAccountId", "detail.recipientAccountId")
            or _optional_text(event, "account", "account"),
            "detail.recipientAccountId",
        ),
        actor=_actor(detail),
        targets=_checked(targets, CLOUDTRAIL_FIELDS),
        source_ip=_optional_text(detail, "sourceIPAddress", "detail.sourceIPAddress"),
        user_agent=_optional_text(detail, "userAgent", "detail.userAgent"),
        request_parameters=_request(detail),
    )


# Where each kind of target comes from in a CloudTrail record (for the EventError naming a bad one).
CLOUDTRAIL_FIELDS = {
    TargetKind.ROLE: "detail.requestParameters.roleName",
    TargetKind.POLICY: "detail.requestParameters.policyArn",
    TargetKind.INSTANCE_PROFILE: "detail.requestParameters instance profile (name or ARN)",
    TargetKind.INSTANCE: "detail instance id",
    TargetKind.ASSOCIATION: "detail association id",
}


def _short(text: str, limit: int = 128) -> str:
    return text if len(text) <= limit else text[:limit] + f"...[+{len(text) - limit} chars]"


def _bounded(value: str, where: str, limit: int) -> str:
    if len(value) > limit:
        raise EventError(f"field {where!r} is {len(value):,} characters long; AWS allows at most {limit}")
    return value


def _checked(targets: tuple[Target, ...], fields: Mapping[TargetKind, str]) -> tuple[Target, ...]:
    """Targets within AWS's own limits and name rules, before any of them is sent to AWS."""
    for target in targets:
        where = fields[target.kind]
        _bounded(target.value, where, MAX_TARGET[target.kind.value])
        pattern = TARGET_PATTERN.get(target.kind)
        if pattern is not None and not pattern.fullmatch(target.value):
            raise EventError(f"field {where!r} is not a valid {target.kind.value} name: {target.value!r:.80}")
    return targets


def _account(value: str | None, where: str) -> str:
    if value is not None and not _ACCOUNT.fullmatch(value):
        raise EventError(f"field {where!r} must be a 12-digit account id, not {value!r:.40}")
    return value or ""


def _region(value: str | None, where: str) -> str:
    return _bounded(value, where, MAX_REGION) if value is not None else ""


# -- direct invocation -----------------------------------------------------------------------------

DIRECT_KEYS = {"roles": TargetKind.ROLE, "instance_ids": TargetKind.INSTANCE}
DIRECT_OPTIONAL_KEYS = {"id", "account", "region"}


def _names(payload: Mapping[str, Any], key: str) -> Sequence[str]:
    value = payload.get(key, [])
    if not isinstance(value, list) or not all(_text(v) for v in value):
        raise EventError(f"field {key!r} must be a list of non-empty strings")
    if len(value) > MAX_DIRECT_TARGETS:
        raise EventError(
            f"field {key!r} names {len(value):,} targets; one on-demand audit takes at most {MAX_DIRECT_TARGETS}"
        )
    kind = DIRECT_KEYS[key]
    for n, name in enumerate(value):
        _checked((Target(kind, name),), {kind: f"{key}[{n}]"})
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
    given = _optional_text(payload, "id", "id")
    if given is not None:
        _bounded(given, "id", MAX_EVENT_ID)
    # Each on-demand run is its own audit: without a caller-given id, duplicates are not deduplicated.
    return AuditRequest(
        event_id=given or f"direct-{uuid.uuid4()}",
        event_name="DirectInvocation",
        event_source=DIRECT_INVOCATION,
        time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        region=_region(_optional_text(payload, "region", "region"), "region"),
        account=_account(_optional_text(payload, "account", "account"), "account"),
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


def parse_access_analyzer_event(event: Any, *, organization: bool = False) -> TriggerResult:
    """An Access Analyzer finding event on a role -> an audit of that role, or Skipped with the reason.

    Audited: ACTIVE findings on an IAM role of the account the event arrived in; with `organization`
    (the central stack of organization mode), also roles of other accounts, which an organization
    analyzer in the security account reports: the audit reads the role's own account (the ARN's), whose
    membership the event path checks. Skipped: other resource types, archived/resolved/deleted findings
    (the access is gone or accepted), error findings and, in account mode, roles of other accounts.
    """
    if not isinstance(event, Mapping):
        raise EventError(f"an event must be a JSON object, not {type(event).__name__}")
    detail_type = _optional_text(event, "detail-type", "detail-type")
    event_id = _bounded(_optional_text(event, "id", "id") or "", "id", MAX_EVENT_ID)
    if detail_type not in ACCESS_ANALYZER_DETAIL_TYPES:
        shown = _short(str(detail_type))
        return Skipped(event_id, shown, ACCESS_ANALYZER_SOURCE, f"{shown!r} is not a watched event")
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise EventError("missing field 'detail' (an object)")
    resource = _optional_text(detail, "resource", "detail.resource")
    if resource is None:
        raise EventError("missing field 'detail.resource'")
    _bounded(resource, "detail.resource", MAX_TARGET["policy"])
    finding_id = _bounded(
        _optional_text(detail, "findingId", "detail.findingId") or _optional_text(detail, "id", "detail.id") or "",
        "detail.findingId",
        MAX_EVENT_ID,
    )
    error = _optional_text(detail, "error", "detail.error")
    resources = event.get("resources")
    if resources is not None and not isinstance(resources, list):
        raise EventError(f"field 'resources' must be a list, not {type(resources).__name__}")

    def skipped(reason: str) -> Skipped:
        return Skipped(event_id, detail_type, ACCESS_ANALYZER_SOURCE, reason, error)

    if detail.get("resourceType") != ROLE_RESOURCE_TYPE:
        return skipped(f"finding {finding_id} is on {detail.get('resourceType')} {resource}, not on an IAM role")
    if error:
        return skipped(f"Access Analyzer could not analyze {resource} ({_short(error)})")
    if detail.get("isDeleted") is True or detail.get("status") != "ACTIVE":
        state = "deleted" if detail.get("isDeleted") is True else detail.get("status")
        return skipped(f"finding {finding_id} on {resource} is {state}: nothing to audit")
    parts = resource.split(":", 5)
    account = _account(_optional_text(event, "account", "account"), "account")
    if len(parts) < 6 or not parts[5].startswith("role/"):
        raise EventError(f"field 'detail.resource' is not a role ARN: {resource!r}")
    if account and parts[4] != account:
        if not organization:
            return skipped(f"{resource} belongs to account {parts[4]}; this auditor audits account {account}")
        account = _account(parts[4], "detail.resource")
    time = _optional_text(event, "time", "time") or ""
    analyzer = next((r for r in resources or [] if isinstance(r, str)), None)
    if analyzer is not None:
        _bounded(analyzer, "resources[0]", MAX_TARGET["policy"])
    return AuditRequest(
        event_id=access_analyzer_idempotency_key(ACCESS_ANALYZER_DETAIL_TYPES[detail_type], resource, time),
        event_name=detail_type,
        event_source=ACCESS_ANALYZER_SOURCE,
        time=time,
        region=_region(_optional_text(event, "region", "region"), "region"),
        account=account,
        actor=Actor(type="IAM Access Analyzer", arn=analyzer),
        targets=_checked((Target(TargetKind.ROLE, parts[5].rsplit("/", 1)[-1]),), {TargetKind.ROLE: "detail.resource"}),
        request_parameters={
            "roleArn": resource,
            "findingId": finding_id,
            "findingType": _optional_text(detail, "findingType", "detail.findingType") or "ExternalAccess",
            "analyzerArn": analyzer,
            "eventId": event_id,
        },
    )


def parse_event(event: Any, *, organization: bool = False) -> TriggerResult:
    """Any input the audit function accepts: an EventBridge CloudTrail event, an Access Analyzer finding
    event or a direct invocation. `organization`: the auditor reads every account of the organization,
    so an organization analyzer's finding on a member's role is audited in that account."""
    if isinstance(event, Mapping) and "detail-type" not in event and any(k in event for k in DIRECT_KEYS):
        return parse_direct_invocation(event)
    if (
        isinstance(event, Mapping)
        and event.get("source") == ACCESS_ANALYZER_SOURCE
        and event.get("detail-type") != CLOUDTRAIL_DETAIL_TYPE
    ):
        return parse_access_analyzer_event(event, organization=organization)
    return parse_cloudtrail_event(event)
