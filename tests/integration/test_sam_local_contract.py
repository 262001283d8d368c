"""The `sam local invoke <Function> -e events/<file>.json` contract, without Docker.

For every function of template.yaml: import its Handler the way the Lambda runtime does (with the
function's Environment from the template, Globals merged, !Ref / !GetAtt resolved to resources created
in moto from the template's own properties), then call it with every file of events/ meant for it,
as `sam local invoke` would, against the seeded demo account. A new event file that no function claims,
or a function without events, fails the test instead of going untested.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.decode import decode
from event_account import EVENTS_DIR, seed_account
from event_stack import LambdaContext
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
FUNCTION_TYPE = "AWS::Serverless::Function"

# Which event files each function takes (events/README.md): the naming rule, by prefix.
EVENT_PREFIXES: dict[str, tuple[str, ...]] = {
    "EventAuditFunction": ("iam-", "ec2-", "access-analyzer-", "direct-invoke"),
    "AccountAuditFunction": ("weekly-audit",),
    "OrgAuditFunction": ("org-audit-",),
}
# Statuses a handler may answer with for a sample event: every sample names something to audit.
EVENT_STATUSES = {"published", "below-threshold", "nothing-to-audit"}


def load_template() -> dict[str, Any]:
    template, problems = decode(str(TEMPLATE))
    assert template is not None and not problems, [str(p) for p in problems or []]
    return template


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == FUNCTION_TYPE}


def event_files(function: str) -> list[Path]:
    return sorted(p for p in EVENTS_DIR.glob("*.json") if p.name.startswith(EVENT_PREFIXES[function]))


def cases() -> list[tuple[str, str]]:
    template = load_template()
    return [(name, path.name) for name in functions(template) for path in event_files(name)]


def test_every_event_file_belongs_to_exactly_one_function() -> None:
    template_functions = set(functions(load_template()))
    assert template_functions == set(EVENT_PREFIXES), "a function of template.yaml has no event files assigned"
    for path in EVENTS_DIR.glob("*.json"):
        owners = [f for f, prefixes in EVENT_PREFIXES.items() if path.name.startswith(prefixes)]
        assert len(owners) == 1, f"{path.name} is meant for {owners or 'no function'}"
    for function in EVENT_PREFIXES:
        assert event_files(function), f"{function} has no sample event"


# -- the template's resources in moto -------------------------------------------------------------


class Resources:
    """Physical ids (Ref) and attributes (GetAtt) of the template's resources created in moto."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.template = template
        self.refs: dict[str, str] = {}
        self.attributes: dict[tuple[str, str], str] = {}
        for name, resource in template["Resources"].items():
            create = getattr(self, "_" + resource["Type"].replace("::", "_").lower(), None)
            if create is not None:
                create(name, resource.get("Properties", {}))

    def _aws_kms_key(self, name: str, _: dict[str, Any]) -> None:
        key = boto3.client("kms", region_name=REGION).create_key(Description=name)["KeyMetadata"]
        self.refs[name] = key["KeyId"]
        self.attributes[(name, "Arn")] = key["Arn"]

    def _aws_sns_topic(self, name: str, _: dict[str, Any]) -> None:
        self.refs[name] = boto3.client("sns", region_name=REGION).create_topic(Name=name)["TopicArn"]

    def _aws_s3_bucket(self, name: str, _: dict[str, Any]) -> None:
        bucket = f"{name.lower()}-{ACCOUNT_ID}"
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=bucket)
        self.refs[name] = bucket

    def _aws_sqs_queue(self, name: str, _: dict[str, Any]) -> None:
        self.refs[name] = boto3.client("sqs", region_name=REGION).create_queue(QueueName=name)["QueueUrl"]

    def _aws_dynamodb_table(self, name: str, properties: dict[str, Any]) -> None:
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        table = f"rolewatch-{name}-0123ABCD"  # as CloudFormation names it (a bare logical id is SAM's placeholder)
        dynamodb.create_table(
            TableName=table,
            KeySchema=properties["KeySchema"],
            AttributeDefinitions=properties["AttributeDefinitions"],
            BillingMode=properties.get("BillingMode", "PAY_PER_REQUEST"),
        )
        if ttl := properties.get("TimeToLiveSpecification"):
            dynamodb.update_time_to_live(TableName=table, TimeToLiveSpecification=ttl)
        self.refs[name] = table

    def resolve(self, value: Any, where: str) -> str:
        """A template value as the function sees it: !Ref and !GetAtt of resources and parameters."""
        if isinstance(value, str):
            return value
        if isinstance(value, bool | int | float):
            return str(value).lower() if isinstance(value, bool) else str(value)
        if isinstance(value, dict) and set(value) == {"Ref"}:
            target = value["Ref"]
            if target in self.refs:
                return self.refs[target]
            parameter = self.template.get("Parameters", {}).get(target)
            if parameter is not None and "Default" in parameter:
                return str(parameter["Default"])
            if target == "AWS::Region":
                return REGION
            if target == "AWS::AccountId":
                return ACCOUNT_ID
        if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
            target, attribute = value["Fn::GetAtt"]
            if (target, attribute) in self.attributes:
                return self.attributes[(target, attribute)]
        raise AssertionError(f"{where}: cannot resolve {value!r} (add the resource kind to this test)")

    def environment(self, function: str) -> dict[str, str]:
        """Globals.Function.Environment merged with the function's own, resolved, as deployed."""
        merged = {
            **self.template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}),
            **(self.template["Resources"][function]["Properties"].get("Environment") or {}).get("Variables", {}),
        }
        return {
            name: self.resolve(value, f"{function}.Environment.{name}")
            for name, value in merged.items()
            if value != {"Ref": "AWS::NoValue"}  # CloudFormation drops the variable
        }


