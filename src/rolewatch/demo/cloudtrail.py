"""CloudTrail events for the demo's API calls, built from the ready events in events/.

Each file in events/ is an EventBridge "AWS API Call via CloudTrail" event of the same shape CloudTrail
and EventBridge produce; the demo keeps that shape and substitutes what the embedded AWS really did:
the request parameters and response elements of the call, the account, the time and fresh event ids.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rolewatch.demo.account import REPO_ROOT

EVENTS_DIR = REPO_ROOT / "events"


class TemplateError(RuntimeError):
    """An event template is missing or not a CloudTrail EventBridge event."""


def load_template(name: str, events_dir: Path = EVENTS_DIR) -> dict[str, Any]:
    path = events_dir / name
    try:
        event = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TemplateError(f"{path}: not found (the demo runs from a rolewatch source checkout)") from None
    except (OSError, ValueError) as exc:
        raise TemplateError(f"{path}: cannot be read as JSON: {exc}") from None
    if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
        raise TemplateError(f"{path}: not an EventBridge CloudTrail event (no 'detail' object)")
    return event


def cloudtrail_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iam_response_date(moment: Any) -> str:
    """Dates inside IAM response elements, as CloudTrail writes them: "Jan 15, 2026 9:11:07 AM"."""
    when = moment if isinstance(moment, datetime) else datetime.now(UTC)
    return when.astimezone(UTC).strftime("%b %d, %Y %I:%M:%S %p").replace(" 0", " ")


def cloudtrail_event(
    template: Mapping[str, Any],
    *,
    account_id: str,
    region: str,
    request_parameters: Mapping[str, Any] | None,
    response_elements: Mapping[str, Any] | None,
    user_identity: Mapping[str, Any] | None = None,
    error: tuple[str, str] | None = None,
    when: datetime | None = None,
) -> dict[str, Any]:
    """The template with this call's facts: parameters, response, actor, account, time, fresh ids."""
    event = copy.deepcopy(dict(template))
    detail = event["detail"]
    moment = cloudtrail_time(when or datetime.now(UTC))
    event.update(id=str(uuid.uuid4()), time=moment, account=account_id, region=region)
    detail.update(
        eventTime=moment,
        awsRegion=region,
        recipientAccountId=account_id,
        requestID=str(uuid.uuid4()),
        eventID=str(uuid.uuid4()),
        requestParameters=copy.deepcopy(dict(request_parameters)) if request_parameters is not None else None,
        responseElements=copy.deepcopy(dict(response_elements)) if response_elements is not None else None,
    )
    if user_identity is not None:
        detail["userIdentity"] = copy.deepcopy(dict(user_identity))
    if error is not None:
        detail["errorCode"], detail["errorMessage"] = error
        detail["responseElements"] = None
    return event


def user_identity_of(template: Mapping[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(dict(template["detail"].get("userIdentity") or {}))
