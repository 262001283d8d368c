"""`--format asff`: the findings as BatchImportFindings takes them, from `check` (offline) and `audit` (moto)."""

from __future__ import annotations

import io
import json

import boto3
import botocore.session
import pytest
from botocore.validate import ParamValidator

from rolewatch.cli import main

ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
BATCH_IMPORT = botocore.session.get_session().get_service_model("securityhub").operation_model("BatchImportFindings")


def run(*argv: str) -> tuple[int, dict]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    assert not err.getvalue(), err.getvalue()
    return code, json.loads(out.getvalue())


def assert_importable(body: dict) -> None:
    report = ParamValidator().validate({"Findings": body["Findings"][:100]}, BATCH_IMPORT.input_shape)
    assert not report.has_errors(), report.generate_report()


def write_account(tmp_path) -> str:
    account = {
        "RoleDetailList": [
            {
                "RoleName": "ops-admin",
                "Arn": "arn:aws:iam::111122223333:role/ops-admin",
                "Path": "/",
                "AssumeRolePolicyDocument": TRUST,
                "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": ADMIN}],
                "AttachedManagedPolicies": [],
            }
        ],
        "Policies": [],
        "UserDetailList": [],
        "GroupDetailList": [],
    }
    path = tmp_path / "account.json"
    path.write_text(json.dumps(account))
    return str(path)


def test_check_prints_asff_for_the_region_asked(tmp_path):
    code, body = run("check", write_account(tmp_path), "--format", "asff", "--region", "eu-central-1")
    assert code == 0
    assert_importable(body)
    admin = [f for f in body["Findings"] if f["GeneratorId"] == "admin-access"]
    assert admin and admin[0]["ProductArn"] == (
        "arn:aws:securityhub:eu-central-1:111122223333:product/111122223333/default"
    )
    assert admin[0]["Resources"][0]["Details"]["AwsIamRole"]["RoleName"] == "ops-admin"


@pytest.mark.parametrize(
    ("environment", "region"),
    [
        ({"AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "ap-south-1"}, "eu-west-3"),
        ({"AWS_DEFAULT_REGION": "ap-south-1"}, "ap-south-1"),
        ({}, "us-east-1"),
    ],
)
def test_check_without_region_takes_the_configured_one(tmp_path, monkeypatch, environment, region):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    code, body = run("check", write_account(tmp_path), "--format", "asff")
    assert code == 0
    assert {f["ProductArn"].split(":")[3] for f in body["Findings"]} == {region}


def test_audit_prints_asff_of_the_live_account(aws, tmp_path):
    iam = boto3.client("iam")
    iam.create_role(RoleName="ops-admin", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="ops-admin", PolicyName="p", PolicyDocument=json.dumps(ADMIN))
    code, body = run("audit", "--format", "asff", "--no-access-analyzer", "--region", "us-east-1")
    assert code == 0
    assert_importable(body)
    assert any(f["GeneratorId"] == "admin-access" for f in body["Findings"])
    out = io.StringIO()
    assert main(["audit", "--format", "asff", "--no-access-analyzer", "--out", str(tmp_path)], stdout=out) == 0
    written = json.loads((tmp_path / "report.asff.json").read_text())
    assert {f["Id"] for f in written["Findings"]} == {f["Id"] for f in body["Findings"]}
    assert (tmp_path / "report.json").is_file()
