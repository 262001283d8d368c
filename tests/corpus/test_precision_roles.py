"""Precision: least-privilege roles built as AWS's guides advise raise nothing at medium or above.

The roles live in precision_roles.json, each with a `why` citing the AWS guidance it follows; the
AWS-managed documents they attach are embedded there with their source. The test asserts the medium+
set is empty with the shipped baseline, and the verdicts issue 8 names; it records no other output.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import SHARED_DATA

from rolewatch.audit import audit_roles
from rolewatch.baseline import load_baseline
from rolewatch.model import AttachedPolicy, Finding, InstanceProfileRef, RoleSnapshot, Severity

# A corpus through the whole engine with the default baseline.
pytestmark = pytest.mark.slow

CORPUS = json.loads((Path(__file__).parent / "precision_roles.json").read_text())
NOW = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)
TAGS = (("project", "example"), ("environment", "prod"), ("owner", "platform-team"))


def snapshot(entry: dict[str, Any]) -> RoleSnapshot:
    account, name, path = CORPUS["account"], entry["name"], entry.get("path", "/")
    managed = CORPUS["managed_policies"]
    boundary = entry.get("boundary")
    return RoleSnapshot(
        arn=f"arn:aws:iam::{account}:role{path}{name}",
        name=name,
        path=path,
        trust_policy=entry["trust"],
        inline_policies=tuple(AttachedPolicy(name=k, document=v) for k, v in entry["inline"].items()),
        managed_policies=tuple(
            AttachedPolicy(name=managed[arn]["name"], document=managed[arn]["document"], arn=arn)
            for arn in entry["managed"]
        ),
        permissions_boundary=AttachedPolicy(
            name=boundary["arn"].rsplit("/", 1)[1], document=boundary["document"], arn=boundary["arn"]
        )
        if boundary
        else None,
        tags=TAGS,
        instance_profiles=(
            InstanceProfileRef(name=name, arn=f"arn:aws:iam::{account}:instance-profile/{name}", instance_ids=()),
        )
        if entry.get("instance_profile")
        else (),
        last_used="2026-12-01T08:00:00Z",
        create_date="2025-06-01T08:00:00Z",
    )


def audit(entries: list[dict[str, Any]]) -> dict[str, list[Finding]]:
    roles = [snapshot(e) for e in entries]
    result = audit_roles(roles, load_baseline(), now=NOW)
    assert not result.errors, result.errors
    by_role: dict[str, list[Finding]] = {r.name: [] for r in roles}
    for finding in result.findings:
        by_role[finding.resource.rsplit("/", 1)[1]].append(finding)
    return by_role


@pytest.fixture(scope="module")
def corpus_findings() -> dict[str, list[Finding]]:
    return audit(CORPUS["roles"])


def _describe(findings: list[Finding]) -> list[str]:
    return [f"{f.severity.value} {f.rule}: {f.detail}" for f in findings]


def test_the_corpus_is_large_and_every_role_cites_its_guidance():
    roles = CORPUS["roles"]
    assert len(roles) >= 40
    assert len({r["name"] for r in roles}) == len(roles)
    assert all("https://" in r["why"] for r in roles)
    attached = {arn for r in roles + CORPUS["verdicts"] for arn in r["managed"]}
    assert attached <= set(CORPUS["managed_policies"])


def _known_false_positives_fail(entries: list[dict[str, Any]]) -> list[Any]:
    """A role whose verdict waits on work outside these rules carries `known_false_positive` (what is
    wrong, and where it is fixed): it is expected to fail, strictly, so the fix shows up as a failure
    that removes the mark."""
    return [
        pytest.param(e, id=e["name"], marks=pytest.mark.xfail(strict=True, reason=e["known_false_positive"]))
        if "known_false_positive" in e
        else pytest.param(e, id=e["name"])
        for e in entries
    ]


@pytest.mark.parametrize("entry", _known_false_positives_fail(CORPUS["roles"]))
def test_nothing_at_medium_or_above(entry, corpus_findings):
    loud = [f for f in corpus_findings[entry["name"]] if f.severity.at_least(Severity.MEDIUM)]
    assert loud == [], _describe(loud)


def _check_expectations(entry: dict[str, Any], findings: list[Finding]) -> None:
    expect = entry.get("expect", {})
    if "max_severity" in expect:
        ceiling = Severity.parse(expect["max_severity"])
        above = [f for f in findings if f.severity.rank > ceiling.rank]
        assert above == [], _describe(above)
    for rule_id, severity in expect.get("rules", {}).items():
        got = {f.severity.value for f in findings if f.rule == rule_id or f.category == rule_id}
        assert got == {severity}, (rule_id, got, _describe(findings))
    for rule_id in expect.get("absent", []):
        assert not [f for f in findings if f.rule == rule_id or f.category == rule_id], _describe(findings)


@pytest.mark.parametrize("entry", [e for e in CORPUS["roles"] if "expect" in e], ids=lambda e: e["name"])
def test_seed_guide_roles_get_their_verdicts(entry, corpus_findings):
    _check_expectations(entry, corpus_findings[entry["name"]])


@pytest.mark.parametrize("entry", CORPUS["verdicts"], ids=lambda e: e["name"])
def test_verdicts_the_issue_names(entry):
    _check_expectations(entry, audit([entry])[entry["name"]])


def test_embedded_managed_policies_match_the_snapshot():
    """The embedded documents are AWS's text: the same as the shared snapshot of AWS-managed policies."""
    path = SHARED_DATA / "aws-managed-policies.json"
    if not path.is_file():
        pytest.skip(f"shared test data not present at {path}")
    snapshot_by_arn = {v["arn"]: v["document"] for v in json.loads(path.read_text()).values()}
    for arn, embedded in CORPUS["managed_policies"].items():
        assert embedded["document"] == snapshot_by_arn[arn], arn
