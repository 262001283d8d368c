"""The full JSON report in the report bucket, for an integration that links it (the chat message) or
points to it (an audit-result event too large for its findings). Stored with SSE-KMS, as
rolewatch.delivery stores reports: under `kms_key_id` when given, else the bucket's default KMS key.

A failure is a sentence, never an exception: the integration that needed the report names it in its
result, and the audit and its SNS report go on. Calls: one S3 PutObject.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from rolewatch.aws_permissions import EVERY_FUNCTION, REPORT_KEY, STORED_REPORTS, requires

LOG = logging.getLogger(__name__)


@requires("s3:PutObject", by=EVERY_FUNCTION, on=STORED_REPORTS)
@requires("kms:GenerateDataKey", by=EVERY_FUNCTION, on=REPORT_KEY)
def store_report(s3: Any, bucket: str, key: str, report: Mapping[str, Any], kms_key_id: str | None) -> str:
    """Store `report` at `key`; "" when stored, else what failed."""
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
        LOG.warning("storing the full report at s3://%s/%s failed", bucket, key, exc_info=True)
        return f"the full report could not be stored at s3://{bucket}/{key} ({exc})"
    return ""
