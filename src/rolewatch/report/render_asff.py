"""Findings in the AWS Security Finding Format (ASFF), as Security Hub's BatchImportFindings takes them.

One rolewatch finding is one ASFF finding. Its `Id` is `rolewatch/<rule>/<fingerprint>`: the same role,
rule and evidence give the same Id on every run, so importing again updates the finding instead of
adding a copy, and a finding that stops being produced can be found and archived (rolewatch.integrations
.security_hub keeps that life cycle). `ProductArn` is the account's default product (a custom integration),
`GeneratorId` the rule id, and `ProductFields` carry rolewatch's own keys (rule, category, fingerprint,
role name) so rolewatch can find its findings again with GetFindings filters.

Provider rules (BatchImportFindings): severity and types are the provider's in `FindingProviderFields`;
the top-level `Severity` and `Types` are sent only when the finding is created, so a customer's change
through BatchUpdateFindings is never overwritten; `Workflow`, `Note`, `UserDefinedFields`,
`VerificationState`, `Confidence`, `Criticality` and `RelatedFindings` are never sent.

Documented limits, each enforced here and tested: Title 256, Description 1024 and
Remediation.Recommendation.Text 512 (counted in UTF-8 bytes, so a limit in characters holds too),
at most 32 resources, at most 50 ProductFields, and 240 KB for the whole finding, measured as the
SDK sends it (JSON with non-ASCII escaped, which is never shorter than UTF-8). A finding over 240 KB
drops its role details (inline policy names, managed policies, then the trust policy) before its text.
Pure: no AWS calls; untrusted text (role names, tags, policy values) stays text in JSON strings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from rolewatch.model import Finding, RoleSnapshot, Severity
from rolewatch.policy.document import decode_document
from rolewatch.report.document import format_timestamp
from rolewatch.rule_metadata import rule_catalogue

SCHEMA_VERSION = "2018-10-08"
PRODUCT_NAME = "rolewatch"
COMPANY_NAME = "rolewatch"
ID_PREFIX = "rolewatch/"
# Documented limits of the ASFF attributes (Security Hub User Guide, "ASFF required/optional attributes").
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 1024
RECOMMENDATION_TEXT_LIMIT = 512
PRODUCT_FIELD_VALUE_LIMIT = 2048
MAX_RESOURCES = 32
MAX_PRODUCT_FIELDS = 50
MAX_TAGS = 50
# "The maximum allowed size for a finding is 240 Kb": read as 240,000 bytes, the smaller reading.
FINDING_BYTES_LIMIT = 240_000
# The ProductFields keys rolewatch writes (Security Hub reserves the "aws/" prefix for itself).
FIELD_RULE = "rolewatch/Rule"
FIELD_CATEGORY = "rolewatch/Category"
FIELD_FINGERPRINT = "rolewatch/Fingerprint"
FIELD_ROLE_NAME = "rolewatch/RoleName"
FIELD_ACTIONS = "rolewatch/Actions"
FIELD_FIX = "rolewatch/RemediationCli"

SEVERITY_LABELS: dict[Severity, str] = {
    Severity.CRITICAL: "CRITICAL",
    Severity.HIGH: "HIGH",
    Severity.MEDIUM: "MEDIUM",
    Severity.LOW: "LOW",
    Severity.INFO: "INFORMATIONAL",
}

_BEST_PRACTICES = "Software and Configuration Checks/AWS Security Best Practices"
# ASFF types are namespace/category/classifier; namespaces and categories are AWS's closed lists,
# the classifier is ours.
CATEGORY_TYPES: dict[str, tuple[str, ...]] = {
    "admin-access": (f"{_BEST_PRACTICES}/Least Privilege", "TTPs/Privilege Escalation"),
    "privilege-escalation": ("TTPs/Privilege Escalation", f"{_BEST_PRACTICES}/Least Privilege"),
    "data-exfiltration": ("Effects/Data Exfiltration", f"{_BEST_PRACTICES}/Least Privilege"),
    "resource-exposure": ("Effects/Data Exposure", f"{_BEST_PRACTICES}/Least Privilege"),
    "credentials-exposure": ("TTPs/Credential Access", f"{_BEST_PRACTICES}/Least Privilege"),
    "infrastructure-modification": (f"{_BEST_PRACTICES}/Least Privilege",),
    "service-wildcard": (f"{_BEST_PRACTICES}/Least Privilege",),
    "trust-policy": (f"{_BEST_PRACTICES}/Trust Policy", "TTPs/Initial Access"),
    "baseline": (f"{_BEST_PRACTICES}/Baseline",),
    "access-analyzer": (f"{_BEST_PRACTICES}/IAM Access Analyzer",),
    "unused-access": (f"{_BEST_PRACTICES}/Unused Access",),
    "instance-profile": (f"{_BEST_PRACTICES}/Instance Profile",),
}

# Where a finding without a rule reference points its reader: the IAM documentation of its concern.
_IAM_GUIDE = "https://docs.aws.amazon.com/IAM/latest/UserGuide"
CATEGORY_URLS: dict[str, str] = {
    "trust-policy": f"{_IAM_GUIDE}/id_roles_terms-and-concepts.html",
    "access-analyzer": f"{_IAM_GUIDE}/what-is-access-analyzer.html",
    "unused-access": f"{_IAM_GUIDE}/access-analyzer-findings.html",
    "instance-profile": f"{_IAM_GUIDE}/id_roles_use_switch-role-ec2_instance-profiles.html",
}
DEFAULT_URL = f"{_IAM_GUIDE}/best-practices.html#grant-least-privilege"
_ELLIPSIS = "…"


def product_arn(account_id: str, region: str, partition: str = "aws") -> str:
    """The account's default product: what a custom integration imports its findings under."""
    return f"arn:{partition}:securityhub:{region}:{account_id}:product/{account_id}/default"


