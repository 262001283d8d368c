"""The chat copy: one Amazon Q Developer custom notification (rolewatch.report.chat) per audit on the
optional chat topic (CHAT_TOPIC_ARN), which a chat channel configuration posts to Slack or Teams.

A courtesy copy, never a reason to lose the report: `publish_chat` never raises. A missing topic, a
denied or failing publish (after botocore's bounded standard-mode retries) comes back as a `failed`
IntegrationResult naming the topic and the error, which the report names and the metrics count
(ChatNotificationsFailed, IntegrationFailures), like any other integration. Calls: one SNS Publish.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from rolewatch.aws_permissions import CHAT_TOPIC, EVERY_FUNCTION, WITH_CHAT_TOPIC, requires
from rolewatch.integrations.result import IntegrationResult

NAME = "chat"


@requires("sns:Publish", by=EVERY_FUNCTION, on=CHAT_TOPIC, only_if=WITH_CHAT_TOPIC)
def publish_chat(message: Mapping[str, Any], *, sns: Any, topic_arn: str) -> IntegrationResult:
    """Publish a custom notification to the chat topic: `delivered`, or `failed` saying why."""
    try:
        sns.publish(TopicArn=topic_arn, Message=json.dumps(message, ensure_ascii=False))
    except ClientError as exc:
        error = exc.response.get("Error", {})
        why = f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
        return IntegrationResult(NAME, "failed", failed=1, reason=f"chat topic {topic_arn}: {why}")
    except BotoCoreError as exc:
        return IntegrationResult(NAME, "failed", failed=1, reason=f"chat topic {topic_arn}: {exc}")
    return IntegrationResult(NAME, "delivered", sent=1)
