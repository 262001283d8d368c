"""Writing an object to the report bucket: the one S3 PutObject of every function.

Reports are stored SSE-KMS encrypted: under `kms_key_id` when given, else the bucket's default KMS key.
The SNS overflow (delivery), the weekly store and the integrations' linked report all write through
`put_encrypted`; each says in its own terms what a failure means (botocore's errors reach it as raised).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rolewatch.aws_permissions import EVERY_FUNCTION, REPORT_KEY, STORED_REPORTS, requires


@requires("s3:PutObject", by=EVERY_FUNCTION, on=STORED_REPORTS)
@requires("kms:GenerateDataKey", by=EVERY_FUNCTION, on=REPORT_KEY)
def put_encrypted(s3: Any, bucket: str, key: str, body: bytes, *, content_type: str, kms_key_id: str | None) -> None:
    """Store `body` at `key`, SSE-KMS encrypted (ClientError or BotoCoreError when S3 refuses)."""
    encryption: dict[str, str] = {"ServerSideEncryption": "aws:kms"}
    if kms_key_id:
        encryption["SSEKMSKeyId"] = kms_key_id
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, **encryption)


def json_report_body(report: Mapping[str, Any]) -> bytes:
    """A full JSON report as it is stored beside an SNS message or an event (one level of indent)."""
    return json.dumps(report, indent=1).encode("utf-8")
