"""OCSF renderer: each finding as an OCSF 1.5 Detection Finding event (class 2004), the schema Security Lake
and many SIEMs ingest (Prowler emits the same class).

The output is a JSON array of events, one per line (the JSON report's layout: a diff of two runs shows one
line per finding that changed). Mapping:

- `finding_info.uid` is the finding's stable fingerprint (role ARN + rule + evidence hash), so a SIEM
  deduplicates the same finding across runs; `finding_info.analytic` names the rule; `types` its category.
- `severity_id` follows OCSF's scale (critical 5, high 4, medium 3, low 2, info 1); a suppressed finding
  has `status_id` 3 (Suppressed) and its justification in `status_detail`, an open one 1 (New).
- `resources` is the role (`AWS::IAM::Role`, with its ARN, name and account); `cloud` the account.
- `remediation.desc` the fix sentence, `references` the rule's documentation links; the exact AWS CLI
  commands, the corrected policy, the actions and the evidence, which OCSF has no attribute for, are kept
  under `unmapped.rolewatch`.

Values are copied exactly (role names, tags and policy values are attacker-controlled): the JSON encoder
escapes them, and hidden characters are written as \\u escapes, as in the JSON report. The events carry
only attributes of the schema: tests validate them with py-ocsf-models, a maintained implementation of
the OCSF classes. The Lambda functions produce the same events from plain dictionaries (the library and
pydantic would add about 0.3 s to a cold start). Pure: no AWS calls, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from rolewatch.model import AuditResult, Finding, Severity
from rolewatch.report.document import worst_first
from rolewatch.rule_metadata import rule_catalogue
from rolewatch.untrusted import escape_hidden

OCSF_VERSION = "1.5.0"
DETECTION_FINDING_CLASS_UID = 2004
FINDINGS_CATEGORY_UID = 2
ACTIVITY_CREATE = 1
TYPE_UID_CREATE = DETECTION_FINDING_CLASS_UID * 100 + ACTIVITY_CREATE
STATUS_NEW, STATUS_SUPPRESSED = 1, 3
ACCOUNT_TYPE_AWS = 10  # OCSF account.type_id "AWS Account"
SEVERITY_IDS: dict[Severity, tuple[int, str]] = {
    Severity.CRITICAL: (5, "Critical"),
    Severity.HIGH: (4, "High"),
    Severity.MEDIUM: (3, "Medium"),
    Severity.LOW: (2, "Low"),
    Severity.INFO: (1, "Informational"),
}
PRODUCT_NAME = "rolewatch"

_ELEMENT = json.JSONEncoder(ensure_ascii=False)


def ocsf_events(result: AuditResult, *, generated_at: datetime | None = None) -> list[dict[str, Any]]:
    """Every finding (suppressed ones too, with their status), worst first, as Detection Finding events."""
    moment = _utc(generated_at)
    millis = int(moment.timestamp() * 1000)
    product = {"name": PRODUCT_NAME, "vendor_name": PRODUCT_NAME, "version": _product_version()}
    references = {rule_id: list(meta.references) for rule_id, meta in rule_catalogue().items()}
    return [
        _event(finding, millis=millis, product=product, references=references.get(finding.rule, []))
        for finding in worst_first(result.findings)
    ]


def render_ocsf(result: AuditResult, *, generated_at: datetime | None = None) -> str:
    """The events as one JSON array, one event per line."""
    lines = [_ELEMENT.encode(event) for event in ocsf_events(result, generated_at=generated_at)]
    body = "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n"
    return escape_hidden(body)


def _event(finding: Finding, *, millis: int, product: dict[str, str], references: Sequence[str]) -> dict[str, Any]:
    severity_id, severity = SEVERITY_IDS[finding.severity]
    suppressed = finding.suppressed_by is not None
    account = _account_of(finding.resource)
    remediation: dict[str, Any] = {"desc": finding.remediation.summary}
    if references:
        remediation["references"] = list(references)
    event: dict[str, Any] = {
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": FINDINGS_CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": DETECTION_FINDING_CLASS_UID,
        "class_name": "Detection Finding",
        "type_uid": TYPE_UID_CREATE,
        "type_name": "Detection Finding: Create",
        "time": millis,
        "severity_id": severity_id,
        "severity": severity,
        "status_id": STATUS_SUPPRESSED if suppressed else STATUS_NEW,
        "status": "Suppressed" if suppressed else "New",
        "message": finding.title,
        "metadata": {
            "version": OCSF_VERSION,
            "product": product,
            "event_code": finding.rule,
            "uid": finding.fingerprint,
            "profiles": ["cloud"],
        },
        "finding_info": {
            "uid": finding.fingerprint,
            "title": finding.title,
            "desc": finding.detail,
            "types": [finding.category],
            "analytic": {"uid": finding.rule, "name": finding.rule, "type_id": 1, "type": "Rule"},
            "created_time": millis,
        },
        "resources": [_resource(finding.resource)],
        "remediation": remediation,
        "unmapped": {
            "rolewatch": {
                "rule": finding.rule,
                "category": finding.category,
                "actions": list(finding.actions),
                "evidence": list(finding.evidence),
                "cli": list(finding.remediation.cli),
                **({"policy": finding.remediation.policy} if finding.remediation.policy is not None else {}),
            }
        },
    }
    if finding.rationale:
        event["risk_details"] = finding.rationale
    if suppressed:
        event["status_detail"] = finding.suppressed_by
    if account:
        event["cloud"] = {
            "provider": "AWS",
            "account": {"uid": account, "name": account, "type_id": ACCOUNT_TYPE_AWS, "type": "AWS Account"},
        }
    return event


def _resource(arn: str) -> dict[str, Any]:
    resource: dict[str, Any] = {"uid": arn, "name": arn.rsplit("/", 1)[-1], "type": _resource_type(arn)}
    parts = arn.split(":")
    if len(parts) > 1 and parts[0] == "arn":
        resource["cloud_partition"] = parts[1]
    return resource


def _resource_type(arn: str) -> str:
    """CloudFormation's resource type names, as Security Hub and Prowler use them."""
    if ":role/" in arn:
        return "AWS::IAM::Role"
    if ":user/" in arn:
        return "AWS::IAM::User"
    if ":group/" in arn:
        return "AWS::IAM::Group"
    if ":policy/" in arn:
        return "AWS::IAM::Policy"
    if arn.endswith(":root"):
        return "AWS::Account"
    return "Other"


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" and parts[4].isdigit() else ""


def _utc(moment: datetime | None) -> datetime:
    moment = moment or datetime.now(UTC)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _product_version() -> str:
    try:
        return version("rolewatch")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0.0.0"
