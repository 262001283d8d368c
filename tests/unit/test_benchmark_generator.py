"""The benchmark's account generator writes a GetAccountAuthorizationDetails document rolewatch reads.

Small accounts only: the point is the shape of the output, not its size.
"""

from __future__ import annotations

import importlib.util
import json
import urllib.parse
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from helpers import NOW

from rolewatch.audit import audit_roles
from rolewatch.inventory.authz_file import read_account_json
from rolewatch.model import PolicyError
from rolewatch.policy.document import parse_policy

# Generates and audits a benchmark account.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SHARED_MANAGED_POLICIES = ROOT / "../shared/data/aws-managed-policies.json"
ROLES = 60


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_account", ROOT / "benchmarks" / "generate_account.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generator = _load_generator()


@pytest.fixture(scope="module")
def account() -> dict[str, Any]:
    """Generated from the embedded AWS policies, so the test runs without ../shared/data."""
    return generator.generate_account(ROLES, seed=7, aws_managed=dict(generator.FALLBACK_AWS_MANAGED))


def _documents(account: dict[str, Any]) -> list[tuple[str, Any]]:
    found = []
    for i, role in enumerate(account["RoleDetailList"]):
        found.append((f"role[{i}].trust", role["AssumeRolePolicyDocument"]))
        found.extend((f"role[{i}].inline", p["PolicyDocument"]) for p in role["RolePolicyList"])
    for policy in account["Policies"]:
        found.extend((policy["Arn"], v["Document"]) for v in policy["PolicyVersionList"])
    return found


def test_the_document_has_the_four_lists_of_the_real_response(account: dict[str, Any]) -> None:
    assert set(account) == {"UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"}
    assert len(account["RoleDetailList"]) == ROLES
    assert len({r["RoleName"] for r in account["RoleDetailList"]}) == ROLES
    assert len({r["RoleId"] for r in account["RoleDetailList"]}) == ROLES


def test_every_policy_has_exactly_one_default_version_named_by_default_version_id(account: dict[str, Any]) -> None:
    for policy in account["Policies"]:
        defaults = [v for v in policy["PolicyVersionList"] if v["IsDefaultVersion"]]
        assert len(defaults) == 1, policy["Arn"]
        assert defaults[0]["VersionId"] == policy["DefaultVersionId"]


def test_every_attached_policy_is_listed_with_its_attachment_count(account: dict[str, Any]) -> None:
    attached: dict[str, int] = {}
    principals = [*account["RoleDetailList"], *account["GroupDetailList"], *account["UserDetailList"]]
    for principal in principals:
        for attachment in principal["AttachedManagedPolicies"]:
            attached[attachment["PolicyArn"]] = attached.get(attachment["PolicyArn"], 0) + 1
    counts = {p["Arn"]: p["AttachmentCount"] for p in account["Policies"]}
    assert attached
    assert {arn: counts.get(arn) for arn in attached} == attached


def test_documents_come_both_as_objects_and_url_encoded_strings_and_all_parse(account: dict[str, Any]) -> None:
    documents = _documents(account)
    encoded = [d for _, d in documents if isinstance(d, str)]
    assert encoded and len(encoded) < len(documents)
    assert all(json.loads(urllib.parse.unquote(d))["Statement"] for d in encoded)
    for location, document in documents:
        try:
            parse_policy(document, location, "trust" if location.endswith(".trust") else "any")
        except PolicyError as exc:  # pragma: no cover - the message is the useful part of a failure
            pytest.fail(f"{location}: {exc}")


def test_the_mix_has_the_kinds_of_role_a_real_account_has(account: dict[str, Any]) -> None:
    roles = account["RoleDetailList"]
    assert any(r["Path"].startswith("/aws-service-role/") for r in roles)
    assert any(r["InstanceProfileList"] for r in roles)
    assert any(r["Tags"] for r in roles)
    assert any(r["RolePolicyList"] for r in roles)
    assert any(not r["RolePolicyList"] for r in roles)
    customer = [p for p in account["Policies"] if ":iam::aws:policy/" not in p["Arn"]]
    assert len(customer) == generator.customer_policy_count(ROLES) + generator.BOUNDARY_POLICY_COUNT
    assert any(len(p["PolicyVersionList"]) > 1 for p in customer)


def test_the_same_seed_gives_the_same_account_and_another_seed_another() -> None:
    policies = dict(generator.FALLBACK_AWS_MANAGED)
    first = generator.generate_account(20, seed=3, aws_managed=policies)
    assert generator.generate_account(20, seed=3, aws_managed=policies) == first
    assert generator.generate_account(20, seed=4, aws_managed=policies) != first


def test_rolewatch_reads_and_audits_every_role_without_input_errors(account: dict[str, Any]) -> None:
    read = read_account_json(account, "generated.json")
    assert len(read.roles) == ROLES
    assert read.errors == []
    assert read.notes == []  # every attached managed policy is in the Policies list
    result = audit_roles(read.roles, now=NOW)
    assert result.errors == ()
    service_linked = sum(r["Path"].startswith("/aws-service-role/") for r in account["RoleDetailList"])
    assert result.roles_audited + sum(result.roles_skipped.values()) == ROLES
    assert result.roles_audited >= ROLES - service_linked
    assert result.findings  # the mix includes risky grants on purpose


def test_the_command_line_writes_a_file_rolewatch_reads(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "account.json"
    assert generator.main(["--roles", "12", "--out", str(out), "--seed", "2", "--encoded-share", "1"]) == 0
    value = json.loads(out.read_text(encoding="utf-8"))
    assert all(isinstance(d, str) for _, d in _documents(value))
    assert len(read_account_json(value, str(out)).roles) == 12


def test_real_aws_managed_documents_are_used_when_the_shared_data_is_present() -> None:
    if not SHARED_MANAGED_POLICIES.is_file():
        pytest.skip("../shared/data/aws-managed-policies.json is absent (a fresh clone)")
    policies = generator.load_aws_managed_policies(SHARED_MANAGED_POLICIES)
    assert len(policies) > len(generator.FALLBACK_AWS_MANAGED)
    account = generator.generate_account(200, seed=1, aws_managed=policies, encoded_share=0.0)
    aws_listed = {p["PolicyName"]: p for p in account["Policies"] if ":iam::aws:policy/" in p["Arn"]}
    assert len(aws_listed) > len(generator.FALLBACK_AWS_MANAGED)
    for name, entry in aws_listed.items():
        assert entry["Arn"] == policies[name]["arn"]
        assert entry["PolicyVersionList"][0]["Document"] == policies[name]["document"]


def test_the_fallback_is_used_when_the_data_file_is_missing(tmp_path: Path) -> None:
    assert generator.load_aws_managed_policies(tmp_path / "absent.json") == generator.FALLBACK_AWS_MANAGED
