"""Reports: an `AuditResult` rendered as JSON, text, Markdown, SARIF or OCSF.

`build_report` gives the JSON report object (schema `rolewatch.report/v1`, README.md); `render` gives
any format as a string; `write_report` writes it to a stream (JSON finding by finding, so a report of
thousands of findings is never held whole). The CLI and the Lambda handlers call only these.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TextIO

from rolewatch.model import AuditResult, SourceLocation
from rolewatch.report.document import REPORT_SCHEMA, build_report
from rolewatch.report.render_json import render_json, write_json
from rolewatch.report.render_ocsf import render_ocsf
from rolewatch.report.render_sarif import render_sarif
from rolewatch.report.render_text import render_markdown, render_text

FORMATS: tuple[str, ...] = ("json", "text", "markdown", "sarif", "ocsf")


def render(
    result: AuditResult,
    fmt: str,
    *,
    sources: Sequence[str] = (),
    color: bool = False,
    generated_at: datetime | None = None,
    locations: Mapping[str, SourceLocation] | None = None,
) -> str:
    """The report in `fmt` (json, text, markdown, sarif or ocsf). `color` only affects text; `locations` (where
    a template or plan writes each role) gives SARIF results their file, line and logical id."""
    renderers: dict[str, Callable[[], str]] = {
        "json": lambda: render_json(result, sources=sources, generated_at=generated_at),
        "text": lambda: render_text(result, sources=sources, color=color),
        "markdown": lambda: render_markdown(result, sources=sources, generated_at=generated_at),
        "sarif": lambda: render_sarif(result, sources=sources, locations=locations),
        "ocsf": lambda: render_ocsf(result, generated_at=generated_at),
    }
    if fmt not in renderers:
        raise ValueError(f"unknown report format {fmt!r} (expected one of: {', '.join(FORMATS)})")
    return renderers[fmt]()


def write_report(
    result: AuditResult,
    fmt: str,
    stream: TextIO,
    *,
    sources: Sequence[str] = (),
    color: bool = False,
    generated_at: datetime | None = None,
    locations: Mapping[str, SourceLocation] | None = None,
) -> None:
    """Write the report in `fmt` to a text stream: the same text `render` returns."""
    if fmt == "json":
        write_json(result, stream, sources=sources, generated_at=generated_at)
    else:
        stream.write(render(result, fmt, sources=sources, color=color, generated_at=generated_at, locations=locations))


__all__ = ["FORMATS", "REPORT_SCHEMA", "build_report", "render", "write_report"]
