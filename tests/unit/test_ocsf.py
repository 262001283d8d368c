"""OCSF output: every finding is a Detection Finding event that py-ocsf-models (the maintained OCSF
implementation Prowler uses) accepts, attribute for attribute, with the mapping the renderer promises."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import NOW
from py_ocsf_models.events.findings.detection_finding import DetectionFinding
from test_hostile_content import HOSTILE, role_with
from test_report import WHEN, audit_result, finding, mixed_result  # noqa: F401 (fixture)

from rolewatch.audit import audit_roles
from rolewatch.baseline import load_baseline
from rolewatch.model import AuditResult, Severity
from rolewatch.report import render
from rolewatch.report.render_ocsf import ocsf_events, render_ocsf


def validated(event: dict[str, Any]) -> dict[str, Any]:
    """The event as the library reads it back: every attribute we wrote must survive with its value
    (pydantic drops unknown attributes silently, so a misnamed or mistyped one shows up as a difference)."""
    model = DetectionFinding.model_validate(event)
    dumped = model.model_dump(mode="json", exclude_none=True)
    assert_subset(event, dumped, "event")
    return dumped


def assert_subset(ours: Any, theirs: Any, path: str) -> None:
    if isinstance(ours, dict) and path != "event.unmapped":
        assert isinstance(theirs, dict), path
        for key, value in ours.items():
            assert key in theirs, f"{path}.{key} is not an OCSF attribute of this object"
            assert_subset(value, theirs[key], f"{path}.{key}")
    elif isinstance(ours, list):
        assert isinstance(theirs, list) and len(ours) == len(theirs), path
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert_subset(a, b, f"{path}[{i}]")
    else:
        assert ours == theirs, path


def test_every_finding_is_a_valid_detection_finding(mixed_result: AuditResult) -> None:  # noqa: F811
    events = json.loads(render(mixed_result, "ocsf", generated_at=WHEN))

    assert len(events) == len(mixed_result.findings)
    for event in events:
        dumped = validated(event)
        assert dumped["class_uid"] == 2004 and dumped["category_uid"] == 2
        assert dumped["type_uid"] == 200401
        assert dumped["metadata"]["version"] == "1.5.0"
        assert dumped["time"] == int(WHEN.timestamp() * 1000)


def test_the_mapping_keeps_identity_severity_resource_and_fix(mixed_result: AuditResult) -> None:  # noqa: F811
    events = {e["finding_info"]["uid"]: e for e in ocsf_events(mixed_result, generated_at=WHEN)}
    admin = next(f for f in mixed_result.findings if f.rule == "admin-access")
    event = events[admin.fingerprint]

    assert (event["severity_id"], event["severity"]) == (5, "Critical")
    assert event["finding_info"]["analytic"]["uid"] == "admin-access"
    assert event["finding_info"]["types"] == [admin.category]
    assert event["resources"] == [
        {"uid": admin.resource, "name": "break-glass", "type": "AWS::IAM::Role", "cloud_partition": "aws"}
    ]
    assert event["cloud"]["account"]["uid"] == "111122223333"
    assert event["remediation"]["desc"] == "Detach AdministratorAccess."
    assert event["unmapped"]["rolewatch"]["cli"] == list(admin.remediation.cli)
    assert event["unmapped"]["rolewatch"]["policy"] == admin.remediation.policy
    assert (event["status_id"], event["status"]) == (1, "New")


def test_suppressed_findings_are_suppressed_events_with_their_justification(
    mixed_result: AuditResult,  # noqa: F811
) -> None:
    suppressed = [e for e in ocsf_events(mixed_result, generated_at=WHEN) if e["status_id"] == 3]

    assert len(suppressed) == sum(1 for f in mixed_result.findings if f.suppressed_by)
    assert all(e["status"] == "Suppressed" and "until" in e["status_detail"] for e in suppressed)


@pytest.mark.parametrize(("severity", "expected"), [(s, i) for s, i in zip(Severity, (5, 4, 3, 2, 1), strict=True)])
def test_severities_follow_the_ocsf_scale(severity: Severity, expected: int) -> None:
    result = audit_result(finding("admin-access", "arn:aws:iam::111122223333:role/r", severity=severity))
    (event,) = ocsf_events(result, generated_at=WHEN)
    assert event["severity_id"] == expected
    validated(event)


def test_fingerprint_is_stable_across_runs(mixed_result: AuditResult) -> None:  # noqa: F811
    first = [e["finding_info"]["uid"] for e in ocsf_events(mixed_result, generated_at=WHEN)]
    again = [e["finding_info"]["uid"] for e in ocsf_events(mixed_result, generated_at=NOW)]
    assert first == again


def test_one_event_per_line_and_an_empty_result_is_an_empty_array(mixed_result: AuditResult) -> None:  # noqa: F811
    lines = render_ocsf(mixed_result, generated_at=WHEN).splitlines()
    assert lines[0] == "[" and lines[-1] == "]"
    assert len(lines) == len(mixed_result.findings) + 2
    assert render_ocsf(AuditResult(findings=()), generated_at=WHEN) == "[]\n"


@pytest.mark.parametrize("where", ["role-name", "path", "policy-name", "tag"])
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_values_round_trip_exactly_and_print_as_text(kind: str, where: str) -> None:
    result = audit_roles([role_with(where, HOSTILE[kind])], load_baseline(), now=NOW)
    text = render_ocsf(result, generated_at=WHEN)

    assert all(line.isprintable() for line in text.split("\n"))
    events = json.loads(text)
    assert events == ocsf_events(result, generated_at=WHEN)  # exact values, escaped by JSON only
    for event in events:
        validated(event)
    if where == "role-name":
        assert any(e["resources"][0]["uid"].endswith(HOSTILE[kind]) for e in events)
