"""What the stack would create, made in the embedded AWS, and the audit function's environment.

The resources follow template.yaml's names (ReportKey, ReportTopic, ReportBucket, IdempotencyTable), plus
what a person would add to see the reports: an SQS queue subscribed to the topic with raw delivery off,
so each message arrives in the SNS envelope an e-mail or SQS subscriber receives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from rolewatch import sam_template

STACK = "rolewatch-demo"
EVENT_FUNCTION = "EventAuditFunction"

# The settings' values (rolewatch.settings) where template.yaml does not give one the demo can resolve.
CONTRACT_DEFAULTS: dict[str, str] = {
    "MIN_SEVERITY": "medium",
    "PUBLISH_CLEAN": "false",
    "BASELINE_PATH": "",
    "ACCESS_ANALYZER": "auto",
    "POWERTOOLS_SERVICE_NAME": "rolewatch",
    "POWERTOOLS_METRICS_NAMESPACE": "rolewatch",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}
# What the demo changes, and why: a reader wants the reports, not the function's logs or metrics.
DEMO_OVERRIDES: dict[str, tuple[str, str]] = {
    "POWERTOOLS_LOG_LEVEL": ("WARNING", "one INFO line per event would bury the reports"),
    "POWERTOOLS_METRICS_DISABLED": ("true", "EMF metrics are JSON lines on stdout"),
    "POWERTOOLS_TRACE_DISABLED": ("true", "no X-Ray daemon outside Lambda"),
    "ACCESS_ANALYZER": ("off", "moto has no IAM Access Analyzer: its endpoint answers HTTP 500"),
}


@dataclass(frozen=True)
class DemoResources:
    key_id: str
    key_arn: str
    topic_arn: str
    bucket: str
    table: str
    queue_url: str
    queue_arn: str
    subscription_arn: str

    @property
    def region(self) -> str:
        return self.topic_arn.split(":")[3]

    @property
    def account_id(self) -> str:
        return self.topic_arn.split(":")[4]

    def physical_ids(self) -> dict[str, dict[str, str]]:
        """Logical id -> {"Ref": ..., "Arn": ...}, to resolve the template's references."""
        table_arn = f"arn:aws:dynamodb:{self.region}:{self.account_id}:table/{self.table}"
        return {
            "ReportKey": {"Ref": self.key_id, "Arn": self.key_arn, "KeyId": self.key_id},
            "ReportTopic": {
                "Ref": self.topic_arn,
                "TopicArn": self.topic_arn,
                "TopicName": self.topic_arn.rsplit(":")[-1],
            },
            "ReportBucket": {"Ref": self.bucket, "Arn": f"arn:aws:s3:::{self.bucket}"},
            "IdempotencyTable": {"Ref": self.table, "Arn": table_arn},
        }


def create_resources(region: str) -> DemoResources:
    """The KMS key, topic, bucket and table of the stack, and a subscribed queue."""
    kms = boto3.client("kms", region_name=region)
    key = kms.create_key(Description="rolewatch report encryption (ReportKey)")["KeyMetadata"]
    kms.create_alias(AliasName=f"alias/{STACK}-reports", TargetKeyId=key["KeyId"])

    sns = boto3.client("sns", region_name=region)
    topic_arn = sns.create_topic(
        Name=f"{STACK}-ReportTopic", Attributes={"KmsMasterKeyId": key["KeyId"], "DisplayName": "rolewatch"}
    )["TopicArn"]

    s3 = boto3.client("s3", region_name=region)
    bucket = f"{STACK}-reports-{key['KeyId'][:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]}}]
        },
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration=dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
        ),
    )

    dynamodb = boto3.client("dynamodb", region_name=region)
    table = f"{STACK}-IdempotencyTable"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
    )

    queue_url, queue_arn, subscription_arn = _subscribed_queue(region, topic_arn)
    return DemoResources(
        key_id=key["KeyId"],
        key_arn=key["Arn"],
        topic_arn=topic_arn,
        bucket=bucket,
        table=table,
        queue_url=queue_url,
        queue_arn=queue_arn,
        subscription_arn=subscription_arn,
    )


