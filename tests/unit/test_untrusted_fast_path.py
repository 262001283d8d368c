"""The JSON report's escaping has a fast path for ASCII text: it must decide exactly as the slow one."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from rolewatch.untrusted import _plain_lines, escape_hidden


@given(st.text())
def test_fast_path_decides_as_isprintable(text: str) -> None:
    assert _plain_lines(text) == text.replace("\n", "").isprintable()


@given(st.text(alphabet=st.characters(max_codepoint=0x7F)))
def test_ascii_text_with_hidden_characters_is_escaped(text: str) -> None:
    escaped = escape_hidden(text)
    assert escaped.replace("\n", "").isprintable()
    if text.replace("\n", "").isprintable():
        assert escaped == text


def test_del_and_escape_in_json_are_escaped_and_parse_the_same() -> None:
    text = json.dumps({"role": "a\x7fb\x1b[31mc"}, ensure_ascii=False)
    escaped = escape_hidden(text)
    assert "\x7f" not in escaped and "\x1b" not in escaped
    assert json.loads(escaped) == json.loads(text)