def finding_id(finding: Finding) -> str:
    """Stable across runs: the fingerprint is role ARN + rule + actions + evidence."""
    return f"{ID_PREFIX}{finding.rule}/{finding.fingerprint}"


def account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" else ""


def partition_of(arn: str, default: str = "aws") -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 5 and parts[0] == "arn" and parts[1] else default


def clip(text: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes, cut between characters, an ellipsis saying it was cut."""
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= limit:
        return text
    budget = limit - len(_ELLIPSIS.encode("utf-8"))
    return raw[:budget].decode("utf-8", errors="ignore") + _ELLIPSIS


def size_in_bytes(asff: Mapping[str, Any]) -> int:
    """The finding's size as the SDK sends it (non-ASCII escaped: never less than its UTF-8 size)."""
    return len(json.dumps(asff, separators=(",", ":")).encode("ascii"))


def compliance_status(finding: Finding) -> str:
    """FAILED for a finding to act on; WARNING for context (info), which fails nothing by itself."""
    return "WARNING" if finding.severity is Severity.INFO else "FAILED"


def recommendation_url(finding: Finding) -> str:
    meta = rule_catalogue().get(finding.rule)
    if meta is not None and meta.references:
        return meta.references[0]
    return CATEGORY_URLS.get(finding.category, DEFAULT_URL)


def to_asff(
    finding: Finding,
    *,
    region: str,
    now: datetime,
    role: RoleSnapshot | None = None,
    created_at: str | None = None,
    first_observed_at: str | None = None,
    new: bool = True,
) -> dict[str, Any]:
    """One ASFF finding. `created_at` / `first_observed_at` are kept from an earlier import of the same
    Id; `new=False` leaves the top-level Severity and Types (the customer's once created) out."""
    account = account_of(finding.resource)
    partition = partition_of(finding.resource)
    stamp = format_timestamp(now)
    types = list(CATEGORY_TYPES.get(finding.category, (f"{_BEST_PRACTICES}/Least Privilege",)))
    severity = {"Label": SEVERITY_LABELS[finding.severity], "Original": finding.severity.value}
    out: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": finding_id(finding),
        "ProductArn": product_arn(account, region, partition),
        "ProductName": PRODUCT_NAME,
        "CompanyName": COMPANY_NAME,
        "GeneratorId": finding.rule,
        "AwsAccountId": account,
        "CreatedAt": created_at or stamp,
        "UpdatedAt": stamp,
        "FirstObservedAt": first_observed_at or created_at or stamp,
        "LastObservedAt": stamp,
        "Title": clip(finding.title, TITLE_LIMIT),
        "Description": clip(finding.detail or finding.title, DESCRIPTION_LIMIT),
        "Remediation": {
            "Recommendation": {
                "Text": clip(finding.remediation.summary or finding.title, RECOMMENDATION_TEXT_LIMIT),
                "Url": recommendation_url(finding),
            }
        },
        "ProductFields": _product_fields(finding),
        "Resources": _resources(finding, role, region, partition),
        "Compliance": {"Status": compliance_status(finding)},
        "RecordState": "ACTIVE",
        "FindingProviderFields": {"Severity": dict(severity), "Types": list(types)},
    }
    if new:
        out["Severity"] = severity
        out["Types"] = types
    return fit_to_limit(out)


