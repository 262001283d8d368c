"""Untrusted text made safe to show: one printable line of valid UTF-8, no chat mention, no markup.

Role names, tags, policy values and CloudTrail fields come from whoever made the call or wrote the
file. Shown raw, a newline forges a line at column 0 of a report, an ESC or OSC sequence rewrites a
terminal, a lone surrogate (legal in JSON) cannot be encoded at all, and `<!channel>` pings a whole
chat channel when a forwarder posts the SNS message. Every renderer passes such strings through
`display` (free text) or `inert_json` (JSON shown inside a text report) first; the JSON report keeps
the exact values, escaped by the JSON encoder.

Leaf module: imports nothing of rolewatch, so the trigger parser and every renderer can use it.
"""

from __future__ import annotations

import re

_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Markup a chat forwarder or an HTML view would act on: Slack's <!channel>, <@U123>, <#C123> and
# <https://link|text>, HTML tags (<script>, </a>, <!-- -->, <?xml); and the bare @channel / @here /
# @everyone that Slack, Teams and Discord expand.
_OPENING_MARKUP = re.compile(r"<(?=[A-Za-z!@#/?])")
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
# What inert_json escapes inside JSON strings (all legal JSON escapes, so the document parses the same).
_JSON_MARKUP = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def is_hidden(char: str) -> bool:
    """A character that must not reach a terminal, an e-mail or a chat message as itself: what
    str.isprintable rejects (controls, lone surrogates, bidi overrides and other format characters,
    line and paragraph separators, spaces other than U+0020, private-use and unassigned code points)."""
    return not char.isprintable()


# Printable ASCII and the newline: what a long ASCII text (a whole JSON report) is checked against in
# one C pass (bytes.translate), instead of str.isprintable's call per character.
_PRINTABLE_ASCII_AND_NEWLINE = bytes(range(0x20, 0x7F)) + b"\n"


def _plain_lines(text: str) -> bool:
    """Printable text apart from newlines (the layout of indented JSON)."""
    if text.isascii():
        return not text.encode("ascii").translate(None, _PRINTABLE_ASCII_AND_NEWLINE)
    return text.replace("\n", "").isprintable()


def _escape(char: str) -> str:
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: object) -> str:
    """One line of printable, valid UTF-8: every hidden character (newline, ESC, BEL, a lone surrogate,
    a bidi override) becomes a visible escape such as `\\n`, `\\x1b` or `\\ud800`."""
    value = text if isinstance(text, str) else str(text)
    if value.isprintable() and value.isascii():
        return value
    return "".join(_escape(c) if is_hidden(c) else c for c in value)


def inert_mentions(text: str) -> str:
    """Broadcast mentions made plain text: `@here` shows as `＠here`."""
    return _BROADCAST.sub(lambda m: "\uff20" + m.group(1), text)


def inert_markup(text: str) -> str:
    """Chat and HTML markup made plain text: `<!channel>` shows as `‹!channel>`, `<script>` as
    `‹script>`, `@here` as `＠here`; everything else reads the same."""
    return inert_mentions(_OPENING_MARKUP.sub("\u2039", text))


_LINK = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*)://")


def inert_links(text: str) -> str:
    """URLs defanged as threat reports write them (`https://evil.example` shows as
    `https[:]//evil.example`), so a plain-text report's mail client does not make a name chosen by an
    attacker a link inside a trusted security report."""
    return _LINK.sub(r"\1[:]//", text)


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, saying how many were left out."""
    if len(text) <= limit:
        return text
    tail = f"...[+{len(text) - limit} chars]"
    return text[: max(limit - len(tail), 0)] + tail


def display(text: object, limit: int | None = None, *, markup: bool = True) -> str:
    """Untrusted text as a report shows it: printable, one line, markup inert, optionally shortened.
    `markup=False` leaves `<` to a renderer that escapes it in its own syntax (Markdown)."""
    visible = printable(text)
    shown = inert_markup(visible) if markup else inert_mentions(visible)
    return shorten(shown, limit) if limit is not None else shown


def display_command(line: str) -> str:
    """A fix command (already quoted by rolewatch.shell) as a report shows it: printable, broadcast
    mentions inert. `<` stays: it only occurs inside quotes there, and `'<default-version-id>'` is a
    placeholder the reader must see as written."""
    return inert_mentions(printable(line))


def inert_json(text: str, *, markup: bool = True) -> str:
    """JSON text (from json.dumps) safe to embed in a report or print on a terminal: hidden characters
    inside its strings (a lone surrogate, a C1 control, a bidi override, which `ensure_ascii=False`
    leaves raw) become \\u escapes, and with `markup` so do `<`, `>`, `&` and broadcast mentions. JSON
    escapes the C0 controls itself and these characters only occur inside strings, so the result
    parses to the same value. Raw newlines are kept: they are the layout of indented JSON."""
    if not markup and _plain_lines(text):
        return text
    out = []
    for char in text:
        if markup and char in _JSON_MARKUP:
            out.append(_JSON_MARKUP[char])
        elif char != "\n" and is_hidden(char):
            out.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else _surrogate_pair(char))
        else:
            out.append(char)
    joined = "".join(out)
    return _BROADCAST.sub(lambda m: "\\u0040" + m.group(1), joined) if markup else joined


def escape_hidden(text: str) -> str:
    """Hidden characters other than the newline as \\u escapes; the rest, layout included, unchanged.
    For JSON printed whole and for HTML, whose own escaping handles markup."""
    return inert_json(text, markup=False)


def _surrogate_pair(char: str) -> str:
    code = ord(char) - 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
