"""SARIF 2.1.0 renderer, for GitHub code scanning and other SARIF viewers.

One run; the tool's rules come from the rule catalogue, so a viewer shows each rule's rationale and
remediation. A finding's role is its logical location. Where the role was read from infrastructure as
code, `locations` says where it is written: the template or plan is the physical location, the region
its line, and the logical id or Terraform address the logical location, so GitHub code scanning
annotates that line of the pull request. Otherwise, when the audit read exactly one file, that file is
the physical location (an account file has no line per role, so the region is the file's start).
Suppressed findings are kept, marked with an external suppression, as SARIF intends.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

from rolewatch.model import AuditError, AuditResult, Finding, Severity, SourceLocation
from rolewatch.rule_metadata import RuleMeta, rule_catalogue
from rolewatch.untrusted import escape_hidden

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
TOOL_NAME = "rolewatch"
FINGERPRINT_KEY = "rolewatchFingerprint/v1"

# GitHub reads `security-severity` (a number written as a string) to rank alerts:
# 9.0 and above is critical, 7.0-8.9 high, 4.0-6.9 medium, below 4.0 low.
SECURITY_SEVERITY: dict[Severity, float] = {
    Severity.CRITICAL: 9.5,
    Severity.HIGH: 8.0,
    Severity.MEDIUM: 5.5,
    Severity.LOW: 3.0,
    Severity.INFO: 0.0,
}

SARIF_LEVEL: dict[Severity, str] = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}


def render_sarif(
    result: AuditResult, *, sources: Sequence[str] = (), locations: Mapping[str, SourceLocation] | None = None
) -> str:
    # Hidden characters (lone surrogates, C1 controls, bidi overrides) as \\u escapes: the same JSON value.
    text = json.dumps(build_sarif(result, sources=sources, locations=locations), indent=2, ensure_ascii=False)
    return escape_hidden(text) + "\n"


def build_sarif(
    result: AuditResult, *, sources: Sequence[str] = (), locations: Mapping[str, SourceLocation] | None = None
) -> dict[str, Any]:
    rules = _rule_descriptors(rule_catalogue(), result.findings)
    rule_index = {descriptor["id"]: index for index, descriptor in enumerate(rules)}
    # Which file a role came from is only certain when there was one file.
    source_uri = artifact_uri(sources[0]) if len(sources) == 1 else None
    run: dict[str, Any] = {
        "tool": {"driver": {"name": TOOL_NAME, "version": _tool_version(), "rules": rules}},
        "results": [_result(finding, rule_index, source_uri, locations or {}) for finding in result.findings],
        "invocations": [_invocation(result.errors, locations or {})],
        "properties": {"rolesAudited": result.roles_audited, "rolesSkipped": dict(result.roles_skipped)},
    }
    if sources:
        run["artifacts"] = [{"location": {"uri": artifact_uri(source)}} for source in sources]
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def artifact_uri(source: str) -> str:
    """A relative path stays relative (GitHub resolves it in the repository); an absolute one is a file URI."""
    path = PurePath(source)
    if path.is_absolute():
        return Path(source).as_uri()
    return quote(path.as_posix())


def _tool_version() -> str:
    try:
        return version("rolewatch")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"


def _rule_descriptors(catalogue: Mapping[str, RuleMeta], findings: Iterable[Finding]) -> list[dict[str, Any]]:
    """Every catalogued rule, plus one made from the finding for any rule id the catalogue lacks
    (findings built outside the registry, such as Access Analyzer's), so every result has its rule."""
    descriptors = {rule_id: _descriptor_from_meta(meta) for rule_id, meta in catalogue.items()}
    for finding in findings:
        if finding.rule not in descriptors:
            descriptors[finding.rule] = _descriptor_from_finding(finding)
    return [descriptors[rule_id] for rule_id in sorted(descriptors)]


def _descriptor_from_finding(finding: Finding) -> dict[str, Any]:
    meta = RuleMeta(
        id=finding.rule,
        category=finding.category,
        severity=finding.severity,
        title=finding.title,
        rationale=finding.rationale or finding.title,
        remediation=finding.remediation.summary,
    )
    return _descriptor_from_meta(meta)


def _descriptor_from_meta(meta: RuleMeta) -> dict[str, Any]:
    descriptor: dict[str, Any] = {
        "id": meta.id,
        "name": "".join(part.capitalize() for part in meta.id.split("-")),
        "shortDescription": {"text": meta.title},
        "fullDescription": {"text": meta.rationale},
        "help": {"text": meta.remediation},
        "defaultConfiguration": {"level": SARIF_LEVEL[meta.severity]},
        "properties": {
            "category": meta.category,
            "severity": meta.severity.value,
            "security-severity": f"{SECURITY_SEVERITY[meta.severity]:.1f}",
            "tags": ["security", "iam", meta.category],
        },
    }
    if meta.references:
        descriptor["helpUri"] = meta.references[0]
    return descriptor


def _result(
    finding: Finding, rule_index: Mapping[str, int], source_uri: str | None, locations: Mapping[str, SourceLocation]
) -> dict[str, Any]:
    written = locations.get(finding.resource)
    location: dict[str, Any] = {"logicalLocations": [_logical_location(finding.resource, written)]}
    if written is not None:
        location["physicalLocation"] = _physical_location(written)
    elif source_uri is not None:
        location["physicalLocation"] = {"artifactLocation": {"uri": source_uri}, "region": {"startLine": 1}}
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index[finding.rule],
        "level": SARIF_LEVEL[finding.severity],
        "message": {"text": f"{finding.title}: {finding.detail}"},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        "properties": {
            "severity": finding.severity.value,
            "security-severity": f"{SECURITY_SEVERITY[finding.severity]:.1f}",
            "category": finding.category,
            "actions": list(finding.actions),
            "evidence": list(finding.evidence),
            "remediation": finding.remediation.to_dict(),
        },
    }
    if finding.suppressed_by is not None:
        result["suppressions"] = [{"kind": "external", "justification": finding.suppressed_by}]
    return result


def _logical_location(resource: str, written: SourceLocation | None = None) -> dict[str, str]:
    if written is not None and written.name:  # the logical id or Terraform address the author wrote
        return {"name": written.name, "fullyQualifiedName": resource, "kind": "resource"}
    name = resource.rsplit("/", 1)[-1] if "/" in resource else resource
    return {"name": name, "fullyQualifiedName": resource, "kind": "resource"}


def _physical_location(written: SourceLocation) -> dict[str, Any]:
    return {"artifactLocation": {"uri": artifact_uri(written.path)}, "region": {"startLine": max(written.line, 1)}}


def _invocation(errors: Sequence[AuditError], locations: Mapping[str, SourceLocation]) -> dict[str, Any]:
    """Input errors are tool notifications: the run still finished, but it did not read everything."""
    return {
        "executionSuccessful": not errors,
        "toolExecutionNotifications": [_notification(error, locations) for error in errors],
    }


def _notification(error: AuditError, locations: Mapping[str, SourceLocation]) -> dict[str, Any]:
    notification: dict[str, Any] = {
        "level": "error",
        "message": {"text": f"{error.location}: {error.message}" if error.location else error.message},
    }
    written = locations.get(error.resource)
    if error.resource:
        location: dict[str, Any] = {"logicalLocations": [_logical_location(error.resource, written)]}
        if written is not None:
            location["physicalLocation"] = _physical_location(written)
        notification["locations"] = [location]
    return notification
