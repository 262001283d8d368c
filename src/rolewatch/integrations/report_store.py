"""The full JSON report in the report bucket, for an integration that links it (the chat message) or
points to it (an audit-result event too large for its findings). Stored with SSE-KMS, as
rolewatch.delivery stores reports: under `kms_key_id` when given, else the bucket's default KMS key.

A failure is a sentence, never an exception: the integration that needed the report names it in its
result, and the audit and its SNS report go on. Calls: one S3 PutObject.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from rolewatch.stored_objects import json_report_body, put_encrypted

LOG = logging.getLogger(__name__)


def store_report(s3: Any, bucket: str, key: str, report: Mapping[str, Any], kms_key_id: str | None) -> str:
    """Store `report` at `key`; "" when stored, else what failed."""
    try:
        put_encrypted(s3, bucket, key, json_report_body(report), content_type="application/json", kms_key_id=kms_key_id)
    except (ClientError, BotoCoreError) as exc:
        LOG.warning("storing the full report at s3://%s/%s failed", bucket, key, exc_info=True)
        return f"the full report could not be stored at s3://{bucket}/{key} ({exc})"
    return ""
