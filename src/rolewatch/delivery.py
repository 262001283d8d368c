"""Delivery of reports: SNS publish with filterable attributes, and S3 for what SNS cannot carry.

A report larger than SNS's 256 KB (counted in bytes: moto counts characters, AWS bytes) is stored
whole in the report bucket as JSON, and the SNS message carries a shortened text plus the link. Any
failure raises `DeliveryError`: the Lambda invocation then fails, is retried, and ends in the
dead-letter queue, so no report is dropped silently. Throttling is retried by botocore's standard mode.

The stored report is encrypted with SSE-KMS: with `kms_key_id` (REPORT_KMS_KEY_ID) under that key,
otherwise under the bucket's default KMS key. Message attributes whose value is a tuple are sent as
String.Array (see rolewatch.report.notification for the attribute contract).

The chat topic (CHAT_TOPIC_ARN, optional) is different: a courtesy copy for a chat channel, never a
reason to lose the report. `publish_chat` never raises: a missing topic, a denied or failing publish
(after botocore's bounded standard-mode retries) comes back as a `ChatDelivery` naming the failure, which
the caller writes into the report and counts as a metric, while the audit and its SNS report complete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from rolewatch.aws_permissions import (
    CHAT_TOPIC,
    EVERY_FUNCTION,
    REPORT_KEY,
    REPORT_TOPIC,
    STORED_REPORTS,
    WITH_CHAT_TOPIC,
    requires,
)
from rolewatch.report.notification import (
    SNS_MESSAGE_LIMIT,
    Notification,
    attribute_text,
    attribute_type,
    truncate_to_bytes,
)

# Room kept below the SNS limit for the overflow notice and JSON escaping by the SDK.
SAFETY_MARGIN = 4_096


class DeliveryError(RuntimeError):
    """A report could not be delivered; raised so the invocation fails and is retried."""


@dataclass(frozen=True)
class Delivered:
    message_id: str
    overflow_key: str | None = None
    bytes: int = 0
    # Integrations that failed while the report itself was delivered: name -> why (e.g. {"chat": "..."}).
    integration_failures: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ChatDelivery:
    """The chat copy's fate: a message id, or why it was not sent."""

    message_id: str | None = None
    failure: str | None = None


@requires("sns:Publish", by=EVERY_FUNCTION, on=CHAT_TOPIC, only_if=WITH_CHAT_TOPIC)
def publish_chat(message: dict[str, Any], *, sns: Any, topic_arn: str) -> ChatDelivery:
    """Publish a custom notification (rolewatch.report.chat) to the chat topic. Never raises."""
    try:
        response = sns.publish(TopicArn=topic_arn, Message=json.dumps(message, ensure_ascii=False))
    except ClientError as exc:
        error = exc.response.get("Error", {})
        why = f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
        return ChatDelivery(failure=f"chat topic {topic_arn}: {why}")
    except BotoCoreError as exc:
        return ChatDelivery(failure=f"chat topic {topic_arn}: {exc}")
    return ChatDelivery(message_id=response["MessageId"])


@requires("s3:PutObject", by=EVERY_FUNCTION, on=STORED_REPORTS)  # the event report a chat message links
@requires("kms:GenerateDataKey", by=EVERY_FUNCTION, on=REPORT_KEY)
def store_report(s3: Any, bucket: str, key: str, report: dict[str, Any], kms_key_id: str | None) -> None:
    """The full JSON report at `key` (SSE-KMS). Raises DeliveryError."""
    _store(s3, bucket, key, report, kms_key_id)


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
    encryption: dict[str, str] = {"ServerSideEncryption": "aws:kms"}
    if kms_key_id:
        encryption["SSEKMSKeyId"] = kms_key_id
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(report, indent=1).encode("utf-8"),
            ContentType="application/json",
            **encryption,
        )
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(f"storing the full report at s3://{bucket}/{key} failed: {exc}") from exc
