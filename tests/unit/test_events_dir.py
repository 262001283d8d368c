"""Every sample event in events/ is usable: it parses, names something to audit, and every watched call
has one (so `sam local invoke -e events/<file>.json` works for each trigger)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from rolewatch.event.triggers import (
    CLOUDTRAIL_DETAIL_TYPE,
    DIRECT_INVOCATION,
    EC2_ROUTES,
    IAM_ROUTES,
    WATCHED_CALLS,
    AuditRequest,
    parse_event,
)

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
ALL_FILES = sorted(EVENTS_DIR.glob("*.json"))
ACCOUNT_AUDIT_FILES = {"weekly-audit.json"}  # AccountAuditFunction's input
ORG_AUDIT_FILES = {p.name for p in ALL_FILES if p.name.startswith("org-audit-")}  # OrgAuditFunction's steps
# Every other file is EventAuditFunction's.
EVENT_FILES = [p for p in ALL_FILES if p.name not in ACCOUNT_AUDIT_FILES | ORG_AUDIT_FILES]
ACCESS_ANALYZER_FILES = [p for p in EVENT_FILES if p.name.startswith("access-analyzer-")]
SAMPLE_ACCOUNT = "123456789012"


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def expected_file_name(event_name: str) -> str:
    """CreateRole -> iam-create-role.json; RunInstances -> ec2-run-instances.json."""
    service = "ec2" if event_name in EC2_ROUTES else "iam"
    return f"{service}-{re.sub(r'(?<!^)(?=[A-Z])', '-', event_name).lower()}.json"


def test_the_events_directory_has_files() -> None:
    # one per watched call, direct-invoke.json, and Access Analyzer's two event kinds
    assert len(EVENT_FILES) == len(WATCHED_CALLS) + 1 + 2
    assert {p.name for p in ACCESS_ANALYZER_FILES} == {
        "access-analyzer-external-access.json",
        "access-analyzer-unused-access.json",
    }
    assert {p.name for p in ALL_FILES} >= ACCOUNT_AUDIT_FILES


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: p.name)
def test_every_event_file_parses_into_targets(path: Path) -> None:
    request = parse_event(load(path))
    assert isinstance(request, AuditRequest), getattr(request, "reason", request)
    assert request.targets
    assert request.event_id


@pytest.mark.parametrize("name", sorted(WATCHED_CALLS))
def test_every_watched_call_has_an_event_file(name: str) -> None:
    path = EVENTS_DIR / expected_file_name(name)
    assert path.is_file(), f"no sample event for {name}: expected {path.name}"
    request = parse_event(load(path))
    assert isinstance(request, AuditRequest) and request.event_name == name


def test_the_direct_invocation_sample_exists() -> None:
    request = parse_event(load(EVENTS_DIR / "direct-invoke.json"))
    assert isinstance(request, AuditRequest) and request.event_source == DIRECT_INVOCATION
    assert request.role_names and request.instance_ids


@pytest.mark.parametrize("name", sorted(WATCHED_CALLS))
def test_cloudtrail_samples_are_eventbridge_events_of_the_sample_account(name: str) -> None:
    event = load(EVENTS_DIR / expected_file_name(name))
    detail = event["detail"]
    assert event["detail-type"] == CLOUDTRAIL_DETAIL_TYPE and event["version"] == "0"
    assert event["source"] == "aws." + detail["eventSource"].split(".")[0]
    assert detail["eventSource"] == ("iam.amazonaws.com" if name in IAM_ROUTES else "ec2.amazonaws.com")
    # IAM events reach EventBridge only in us-east-1, where the stack is deployed.
    assert event["account"] == detail["recipientAccountId"] == SAMPLE_ACCOUNT
    assert event["region"] == detail["awsRegion"] == "us-east-1"
    assert "errorCode" not in detail


def test_the_readme_records_the_provenance_of_every_file() -> None:
    readme = (EVENTS_DIR / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in ALL_FILES if f"`{p.name}`" not in readme]
    assert not missing, f"events/README.md does not say where these come from: {missing}"