def to_asff_findings(
    findings: Iterable[Finding],
    *,
    region: str,
    now: datetime,
    roles: Mapping[str, RoleSnapshot] | None = None,
) -> list[dict[str, Any]]:
    """Every open (not suppressed) finding as ASFF, e.g. for `rolewatch audit --format asff`."""
    roles = roles or {}
    return [to_asff(f, region=region, now=now, role=roles.get(f.resource)) for f in findings if f.suppressed_by is None]


def _product_fields(finding: Finding) -> dict[str, str]:
    fields = {
        FIELD_RULE: finding.rule,
        FIELD_CATEGORY: finding.category,
        FIELD_FINGERPRINT: finding.fingerprint,
    }
    name = role_name_of(finding.resource)
    if name:
        fields[FIELD_ROLE_NAME] = name
    if finding.actions:
        fields[FIELD_ACTIONS] = clip(", ".join(finding.actions), PRODUCT_FIELD_VALUE_LIMIT)
    if finding.remediation.cli:
        fields[FIELD_FIX] = clip(finding.remediation.cli[0], PRODUCT_FIELD_VALUE_LIMIT)
    return fields


def role_name_of(arn: str) -> str:
    """The name in a role ARN (after its path); empty for anything that is not a role ARN."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or not parts[5].startswith("role/"):
        return ""
    return parts[5].rsplit("/", 1)[-1]


def _resources(finding: Finding, role: RoleSnapshot | None, region: str, partition: str) -> list[dict[str, Any]]:
    resources = [_principal_resource(finding.resource, role, region, partition)]
    if finding.category == "instance-profile":
        resources += _instance_resources(finding, role, region, partition)
    return resources[:MAX_RESOURCES]


def _principal_resource(arn: str, role: RoleSnapshot | None, region: str, partition: str) -> dict[str, Any]:
    resource: dict[str, Any] = {"Partition": partition, "Region": region}
    kind = arn.split(":", 5)[5].split("/", 1)[0] if arn.count(":") >= 5 else ""
    if kind == "role":
        resource.update(Type="AwsIamRole", Id=arn, Details={"AwsIamRole": _role_details(arn, role)})
    elif kind == "user":
        resource.update(Type="AwsIamUser", Id=arn)
    elif kind == "group":
        resource.update(Type="AwsIamGroup", Id=arn)
    elif kind == "root":
        # The account stands for itself (e.g. "live checks skipped" for the whole account).
        resource.update(Type="AwsAccount", Id=f"AWS::::Account:{account_of(arn)}")
    else:
        resource.update(Type="Other", Id=arn)
    if role is not None and role.tags:
        resource["Tags"] = dict(list(role.tags)[:MAX_TAGS])
    return resource


def _role_details(arn: str, role: RoleSnapshot | None) -> dict[str, Any]:
    if role is None:
        return {"RoleName": role_name_of(arn)}
    details: dict[str, Any] = {
        "RoleName": role.name,
        "Path": role.path,
        "MaxSessionDuration": role.max_session_duration,
    }
    if role.create_date:
        details["CreateDate"] = role.create_date
    trust = _document_text(role.trust_policy)
    if trust:
        details["AssumeRolePolicyDocument"] = trust
    if role.managed_policy_arns:
        details["AttachedManagedPolicies"] = [
            {"PolicyArn": policy_arn, "PolicyName": policy_arn.rsplit("/", 1)[-1]}
            for policy_arn in role.managed_policy_arns
        ]
    if role.inline_policies:
        details["RolePolicyList"] = [{"PolicyName": p.name} for p in role.inline_policies]
    if role.permissions_boundary is not None and role.permissions_boundary.arn:
        details["PermissionsBoundary"] = {
            "PermissionsBoundaryArn": role.permissions_boundary.arn,
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        }
    if role.instance_profiles:
        details["InstanceProfileList"] = [{"Arn": p.arn, "InstanceProfileName": p.name} for p in role.instance_profiles]
    return details


def _document_text(raw: Any) -> str | None:
    if raw is None:
        return None
    try:
        document = decode_document(raw)
    except ValueError:
        return str(raw)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def _instance_resources(finding: Finding, role: RoleSnapshot | None, region: str, partition: str) -> list[dict]:
    """The EC2 instances running with the role's instance profiles (the evidence names them)."""
    profile_of: dict[str, str] = {}
    if role is not None:
        for profile in role.instance_profiles:
            for instance in profile.instance_ids:
                profile_of.setdefault(instance, profile.arn)
    named = [e.split("=", 1)[1] for e in finding.evidence if e.startswith("Instance=")]
    account = account_of(finding.resource)
    out = []
    for instance in dict.fromkeys(named or profile_of):
        resource: dict[str, Any] = {
            "Type": "AwsEc2Instance",
            "Id": f"arn:{partition}:ec2:{region}:{account}:instance/{instance}",
            "Partition": partition,
            "Region": region,
        }
        if instance in profile_of:
            resource["Details"] = {"AwsEc2Instance": {"IamInstanceProfileArn": profile_of[instance]}}
        out.append(resource)
    return out


