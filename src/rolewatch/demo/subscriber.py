"""What a subscriber of the report topic receives: SNS envelopes read from the demo's SQS queue.

The subscription has raw delivery off, so each SQS body is the SNS notification envelope (Type, Subject,
Message, MessageAttributes, ...), the same fields an e-mail or HTTPS subscriber gets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

MAX_MESSAGES = 10  # SQS's maximum per ReceiveMessage


@dataclass(frozen=True)
class ReceivedMessage:
    subject: str
    message: str
    attributes: dict[str, str] = field(default_factory=dict)  # name -> value (String.Array values as JSON text)
    attribute_types: dict[str, str] = field(default_factory=dict)
    message_id: str = ""
    timestamp: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "message": self.message,
            "attributes": self.attributes,
            "attribute_types": self.attribute_types,
            "message_id": self.message_id,
            "timestamp": self.timestamp,
        }


def parse_envelope(body: str) -> ReceivedMessage:
    envelope = json.loads(body)
    attributes = envelope.get("MessageAttributes") or {}
    return ReceivedMessage(
        subject=envelope.get("Subject") or "",
        message=envelope.get("Message") or "",
        attributes={name: str(a.get("Value", "")) for name, a in attributes.items()},
        attribute_types={name: str(a.get("Type", "")) for name, a in attributes.items()},
        message_id=envelope.get("MessageId") or "",
        timestamp=envelope.get("Timestamp") or "",
    )


def drain(queue_url: str, region: str) -> list[ReceivedMessage]:
    """Every message waiting in the queue, oldest first, deleted once read.

    SNS delivers to SQS before Publish returns in the embedded AWS, so no long polling is needed.
    """
    sqs = boto3.client("sqs", region_name=region)
    received: list[ReceivedMessage] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=MAX_MESSAGES, WaitTimeSeconds=0, VisibilityTimeout=30
        ).get("Messages", [])
        if not batch:
            return received
        received.extend(parse_envelope(m["Body"]) for m in batch)
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
