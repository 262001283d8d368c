"""Terraform plans (`terraform show -json`) into role snapshots: after values, unknowns, references, lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import NEUTRAL, NOW

from rolewatch.audit import at_or_above, audit_roles
from rolewatch.iac import read_iac
from rolewatch.model import RoleSnapshot, Severity

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "iac"
PLAN = FIXTURES / "terraform" / "plan.json"
MAIN_TF = FIXTURES / "terraform" / "main.tf"
APP = "UNRESOLVED(aws_iam_role.app.name)"


@pytest.fixture(scope="module")
def read():
    return read_iac(str(PLAN), "terraform-plan")


@pytest.fixture(scope="module")
def roles(read) -> dict[str, RoleSnapshot]:
    return {r.name: r for r in read.roles}


def _line_of(text: str) -> int:
    return next(i for i, line in enumerate(MAIN_TF.read_text().splitlines(), 1) if line.startswith(text))


def test_roles_come_from_the_planned_after_values(roles):
    assert set(roles) == {APP, "ci-deployer"}
    ci = roles["ci-deployer"]
    assert ci.arn == "arn:aws:iam::000000000000:role/ci-deployer"
    assert ci.tags == (("owner", "platform"),)
    assert ci.trust_policy["Statement"][0]["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert ci.permissions_boundary is not None and ci.permissions_boundary.document is not None
    assert [p.arn for p in ci.managed_policies] == ["arn:aws:iam::aws:policy/PowerUserAccess"]


def test_a_name_known_only_after_apply_is_a_placeholder_with_the_address(roles, read):
    assert roles[APP].arn == f"arn:aws:iam::000000000000:role/{APP}"
    assert any(APP in note for note in read.notes)


def test_links_unknown_at_plan_time_follow_the_configuration_references(roles):
    app = roles[APP]
    assert sorted(p.name for p in app.inline_policies) == ["app-data", "logs"]  # inline_policy block + role_policy
    (secrets,) = app.managed_policies  # attachment whose role and policy_arn are both unknown
    assert secrets.name == "read-all-secrets"
    assert secrets.document["Statement"][0]["Action"] == "secretsmanager:GetSecretValue"
    assert [p.name for p in app.instance_profiles] == ["app"]


def test_an_unknown_policy_is_rebuilt_from_its_policy_document_data_source(roles):
    (data,) = [p for p in roles[APP].inline_policies if p.name == "app-data"]
    first, second = data.document["Statement"]
    assert first["Resource"] == ["UNRESOLVED(aws_s3_bucket.data.arn)"]  # a reference: a placeholder, never `*`
    assert second == {"Effect": "Allow", "Action": ["iam:PassRole", "ec2:RunInstances"], "Resource": ["*"]}


def test_the_risky_plan_is_flagged(read):
    serious = at_or_above(audit_roles(read.roles, NEUTRAL, now=NOW).findings, Severity.MEDIUM)
    by_role = {(f.resource.rsplit("/", 1)[-1], f.category) for f in serious}
    assert (APP, "privilege-escalation") in by_role  # PassRole + RunInstances, with the instance profile
    assert (APP, "data-exfiltration") in by_role  # every secret
    assert ("ci-deployer", "trust-policy") in by_role  # GitHub OIDC without a subject


def test_each_role_is_placed_on_its_resource_block_in_the_tf_files(read):
    where = {loc.name: loc for loc in read.locations.values()}
    assert where["aws_iam_role.app"].path == str(MAIN_TF)
    assert where["aws_iam_role.app"].line == _line_of('resource "aws_iam_role" "app"')
    assert where["aws_iam_role.ci"].line == _line_of('resource "aws_iam_role" "ci"')


def test_without_tf_files_the_line_is_the_address_in_the_plan(tmp_path):
    plan = json.loads(PLAN.read_text())
    target = tmp_path / "plan.json"
    target.write_text(json.dumps(plan, indent=2))
    read = read_iac(str(target), "terraform-plan")
    where = {loc.name: loc for loc in read.locations.values()}
    lines = target.read_text().splitlines()
    assert where["aws_iam_role.ci"].path == str(target)
    assert '"address": "aws_iam_role.ci"' in lines[where["aws_iam_role.ci"].line - 1]


def test_resources_the_plan_deletes_are_not_audited_and_planned_values_serve_without_changes(tmp_path):
    plan = json.loads(PLAN.read_text())
    for change in plan["resource_changes"]:
        if change["address"] == "aws_iam_role.ci":
            change["change"] = {"actions": ["delete"], "before": change["change"]["after"], "after": None}
    target = tmp_path / "plan.json"
    target.write_text(json.dumps(plan))
    assert "ci-deployer" not in {r.name for r in read_iac(str(target), "terraform-plan").roles}
    del plan["resource_changes"]
    target.write_text(json.dumps(plan))
    assert "ci-deployer" in {r.name for r in read_iac(str(target), "terraform-plan").roles}


def test_a_module_resource_is_read_with_its_module_address(tmp_path):
    plan = json.loads(PLAN.read_text())
    for change in plan["resource_changes"]:
        change["address"] = f"module.app.{change['address']}"
        change["module_address"] = "module.app"
    root = plan["configuration"]["root_module"]
    plan["configuration"]["root_module"] = {"module_calls": {"app": {"source": "./app", "module": root}}}
    target = tmp_path / "plan.json"
    target.write_text(json.dumps(plan))
    read = read_iac(str(target), "terraform-plan")
    app = {r.name: r for r in read.roles}["UNRESOLVED(module.app.aws_iam_role.app.name)"]
    assert sorted(p.name for p in app.inline_policies) == ["app-data", "logs"]
    assert [p.name for p in app.managed_policies] == ["read-all-secrets"]
