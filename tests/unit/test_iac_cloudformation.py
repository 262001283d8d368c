"""CloudFormation and SAM templates into role snapshots: SAM's translator, intrinsics, attachments, lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import NEUTRAL, NOW

from rolewatch.audit import at_or_above, audit_roles
from rolewatch.iac import iac_kind, read_iac
from rolewatch.iac.intrinsics import NO_VALUE, Resolver, TemplateProblem
from rolewatch.iac.placeholders import ACCOUNT, PLACEHOLDER_PREFIX
from rolewatch.model import RoleSnapshot, Severity

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "iac"
SAM = FIXTURES / "sam-functions.yaml"
CFN = FIXTURES / "cfn-docs-root-role.yaml"


def _roles(path: Path) -> dict[str, RoleSnapshot]:
    return {r.name: r for r in read_iac(str(path), "cloudformation").roles}


def _statements(role: RoleSnapshot) -> list[dict]:
    return [s for p in role.permission_policies for s in p.document["Statement"]]


def _serious_rules(roles: list[RoleSnapshot], name: str) -> set[str]:
    findings = at_or_above(audit_roles(roles, NEUTRAL, now=NOW).findings, Severity.MEDIUM)
    return {f.rule for f in findings if f.resource.endswith(f"/{name}")}


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line.strip() == text)


@pytest.fixture(scope="module")
def sam_roles() -> dict[str, RoleSnapshot]:
    return _roles(SAM)


def test_sam_policy_templates_become_the_iam_the_transform_writes(sam_roles):
    assert set(sam_roles) == {"ReaderFunctionRole", "ProcessorFunctionRole", "AdminFunctionRole"}
    processor = _statements(sam_roles["ProcessorFunctionRole"])
    # S3CrudPolicy expands to statements on the template's own bucket, named after its logical id.
    crud = [s for s in processor if "s3:DeleteObject" in s["Action"]]
    assert crud and all("uploadbucket" in json.dumps(s["Resource"]) for s in crud)
    assert "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole" in (
        sam_roles["ProcessorFunctionRole"].managed_policy_arns
    )
    trust = sam_roles["ReaderFunctionRole"].trust_policy["Statement"][0]
    assert trust["Principal"] == {"Service": ["lambda.amazonaws.com"]}


def test_aws_managed_policies_are_audited_with_their_real_documents(sam_roles):
    admin = sam_roles["AdminFunctionRole"]
    (document,) = [p.document for p in admin.managed_policies if p.arn.endswith("/AdministratorAccess")]
    assert document["Statement"][0]["Action"] == "*"
    assert "admin-access" in _serious_rules(list(sam_roles.values()), "AdminFunctionRole")


def test_risky_and_scoped_functions_are_told_apart(sam_roles):
    roles = list(sam_roles.values())
    assert "privilege-escalation" in _serious_rules(roles, "ProcessorFunctionRole")
    assert _serious_rules(roles, "ReaderFunctionRole") == set()


def test_a_parameter_without_default_is_a_placeholder_next_to_the_real_text(sam_roles):
    (put,) = [s for s in _statements(sam_roles["ProcessorFunctionRole"]) if s["Action"] == ["s3:PutObject"]]
    assert put["Resource"] == "UNRESOLVED(Ref.ArchiveBucketArn)/dev/*"  # Stage took its default


def _template(resources: dict, **top) -> str:
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09", **top, "Resources": resources}, indent=2)


def _role(*statements: dict, **props) -> dict:
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    }
    policy = {"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)}}
    return {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust, "Policies": [policy], **props}}


def _read(tmp_path: Path, text: str, name: str = "t.json"):
    path = tmp_path / name
    path.write_text(text)
    return read_iac(str(path), "cloudformation")


def test_a_placeholder_never_widens_a_scoped_resource_into_a_wildcard(tmp_path):
    read = _read(
        tmp_path,
        _template(
            {"Reader": _role({"Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Ref": "BucketArn"}})},
            Parameters={"BucketArn": {"Type": "String"}},
        ),
    )
    (role,) = read.roles
    assert _statements(role)[0]["Resource"].startswith(PLACEHOLDER_PREFIX)
    assert "data-exfiltration" not in _serious_rules(read.roles, "Reader")
    assert any("UNRESOLVED(Ref.BucketArn)" in note for note in read.notes)


def test_a_placeholder_does_not_hide_a_real_wildcard(tmp_path):
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": ["*", {"Ref": "BucketArn"}]}
    read = _read(tmp_path, _template({"Reader": _role(statement)}, Parameters={"BucketArn": {"Type": "String"}}))
    assert "data-exfiltration" in _serious_rules(read.roles, "Reader")


def test_role_policy_managed_policy_boundary_and_instance_profile_are_attached():
    roles = _roles(CFN)
    build = roles["BuildRole"]
    assert [p.name for p in build.inline_policies] == ["build"]
    assert build.managed_policy_arns == (f"arn:aws:iam::{ACCOUNT}:policy/DeployPolicy",)
    (deploy,) = build.managed_policies
    assert deploy.document["Statement"][0]["Resource"] == f"arn:aws:logs:region:{ACCOUNT}:log-group:BuildLogs:*"
    assert build.permissions_boundary is not None
    assert build.permissions_boundary.arn == f"arn:aws:iam::{ACCOUNT}:policy/BuildBoundary"
    assert build.permissions_boundary.document["Statement"][0]["Action"] == ["s3:*", "logs:*"]
    # iam:CreatePolicyVersion on * would escalate, but the boundary allows only s3 and logs.
    assert "privilege-escalation" not in _serious_rules(list(roles.values()), "BuildRole")
    root = roles["RootRole"]
    assert [p.name for p in root.instance_profiles] == ["RootInstanceProfile"]
    assert root.instance_profiles[0].arn == f"arn:aws:iam::{ACCOUNT}:instance-profile/RootInstanceProfile"
    partner = roles["partner-reader"]
    assert partner.max_session_duration == 43200
    assert partner.tags == (("owner", "partner-team"),)
    assert partner.managed_policies[0].document is not None  # ReadOnlyAccess from the snapshot
    assert "trust-cross-account-without-external-id" in _serious_rules(list(roles.values()), "partner-reader")


def test_each_role_keeps_its_file_logical_id_and_line():
    read = read_iac(str(CFN), "cloudformation")
    where = {loc.name: loc for loc in read.locations.values()}
    assert where["RootRole"].line == _line_of(CFN, "RootRole:")
    assert where["BuildRole"].line == _line_of(CFN, "BuildRole:")
    assert where["BuildRole"].path == str(CFN)
    sam = read_iac(str(SAM), "cloudformation")
    # A role the SAM transform writes is placed on the function it was written for.
    by_name = {loc.name: loc for loc in sam.locations.values()}
    assert by_name["ProcessorFunctionRole"].line == _line_of(SAM, "ProcessorFunction:")


def test_json_templates_have_lines_too(tmp_path):
    read = _read(tmp_path, _template({"A": _role({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"})}))
    (location,) = read.locations.values()
    assert location.line == next(i for i, text in enumerate(_template({"A": {}}).splitlines(), 1) if '"A"' in text)


def test_a_condition_false_with_the_defaults_leaves_the_role_out(tmp_path):
    read = _read(
        tmp_path,
        _template(
            {"Maybe": {**_role({"Effect": "Allow", "Action": "*", "Resource": "*"}), "Condition": "Enabled"}},
            Parameters={"Enable": {"Type": "String", "Default": "no"}},
            Conditions={"Enabled": {"Fn::Equals": [{"Ref": "Enable"}, "yes"]}},
        ),
    )
    assert read.roles == []
    assert any("Maybe not audited" in note for note in read.notes)


def test_input_kind_is_told_by_extension_then_content():
    assert iac_kind("template.yaml") == "cloudformation"
    assert iac_kind("t.json", {"Resources": {}}) == "cloudformation"
    assert iac_kind("plan.json", {"format_version": "1.2", "terraform_version": "1.9.8"}) == "terraform-plan"
    assert iac_kind("authz.json", {"RoleDetailList": []}) is None
    assert iac_kind("policy.json", {"Statement": []}) is None


# -- the resolver on its own ------------------------------------------------------------------------
TEMPLATE = {
    "Parameters": {
        "Env": {"Type": "String", "Default": "prod"},
        "Subnets": {"Type": "CommaDelimitedList", "Default": "a,b"},
        "Open": {"Type": "String"},
    },
    "Mappings": {"Sizes": {"prod": {"Max": "big"}}},
    "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}},
    "Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Fn::Sub": "data-${Env}"}}},
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"Path": "/app/"}},
        "Thing": {"Type": "AWS::Custom::Widget"},
    },
}


@pytest.mark.parametrize(
    "node, expected",
    [
        ({"Ref": "Bucket"}, "data-prod"),
        ({"Fn::GetAtt": ["Bucket", "Arn"]}, "arn:aws:s3:::data-prod"),
        ({"Fn::GetAtt": "Queue.Arn"}, f"arn:aws:sqs:region:{ACCOUNT}:Queue"),
        ({"Fn::GetAtt": ["Role", "Arn"]}, f"arn:aws:iam::{ACCOUNT}:role/app/Role"),
        ({"Fn::Sub": "${Bucket.Arn}/${!Literal}/${AWS::AccountId}"}, f"arn:aws:s3:::data-prod/${{Literal}}/{ACCOUNT}"),
        ({"Fn::Sub": ["${X}-y", {"X": {"Ref": "Env"}}]}, "prod-y"),
        ({"Fn::Join": ["-", {"Ref": "Subnets"}]}, "a-b"),
        ({"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]}, "y"),
        ({"Fn::If": ["IsProd", "yes", "no"]}, "yes"),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Max"]}, "big"),
        ({"Fn::GetAtt": ["Thing", "WidgetArn"]}, f"arn:aws:custom:region:{ACCOUNT}:widget/Thing"),
        (["a", {"Ref": "AWS::NoValue"}, "b"], ["a", "b"]),
    ],
)
def test_intrinsics_resolve_as_far_as_the_template_allows(node, expected):
    assert Resolver(TEMPLATE).value(node, "x") == expected


@pytest.mark.parametrize(
    "node, placeholder",
    [
        ({"Ref": "Open"}, "UNRESOLVED(Ref.Open)"),
        ({"Fn::ImportValue": "shared-bucket"}, "UNRESOLVED(ImportValue.shared-bucket)"),
        ({"Fn::GetAtt": ["Queue", "SomethingLater"]}, "UNRESOLVED(GetAtt.Queue.SomethingLater)"),
        ("{{resolve:ssm:/app/arn}}", "UNRESOLVED(resolve.ssm__app_arn)"),
    ],
)
def test_what_only_deployment_knows_is_a_recorded_placeholder(node, placeholder):
    resolver = Resolver(TEMPLATE)
    assert resolver.value(node, "x") == placeholder
    assert "*" not in placeholder and "?" not in placeholder
    assert [u.placeholder for u in resolver.unresolved] == [placeholder]


@pytest.mark.parametrize(
    "node, message",
    [
        ({"Fn::Frobnicate": ["a"]}, "unknown intrinsic function Fn::Frobnicate"),
        ({"Ref": "Nowhere"}, "neither a parameter nor a resource"),
        ({"Fn::GetAtt": ["Nowhere", "Arn"]}, "not a resource of the template"),
        ({"Fn::If": ["NoSuchCondition", 1, 2]}, "not defined in Conditions"),
    ],
)
def test_what_the_template_gets_wrong_is_a_problem_with_its_path(node, message):
    with pytest.raises(TemplateProblem) as raised:
        Resolver(TEMPLATE).value({"Key": node}, "Resources.R.Properties")
    assert message in raised.value.message
    assert raised.value.where.startswith("Resources.R.Properties.Key")


def test_no_value_drops_a_property():
    assert Resolver(TEMPLATE).value({"A": 1, "B": {"Ref": "AWS::NoValue"}}, "x") == {"A": 1}
    assert NO_VALUE is not None


@pytest.mark.parametrize(("mode", "name"), [("account", "Fn"), ("organization", "stack-Fn")])
def test_a_role_name_that_is_no_value_under_a_condition_falls_back_to_the_logical_id(tmp_path, mode, name):
    """`RoleName: !If [Named, <name>, !Ref AWS::NoValue]`: the property is absent, not a wrong type."""
    read = read_iac(
        str(tmp_path / "t.json"),
        "cloudformation",
        text=_template(
            {"Fn": _role(RoleName={"Fn::If": ["Named", "stack-Fn", {"Ref": "AWS::NoValue"}]})},
            Parameters={"Mode": {"Type": "String", "Default": mode}},
            Conditions={"Named": {"Fn::Equals": [{"Ref": "Mode"}, "organization"]}},
        ),
    )
    assert read.errors == []
    assert [r.name for r in read.roles] == [name]


@pytest.mark.parametrize(("mode", "policies"), [("on", ["always", "admin-if-on"]), ("off", ["always"])])
def test_an_inline_policy_under_a_condition_is_audited_when_the_condition_holds(tmp_path, mode, policies):
    """`Policies: [..., !If [Cond, {PolicyName, PolicyDocument}, !Ref AWS::NoValue]]` (what `make permissions`
    writes for optional grants): the chosen policy is read, never skipped for being an intrinsic."""
    role = _role({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})
    role["Properties"]["Policies"][0]["PolicyName"] = "always"
    admin = {
        "PolicyName": "admin-if-on",
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    }
    role["Properties"]["Policies"].append({"Fn::If": ["On", admin, {"Ref": "AWS::NoValue"}]})
    read = read_iac(
        str(tmp_path / "t.json"),
        "cloudformation",
        text=_template(
            {"Fn": role},
            Parameters={"Mode": {"Type": "String", "Default": mode}},
            Conditions={"On": {"Fn::Equals": [{"Ref": "Mode"}, "on"]}},
        ),
    )
    assert read.errors == []
    [snapshot] = read.roles
    assert [p.name for p in snapshot.inline_policies] == policies
    assert ("admin-access" in _serious_rules(read.roles, "Fn")) is (mode == "on")
