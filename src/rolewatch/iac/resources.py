"""What `Ref` and `Fn::GetAtt` of a template's own resource return, as CloudFormation would name it.

The name is the resource's name property when the template sets one, else its logical id (CloudFormation
would add the stack name and a random suffix; the logical id is what a reader of the template
recognises, and keeps scoped ARNs scoped). Types not in the table get `Ref` = the name and any `...Arn`
attribute = `arn:aws:<service>:region:account:<type>/<name>`; other attributes are open (placeholders).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rolewatch.iac.placeholders import ACCOUNT, PARTITION, REGION

# resource type -> (name property, {"Ref" or attribute: format})
_P, _R, _A = PARTITION, REGION, ACCOUNT
_TABLE: dict[str, tuple[str | None, dict[str, str]]] = {
    "AWS::IAM::Role": ("RoleName", {"Ref": "{n}", "Arn": f"arn:{_P}:iam::{_A}:role{{path}}{{n}}"}),
    "AWS::IAM::ManagedPolicy": (
        "ManagedPolicyName",
        {"Ref": f"arn:{_P}:iam::{_A}:policy{{path}}{{n}}", "PolicyArn": f"arn:{_P}:iam::{_A}:policy{{path}}{{n}}"},
    ),
    "AWS::IAM::Policy": ("PolicyName", {"Ref": "{n}"}),
    "AWS::IAM::InstanceProfile": (
        "InstanceProfileName",
        {"Ref": "{n}", "Arn": f"arn:{_P}:iam::{_A}:instance-profile{{path}}{{n}}"},
    ),
    "AWS::IAM::User": ("UserName", {"Ref": "{n}", "Arn": f"arn:{_P}:iam::{_A}:user{{path}}{{n}}"}),
    "AWS::IAM::Group": ("GroupName", {"Ref": "{n}", "Arn": f"arn:{_P}:iam::{_A}:group{{path}}{{n}}"}),
    "AWS::S3::Bucket": (
        "BucketName",
        {"Ref": "{n}", "Arn": f"arn:{_P}:s3:::{{n}}", "DomainName": "{n}.s3.amazonaws.com"},
    ),
    "AWS::SNS::Topic": (
        "TopicName",
        {"Ref": f"arn:{_P}:sns:{_R}:{_A}:{{n}}", "TopicArn": f"arn:{_P}:sns:{_R}:{_A}:{{n}}", "TopicName": "{n}"},
    ),
    "AWS::SQS::Queue": (
        "QueueName",
        {
            "Ref": f"https://sqs.{_R}.amazonaws.com/{_A}/{{n}}",
            "QueueUrl": f"https://sqs.{_R}.amazonaws.com/{_A}/{{n}}",
            "Arn": f"arn:{_P}:sqs:{_R}:{_A}:{{n}}",
            "QueueName": "{n}",
        },
    ),
    "AWS::DynamoDB::Table": (
        "TableName",
        {
            "Ref": "{n}",
            "Arn": f"arn:{_P}:dynamodb:{_R}:{_A}:table/{{n}}",
            "StreamArn": f"arn:{_P}:dynamodb:{_R}:{_A}:table/{{n}}/stream/stream-label",
        },
    ),
    "AWS::Lambda::Function": ("FunctionName", {"Ref": "{n}", "Arn": f"arn:{_P}:lambda:{_R}:{_A}:function:{{n}}"}),
    "AWS::Logs::LogGroup": ("LogGroupName", {"Ref": "{n}", "Arn": f"arn:{_P}:logs:{_R}:{_A}:log-group:{{n}}:*"}),
    "AWS::KMS::Key": (None, {"Ref": "{n}", "Arn": f"arn:{_P}:kms:{_R}:{_A}:key/{{n}}", "KeyId": "{n}"}),
    "AWS::KMS::Alias": ("AliasName", {"Ref": "{n}"}),
    "AWS::Events::Rule": ("Name", {"Ref": "{n}", "Arn": f"arn:{_P}:events:{_R}:{_A}:rule/{{n}}"}),
    "AWS::Events::EventBus": (
        "Name",
        {"Ref": "{n}", "Name": "{n}", "Arn": f"arn:{_P}:events:{_R}:{_A}:event-bus/{{n}}"},
    ),
    "AWS::SecretsManager::Secret": (
        "Name",
        {
            "Ref": f"arn:{_P}:secretsmanager:{_R}:{_A}:secret:{{n}}",
            "Id": f"arn:{_P}:secretsmanager:{_R}:{_A}:secret:{{n}}",
        },
    ),
    "AWS::SSM::Parameter": ("Name", {"Ref": "{n}"}),
    "AWS::StepFunctions::StateMachine": (
        "StateMachineName",
        {
            "Ref": f"arn:{_P}:states:{_R}:{_A}:stateMachine:{{n}}",
            "Arn": f"arn:{_P}:states:{_R}:{_A}:stateMachine:{{n}}",
            "Name": "{n}",
        },
    ),
    "AWS::Kinesis::Stream": ("Name", {"Ref": "{n}", "Arn": f"arn:{_P}:kinesis:{_R}:{_A}:stream/{{n}}"}),
    "AWS::ECR::Repository": ("RepositoryName", {"Ref": "{n}", "Arn": f"arn:{_P}:ecr:{_R}:{_A}:repository/{{n}}"}),
    "AWS::EC2::Instance": (None, {"Ref": "i-{n}"}),
    "AWS::EC2::SecurityGroup": ("GroupName", {"Ref": "sg-{n}", "GroupId": "sg-{n}"}),
}
_IAM_PATHS = {
    "AWS::IAM::Role",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::InstanceProfile",
    "AWS::IAM::User",
    "AWS::IAM::Group",
}

Resolve = Callable[[Any, str], Any]


def attribute(logical: str, resource: dict[str, Any], key: str, resolve: Resolve) -> str | None:
    """What `Ref` (key "Ref") or `Fn::GetAtt` (key = attribute) of one resource returns; None when it is
    known only once the resource exists. `resolve` resolves a property's intrinsics."""
    rtype = str(resource.get("Type", ""))
    props = resource.get("Properties") if isinstance(resource.get("Properties"), dict) else {}
    name_property, formats = _TABLE.get(rtype, (None, {}))
    if not formats:
        name = _name(logical, rtype, props, None, resolve)
        service, _, kind = rtype.removeprefix("AWS::").partition("::")
        if key == "Ref":
            return name
        if key.endswith("Arn"):
            return f"arn:{PARTITION}:{service.lower()}:{REGION}:{ACCOUNT}:{kind.lower()}/{name}"
        return None
    if key not in formats:
        return None
    name = _name(logical, rtype, props, name_property, resolve)
    path = resolve(props["Path"], "Path") if rtype in _IAM_PATHS and "Path" in props else "/"
    return formats[key].format(n=name, path=path if isinstance(path, str) else "/")


def _name(logical: str, rtype: str, props: dict[str, Any], name_property: str | None, resolve: Resolve) -> str:
    if name_property and name_property in props:
        value = resolve(props[name_property], name_property)
        if isinstance(value, str) and value:
            return value
    if rtype == "AWS::S3::Bucket":
        return logical.lower()  # bucket names are lower case
    return logical
