"""Plain-text output for a person at a terminal: headings, indented blocks, aligned tables. ASCII only."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Sequence
from typing import TextIO

WIDTH = 100


class Console:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def line(self, text: str = "") -> None:
        print(text, file=self.stream)

    def title(self, text: str) -> None:
        self.line("=" * WIDTH)
        self.line(text)
        self.line("=" * WIDTH)

    def heading(self, text: str) -> None:
        self.line()
        self.line(text)
        self.line("-" * min(WIDTH, len(text)))

    def wrapped(self, text: str, indent: str = "  ") -> None:
        for paragraph in text.splitlines() or [""]:
            self.line(textwrap.fill(paragraph, WIDTH, initial_indent=indent, subsequent_indent=indent) or indent)

    def block(self, text: str, marker: str = "  | ") -> None:
        """Text shown verbatim, each line behind a margin marker (a received message, a log excerpt)."""
        for row in text.rstrip("\n").splitlines() or [""]:
            self.line(f"{marker}{row}".rstrip())

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> None:
        widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=False)]
        fmt = indent + "  ".join(f"{{:<{w}}}" for w in widths)
        self.line(fmt.format(*header).rstrip())
        self.line(fmt.format(*("-" * w for w in widths)).rstrip())
        for row in rows:
            self.line(fmt.format(*(str(c) for c in row)).rstrip())
