"""The weekly audit stores its findings as OCSF beside report.json, and `rolewatch audit --format ocsf`
prints them; both validated with py-ocsf-models (the maintained OCSF library)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from py_ocsf_models.events.findings.detection_finding import DetectionFinding
from test_account_audit import ACCOUNT, WEEK1, Account, account, run_cli, weekly  # noqa: F401 (fixture)

from rolewatch.weekly.store import index_key, ocsf_key, report_keys

pytestmark = pytest.mark.slow


def test_the_weekly_audit_stores_ocsf_events_beside_report_json(account: Account) -> None:  # noqa: F811
    outcome = weekly(account, WEEK1)

    json_key, _ = report_keys(ACCOUNT, "2026-11-23")
    key = ocsf_key(ACCOUNT, "2026-11-23")
    assert outcome.stored.ocsf_key == key and key.rsplit("/", 1)[0] == json_key.rsplit("/", 1)[0]
    assert outcome.to_dict()["report"]["ocsf"] == key
    head = account.clients.s3.head_object(Bucket="rolewatch-reports-test", Key=key)
    assert head["ServerSideEncryption"] == "aws:kms" and head["ContentType"] == "application/json"
    events = account.json(key)
    report = account.json(json_key)
    assert [e["finding_info"]["uid"] for e in events] == [f["fingerprint"] for f in report["findings"]]
    for event in events:
        DetectionFinding.model_validate(event)
    assert account.json(index_key(ACCOUNT))["runs"][0]["ocsf"] == key


def test_rolewatch_audit_prints_and_writes_ocsf(account: Account, tmp_path: Path) -> None:  # noqa: F811
    code, out, err = run_cli("audit", "--format", "ocsf", "--region", "us-east-1")
    assert code == 0 and err == ""
    events = json.loads(out)
    assert {e["resources"][0]["name"] for e in events} >= {"ops-admin", "stale-batch"}
    for event in events:
        DetectionFinding.model_validate(event)

    code, out, _ = run_cli("audit", "--format", "ocsf", "--out", str(tmp_path))
    assert code == 0 and "report.ocsf.json" in out
    written = json.loads((tmp_path / "report.ocsf.json").read_text())
    assert [e["finding_info"]["uid"] for e in written] == [e["finding_info"]["uid"] for e in events]
    assert (tmp_path / "report.json").is_file()