def _subscribed_queue(region: str, topic_arn: str) -> tuple[str, str, str]:
    sqs = boto3.client("sqs", region_name=region)
    queue_url = sqs.create_queue(QueueName=f"{STACK}-subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # The policy a real account needs for the topic to deliver to the queue (moto does not enforce it).
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    subscription_arn = boto3.client("sns", region_name=region).subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "false"},  # the SNS envelope, as an e-mail/SQS subscriber sees it
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return queue_url, queue_arn, subscription_arn


# -- the function's environment, from template.yaml -------------------------------------------------


def load_template(path: Path) -> dict[str, Any]:
    """The template with CloudFormation's short-form tags in their long form (one loader: sam_template's)."""
    return sam_template.load_template(path)


@dataclass(frozen=True)
class FunctionEnvironment:
    variables: dict[str, str]
    from_template: tuple[str, ...]  # names whose value came from template.yaml
    notes: tuple[str, ...]  # what could not be taken from the template, and what the demo changed


def function_environment(
    resources: DemoResources, template: dict[str, Any] | None, function: str = EVENT_FUNCTION
) -> FunctionEnvironment:
    """The function's environment variables as the stack would set them, pointed at the demo's resources."""
    declared: dict[str, Any] = {}
    notes: list[str] = []
    if template is None:
        notes.append("template.yaml not found: the contract's environment is used")
    else:
        declared = {
            **_variables(template.get("Globals", {}).get("Function", {})),
            **_function_variables(template, function),
        }
        if not declared:
            notes.append(f"template.yaml declares no environment for {function}: the contract's is used")
    physical = resources.physical_ids()
    parameters = (template or {}).get("Parameters", {}) or {}
    resolved: dict[str, str] = {}
    for name, value in declared.items():
        if value == {"Ref": "AWS::NoValue"}:
            continue  # absent when deployed (AWS_ENDPOINT_URL: only `sam local invoke` sets it)
        text = _resolve(value, physical, parameters, resources)
        if text is None:
            notes.append(f"{name}: {json.dumps(value)} cannot be resolved here; the demo's value is used")
        else:
            resolved[name] = text
    variables = {
        **CONTRACT_DEFAULTS,
        "REPORT_TOPIC_ARN": resources.topic_arn,
        "REPORT_BUCKET": resources.bucket,
        "REPORT_KMS_KEY_ID": resources.key_arn,
        "IDEMPOTENCY_TABLE": resources.table,
        **resolved,
    }
    for name, (value, reason) in DEMO_OVERRIDES.items():
        if variables.get(name) != value:
            notes.append(f"{name}={value} (template: {variables.get(name, 'unset') or 'empty'}): {reason}")
        variables[name] = value
    return FunctionEnvironment(variables=variables, from_template=tuple(sorted(resolved)), notes=tuple(notes))


def _variables(function_properties: Any) -> dict[str, Any]:
    if not isinstance(function_properties, dict):
        return {}
    variables = (function_properties.get("Environment") or {}).get("Variables") or {}
    return dict(variables) if isinstance(variables, dict) else {}


def _function_variables(template: dict[str, Any], function: str) -> dict[str, Any]:
    resource = (template.get("Resources") or {}).get(function) or {}
    return _variables(resource.get("Properties") or {})


def _resolve(
    value: Any, physical: dict[str, dict[str, str]], parameters: dict[str, Any], resources: DemoResources
) -> str | None:
    """A template value as a string, or None for what only CloudFormation can resolve."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return str(value)
    if not isinstance(value, dict) or len(value) != 1:
        return None
    ((function, argument),) = value.items()
    if function == "Ref":
        if argument in physical:
            return physical[argument]["Ref"]
        if argument in parameters:
            default = (parameters[argument] or {}).get("Default")
            return None if default is None else _resolve(default, physical, parameters, resources)
        pseudo = {"AWS::Region": resources.region, "AWS::AccountId": resources.account_id}
        return pseudo.get(argument)
    if function == "Fn::GetAtt" and isinstance(argument, list) and len(argument) == 2:
        return physical.get(argument[0], {}).get(argument[1])
    return None