# -- the 240 KB limit -----------------------------------------------------------------------------


def _role_details_of(asff: dict[str, Any]) -> dict[str, Any]:
    details = asff["Resources"][0].get("Details", {})
    return details.get("AwsIamRole", {}) if isinstance(details, dict) else {}


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    def drop(asff: dict[str, Any]) -> None:
        _role_details_of(asff).pop(key, None)

    return drop


def _drop_instances(asff: dict[str, Any]) -> None:
    asff["Resources"] = asff["Resources"][:1]


def _drop_tags(asff: dict[str, Any]) -> None:
    asff["Resources"][0].pop("Tags", None)


def _shorten_product_fields(asff: dict[str, Any]) -> None:
    fields = asff["ProductFields"]
    for key in (FIELD_ACTIONS, FIELD_FIX):
        if key in fields:
            fields[key] = clip(fields[key], 256)


# In order: what a reader misses least goes first.
_SHRINKERS: tuple[Callable[[dict[str, Any]], None], ...] = (
    _drop("RolePolicyList"),
    _drop("AttachedManagedPolicies"),
    _drop("InstanceProfileList"),
    _drop("AssumeRolePolicyDocument"),
    _drop_instances,
    _drop_tags,
    _shorten_product_fields,
)


def fit_to_limit(asff: dict[str, Any], limit: int = FINDING_BYTES_LIMIT) -> dict[str, Any]:
    """The finding within `limit` bytes, dropping details in a fixed order. Text is already clipped to
    its own limits, so once the details are gone the finding is a few kilobytes at most."""
    for shrink in _SHRINKERS:
        if size_in_bytes(asff) <= limit:
            break
        shrink(asff)
    if size_in_bytes(asff) > limit:
        raise ValueError(f"ASFF finding {asff['Id']} exceeds {limit} bytes even without its details")
    return asff


def render_asff(
    findings: Iterable[Finding],
    *,
    region: str,
    now: datetime,
    roles: Mapping[str, RoleSnapshot] | None = None,
) -> str:
    """`{"Findings": [...]}`: the body `aws securityhub batch-import-findings --cli-input-json` takes
    (in batches of 100)."""
    body = {"Findings": to_asff_findings(findings, region=region, now=now, roles=roles)}
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"
