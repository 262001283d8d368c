"""benchmarks/bench_event_audit.py measures what it says: the right events, fresh ids, every AWS call counted."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_event_audit", ROOT / "benchmarks" / "bench_event_audit.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def test_event_files_are_those_of_the_event_function(bench: ModuleType) -> None:
    names = {p.name for p in bench.event_function_files()}
    assert "iam-attach-role-policy.json" in names
    assert "direct-invoke.json" in names
    assert "weekly-audit.json" not in names  # the account function's schedule
    for path in bench.event_function_files():
        event = json.loads(path.read_text(encoding="utf-8"))
        assert event.get("detail-type") != "Scheduled Event" and "mode" not in event


def test_adapt_puts_the_seeded_ids_in_place_of_the_made_up_ones(bench: ModuleType) -> None:
    event = json.loads((ROOT / "events" / "ec2-replace-iam-instance-profile-association.json").read_text())
    adapted = json.dumps(bench.adapt(event, "i-real", "iip-assoc-real"))
    assert bench.TEMPLATE_INSTANCE_ID not in adapted
    assert not any(template_id in adapted for template_id in bench.TEMPLATE_ASSOCIATION_IDS)
    assert "i-real" in adapted and "iip-assoc-real" in adapted


def test_fresh_makes_a_new_delivery_that_idempotency_does_not_merge(bench: ModuleType) -> None:
    from rolewatch.event.triggers import parse_event

    cloudtrail = json.loads((ROOT / "events" / "iam-attach-role-policy.json").read_text())
    again = bench.fresh(cloudtrail)
    assert again["id"] != cloudtrail["id"]
    assert again["detail"]["eventID"] != cloudtrail["detail"]["eventID"]
    assert again["detail"]["requestParameters"] == cloudtrail["detail"]["requestParameters"]

    finding = json.loads((ROOT / "events" / "access-analyzer-external-access.json").read_text())
    keys = {parse_event(bench.fresh(finding)).event_id for _ in range(3)}
    assert len(keys) == 3  # Access Analyzer events are keyed per role and hour: each copy gets its own hour


def test_counter_counts_every_call_of_clients_made_after_install(bench: ModuleType) -> None:
    import boto3
    from moto import mock_aws

    counter = bench.ApiCalls()
    counter.install()
    try:
        with mock_aws(), counter.counting() as calls:
            iam = boto3.client("iam", region_name="us-east-1")
            iam.list_roles()
            iam.list_policies()
            boto3.client("sts", region_name="us-east-1").get_caller_identity()
    finally:
        counter.uninstall()
    assert calls == {"iam:ListRoles": 1, "iam:ListPolicies": 1, "sts:GetCallerIdentity": 1}
    assert bench.by_service(calls) == {"iam": 2, "sts": 1}
