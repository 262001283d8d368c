"""Delivery of reports: SNS publish with filterable attributes, and S3 for what SNS cannot carry.

A report larger than SNS's 256 KB (counted in bytes: moto counts characters, AWS bytes) is stored
whole in the report bucket as JSON, and the SNS message carries a shortened text plus the link. Any
failure raises `DeliveryError`: the Lambda invocation then fails, is retried, and ends in the
dead-letter queue, so no report is dropped silently. Throttling is retried by botocore's standard mode.

The stored report is encrypted with SSE-KMS: with `kms_key_id` (REPORT_KMS_KEY_ID) under that key,
otherwise under the bucket's default KMS key. Message attributes whose value is a tuple are sent as
String.Array (see rolewatch.report.notification for the attribute contract).

The copies elsewhere (Security Hub, the chat topic, the audit-result event) are different: never a
reason to lose the report, so they never raise (rolewatch.integrations).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from rolewatch.aws_permissions import EVERY_FUNCTION, REPORT_KEY, REPORT_TOPIC, STORED_REPORTS, requires
from rolewatch.report.notification import (
    SNS_MESSAGE_LIMIT,
    Notification,
    attribute_text,
    attribute_type,
    truncate_to_bytes,
)
from rolewatch.stored_objects import json_report_body, put_encrypted

# Room kept below the SNS limit for the overflow notice and JSON escaping by the SDK.
SAFETY_MARGIN = 4_096


class DeliveryError(RuntimeError):
    """A report could not be delivered; raised so the invocation fails and is retried."""


@dataclass(frozen=True)
class Delivered:
    message_id: str
    overflow_key: str | None = None
    bytes: int = 0


@requires("sns:Publish", by=EVERY_FUNCTION, on=REPORT_TOPIC)
@requires("s3:PutObject", by=EVERY_FUNCTION, on=STORED_REPORTS)  # a report too large for SNS
# The topic and the stored reports are encrypted with the report key.
@requires("kms:GenerateDataKey", "kms:Decrypt", by=EVERY_FUNCTION, on=REPORT_KEY)
def publish(
    notification: Notification,
    full_report: dict[str, Any],
    *,
    sns: Any,
    topic_arn: str,
    s3: Any = None,
    bucket: str | None = None,
    key: str = "reports/report.json",
    kms_key_id: str | None = None,
) -> Delivered:
    """Publish the notification; store the full JSON report in S3 first when it is too large."""
    overflow_key = None
    message = notification.message
    if notification.size_in_bytes() > SNS_MESSAGE_LIMIT - SAFETY_MARGIN:
        if s3 is None or not bucket:
            raise DeliveryError(
                f"report of {notification.size_in_bytes():,} bytes exceeds the SNS limit and no report bucket "
                "is configured (set REPORT_BUCKET)"
            )
        _store(s3, bucket, key, full_report, kms_key_id)
        overflow_key = key
        notice = (
            f"\n\n[report truncated: {notification.size_in_bytes():,} bytes exceed the SNS limit. "
            f"Full JSON report: s3://{bucket}/{key} "
            f"(https://s3.console.aws.amazon.com/s3/object/{bucket}?prefix={key})]\n"
        )
        attributes_size = notification.size_in_bytes() - len(notification.message.encode("utf-8"))
        message = truncate_to_bytes(message, SNS_MESSAGE_LIMIT - SAFETY_MARGIN - attributes_size, notice)
    try:
        response = sns.publish(
            TopicArn=topic_arn,
            Subject=notification.subject,
            Message=message,
            MessageAttributes={
                name: {"DataType": attribute_type(value), "StringValue": attribute_text(value)}
                for name, value in notification.attributes.items()
            },
        )
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(f"SNS publish to {topic_arn} failed: {exc}") from exc
    return Delivered(message_id=response["MessageId"], overflow_key=overflow_key, bytes=len(message.encode("utf-8")))


def _store(s3: Any, bucket: str, key: str, report: dict[str, Any], kms_key_id: str | None) -> None:
    try:
        put_encrypted(s3, bucket, key, json_report_body(report), content_type="application/json", kms_key_id=kms_key_id)
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(f"storing the full report at s3://{bucket}/{key} failed: {exc}") from exc
