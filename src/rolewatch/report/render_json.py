"""JSON renderer: the `rolewatch.report/v1` object, as `rolewatch check --format json` prints it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from rolewatch.model import AuditResult
from rolewatch.report.model import build_report


def render_json(
    result: AuditResult,
    *,
    sources: Sequence[str] = (),
    generated_at: datetime | None = None,
) -> str:
    report = build_report(result, sources=sources, generated_at=generated_at)
    # Indented and key-ordered as built: people read it too, and diffs of two runs stay small.
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
