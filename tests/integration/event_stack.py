"""The event function's AWS resources in moto (topic with an SQS subscriber, bucket, KMS key, idempotency
table) and a Lambda context, shared by the event-audit and `sam local invoke` contract tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

from rolewatch.inventory.clients import AwsClients, make_clients

REGION = "us-east-1"


@dataclass
class LambdaContext:
    """What the Lambda runtime passes as `context` (the attributes Powertools reads)."""

    function_name: str = "EventAuditFunction"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:EventAuditFunction"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name: str = "/aws/lambda/EventAuditFunction"
    log_stream_name: str = "2026/11/30/[$LATEST]0123456789"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class EventStack:
    topic_arn: str
    queue_url: str
    bucket: str
    key_id: str
    table: str
    clients: AwsClients = field(default_factory=lambda: make_clients(region=REGION))

    def messages(self) -> list[dict[str, Any]]:
        """Everything the subscriber received since the last call (SNS envelopes, parsed)."""
        sqs = boto3.client("sqs", region_name=REGION)
        out: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return out
            for message in got:
                out.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def idempotency_records(self) -> list[dict[str, Any]]:
        """Every item of the idempotency table, as DynamoDB returns it."""
        return boto3.client("dynamodb", region_name=REGION).scan(TableName=self.table)["Items"]

    def environment(self, **overrides: str) -> dict[str, str]:
        """The event function's environment, as template.yaml sets it, pointing at these resources."""
        return {
            "REPORT_TOPIC_ARN": self.topic_arn,
            "REPORT_BUCKET": self.bucket,
            "REPORT_KMS_KEY_ID": self.key_id,
            "IDEMPOTENCY_TABLE": self.table,
            "MIN_SEVERITY": "medium",
            "PUBLISH_CLEAN": "false",
            "BASELINE_PATH": "",
            "ACCESS_ANALYZER": "off",
            "POWERTOOLS_SERVICE_NAME": "rolewatch",
            "POWERTOOLS_METRICS_NAMESPACE": "rolewatch",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            **overrides,
        }


def create_event_stack(topic: str = "rolewatch-reports", filter_policy: dict[str, Any] | None = None) -> EventStack:
    """The resources of template.yaml that the event function uses (inside an active moto mock)."""
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic_arn = sns.create_topic(Name=topic)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{topic}-subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {"FilterPolicy": json.dumps(filter_policy)} if filter_policy else {}
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes)
    bucket = f"{topic}-123456789012"
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=bucket)
    key_id = boto3.client("kms", region_name=REGION).create_key(Description="rolewatch reports")["KeyMetadata"]["Arn"]
    table = f"{topic}-idempotency"
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
    )
    return EventStack(topic_arn=topic_arn, queue_url=queue_url, bucket=bucket, key_id=key_id, table=table)
