"""JSON renderer: the `rolewatch.report/v1` object, as `rolewatch check --format json` prints it.

Layout: the top-level keys one per line, and each finding and error on a line of its own. A report of
thousands of findings is then written by the C JSON encoder (`indent` would force the pure-Python one,
several times slower), one finding at a time (`write_json` never holds the whole text), and a diff of
two runs still shows one line per finding that changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TextIO

from rolewatch.model import AuditResult
from rolewatch.report.document import REPORT_SCHEMA, build_summary, format_timestamp, worst_first
from rolewatch.untrusted import escape_hidden

_ELEMENT = json.JSONEncoder(ensure_ascii=False)  # compact C encoder: ", " and ": " separators


def render_json(
    result: AuditResult,
    *,
    sources: Sequence[str] = (),
    generated_at: datetime | None = None,
) -> str:
    chunks = _Chunks()
    write_json(result, chunks, sources=sources, generated_at=generated_at)  # type: ignore[arg-type]
    return "".join(chunks)


class _Chunks(list):  # type: ignore[type-arg]
    """A list that takes writes: joined once, the text is allocated once (StringIO copies it again)."""

    def write(self, text: str) -> int:
        self.append(text)
        return len(text)


def write_json(
    result: AuditResult,
    stream: TextIO,
    *,
    sources: Sequence[str] = (),
    generated_at: datetime | None = None,
) -> None:
    """Write the report to a text stream, finding by finding (the same object as `build_report`).

    Hidden characters the encoder leaves raw with ensure_ascii=False (lone surrogates, C1 controls,
    bidi overrides) are written as \\u escapes: the same JSON value, printable on any terminal."""

    def write(text: str) -> None:
        stream.write(escape_hidden(text))

    def layout(text: str) -> None:  # rolewatch's own separators: nothing to escape
        stream.write(text)

    write("{\n")
    write(f'  "schema": {_ELEMENT.encode(REPORT_SCHEMA)},\n')
    write(f'  "generated_at": {_ELEMENT.encode(format_timestamp(generated_at))},\n')
    write(f'  "sources": {_ELEMENT.encode([str(source) for source in sources])},\n')
    write('  "findings": ')
    _write_list(write, layout, (finding.to_dict() for finding in worst_first(result.findings)))
    write(',\n  "errors": ')
    _write_list(write, layout, (error.to_dict() for error in result.errors))
    summary = json.dumps(build_summary(result), indent=2, ensure_ascii=False).replace("\n", "\n  ")
    write(f',\n  "summary": {summary}\n}}\n')


def _write_list(write: Any, layout: Any, elements: Iterable[dict[str, Any]]) -> None:
    first = True
    for element in elements:
        layout("[\n    " if first else ",\n    ")
        write(_ELEMENT.encode(element))
        first = False
    layout("[]" if first else "\n  ]")
