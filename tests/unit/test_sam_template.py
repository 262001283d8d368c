"""Template values resolved against what a stack holds, as CloudFormation resolved them (pure, no AWS)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rolewatch.sam_template import (
    NO_VALUE,
    Resolver,
    StackResource,
    StackView,
    TemplateError,
    UnresolvedValue,
    function_environments,
    load_template,
)

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "111122223333"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
TOPIC = f"arn:aws:sns:eu-west-1:{ACCOUNT}:app-Topic-1X2Y3Z"
TEMPLATE = {
    "Parameters": {"Level": {"Type": "String", "Default": "medium"}, "Mode": {"Type": "String", "Default": "on"}},
    "Conditions": {"ModeOn": {"Fn::Equals": [{"Ref": "Mode"}, "on"]}},
    "Mappings": {"Sizes": {"eu-west-1": {"Memory": "256"}}},
    "Globals": {"Function": {"Environment": {"Variables": {"TOPIC": {"Ref": "Topic"}, "LEVEL": {"Ref": "Level"}}}}},
    "Resources": {
        "Fn": {
            "Type": "AWS::Serverless::Function",
            "Properties": {"Environment": {"Variables": {"LEVEL": "low", "TABLE": {"Ref": "Table"}}}},
        },
        "Plain": {"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": {"X": "1"}}}},
        "Bare": {"Type": "AWS::Serverless::Function", "Properties": {}},
        "Topic": {"Type": "AWS::SNS::Topic"},
        "Table": {"Type": "AWS::DynamoDB::Table"},
        "Key": {"Type": "AWS::KMS::Key"},
        "Machine": {"Type": "AWS::Custom::Thing"},
    },
    "Outputs": {"MachineUrl": {"Value": {"Fn::GetAtt": ["Machine", "Url"]}}},
}
STACK = StackView(
    name="app",
    region="eu-west-1",
    account_id=ACCOUNT,
    parameters={"Mode": "off"},
    resources={
        "Topic": StackResource("AWS::SNS::Topic", TOPIC),
        "Table": StackResource("AWS::DynamoDB::Table", "app-Table-ABC123"),
        "Key": StackResource("AWS::KMS::Key", KEY_ID),
        "Machine": StackResource("AWS::Custom::Thing", "machine-1"),
    },
    outputs={"MachineUrl": "https://machine.example/1"},
)


def resolve(value: object) -> object:
    return Resolver(TEMPLATE, STACK).text(value)


def test_sam_functions_get_the_globals_under_their_own_variables_plain_functions_do_not() -> None:
    environments = function_environments(TEMPLATE)
    assert environments["Fn"] == {"TOPIC": {"Ref": "Topic"}, "LEVEL": "low", "TABLE": {"Ref": "Table"}}
    assert environments["Plain"] == {"X": "1"}
    assert environments["Bare"] == {"TOPIC": {"Ref": "Topic"}, "LEVEL": {"Ref": "Level"}}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Ref": "Topic"}, TOPIC),  # a resource: its physical id
        ({"Ref": "Level"}, "medium"),  # a parameter the stack does not list: the template's default
        ({"Ref": "Mode"}, "off"),  # a parameter the stack lists: the deployed value, not the default
        ({"Fn::GetAtt": ["Key", "Arn"]}, f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY_ID}"),
        ({"Fn::GetAtt": "Table.Arn"}, f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/app-Table-ABC123"),
        ({"Fn::GetAtt": ["Topic", "TopicName"]}, "app-Topic-1X2Y3Z"),
        ({"Fn::GetAtt": ["Machine", "Url"]}, "https://machine.example/1"),  # from the output of the same value
        (
            {"Fn::Sub": "arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}:${Table}"},
            f"arn:aws:x:eu-west-1:{ACCOUNT}:app-Table-ABC123",
        ),
        (
            {"Fn::Sub": ["${A}-${Key.Arn}-${!Literal}", {"A": "a"}]},
            f"a-arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY_ID}-${{Literal}}",
        ),
        ({"Fn::If": ["ModeOn", "yes", "no"]}, "no"),
        ({"Fn::Join": ["/", ["a", {"Ref": "AWS::StackName"}]]}, "a/app"),
        ({"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]}, "y"),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "AWS::Region"}, "Memory"]}, "256"),
        (True, "true"),
        (30, "30"),
    ],
)
def test_values_resolve_as_cloudformation_resolved_them(value: object, expected: str) -> None:
    assert resolve(value) == expected


def test_no_value_is_its_own_answer() -> None:
    assert resolve({"Ref": "AWS::NoValue"}) is NO_VALUE
    assert resolve({"Fn::If": ["ModeOn", "x", {"Ref": "AWS::NoValue"}]}) is NO_VALUE


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Ref": "Queue"}, "Ref to 'Queue', which is neither a parameter nor a resource of the template"),
        ({"Fn::GetAtt": ["Machine", "Other"]}, "add a stack output whose Value is !GetAtt Machine.Other"),
        ({"Fn::GetAtt": ["Gone", "Arn"]}, "Gone is not a resource of the stack"),
        ({"Fn::ImportValue": "shared-bus"}, "ImportValue.shared-bus: exported by another stack"),
        ({"Fn::If": ["Missing", "a", "b"]}, "condition 'Missing' is not defined in Conditions"),
        ({"Fn::Sub": "{{resolve:ssm:/app/level}}"}, "resolve.ssm:/app/level: dynamic reference resolved at deployment"),
        ({"Fn::Cidr": ["10.0.0.0/16", 2, 8]}, "Cidr: address blocks are computed at deployment"),
    ],
)
def test_what_the_stack_cannot_answer_is_named_never_guessed(value: object, message: str) -> None:
    with pytest.raises(UnresolvedValue, match=re.escape(message)):
        resolve(value)


def test_the_project_template_loads_with_its_short_form_tags() -> None:
    template = load_template(ROOT / "template.yaml")
    environment = function_environments(template)["EventAuditFunction"]
    assert environment["REPORT_TOPIC_ARN"] == {"Ref": "ReportTopic"}
    assert environment["REPORT_KMS_KEY_ID"] == {"Fn::GetAtt": ["ReportKey", "Arn"]}
    assert environment["IDEMPOTENCY_TABLE"] == {"Ref": "IdempotencyTable"}


@pytest.mark.parametrize(
    ("text", "message"),
    [("Resources: [unclosed", "not a YAML or JSON template"), ("just: text", "not a CloudFormation template")],
)
def test_an_unreadable_template_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError, match=message) as failed:
        load_template(path)
    assert "\n" not in str(failed.value)