# -- invoking ------------------------------------------------------------------------------------


def import_handler(dotted: str) -> Any:
    """Module and function of a Handler, imported fresh (as a new container imports it)."""
    module_name, _, function_name = dotted.rpartition(".")
    module = importlib.reload(importlib.import_module(module_name))  # a Handler naming no module fails here
    return getattr(module, function_name)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        yield


@pytest.mark.parametrize(("function", "event_file"), cases())
def test_sam_local_invoke(function: str, event_file: str, aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    template = load_template()
    properties = template["Resources"][function]["Properties"]
    resources = Resources(template)
    seed_account()
    environment = resources.environment(function)
    # What the emulator sets besides the template's variables.
    environment.update(AWS_SAM_LOCAL="true", AWS_LAMBDA_FUNCTION_NAME=function, AWS_REGION=REGION)
    if template["Resources"][function].get("Condition") == "OrganizationMode":  # env.json sets the mode
        organization = boto3.client("organizations", region_name=REGION).create_organization(FeatureSet="ALL")
        environment.update(DEPLOYMENT_MODE="organization", ORGANIZATION_ID=organization["Organization"]["Id"])
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    handler = import_handler(properties["Handler"])
    event = json.loads((EVENTS_DIR / event_file).read_text(encoding="utf-8"))
    context = LambdaContext(function_name=function)
    try:
        result = handler(event, context)
    finally:
        runtime = getattr(sys.modules[handler.__module__], "runtime", None)
        if runtime is not None:  # the next case is a new container with new resources
            runtime.cache_clear()
    json.dumps(result)  # what `sam local invoke` prints must be JSON
    if function == "OrgAuditFunction":  # the list-accounts step: moto's organization has its management account
        assert result["count"] == 1, result
        listed = boto3.client("s3", region_name=REGION).get_object(Bucket=result["bucket"], Key=result["key"])
        assert [a["account_id"] for a in json.loads(listed["Body"].read())] == [ACCOUNT_ID]
    if function == "EventAuditFunction":
        assert result["status"] in EVENT_STATUSES, result
        if event_file.startswith(("iam-", "ec2-", "access-analyzer-")) and result["status"] != "nothing-to-audit":
            assert result["roles"] or result["deleted"], result
