"""The one shell-quoting helper every fix command in every report goes through.

Role, policy and profile names come from IAM or from a file someone else wrote (a policy file in a
pull request is attacker-controlled): pasted unquoted, `$(...)`, `;` or a newline in them runs
commands in the reader's shell. `command(...)` quotes each word so the printed line, pasted into a
POSIX shell, passes exactly these words to the program:

- a word of safe characters (letters, digits, `@%+=:,./-_`) stays as it is;
- any other printable word is single-quoted (`shlex.quote`), so nothing in it expands;
- a word with a control or other invisible character (a newline, ESC, a bidi override) is written
  as bash/zsh ANSI-C quoting (`$'...\\n...'`), so a command is always one printable line and no
  report carries a raw control character.

Leaf module: imports nothing of rolewatch.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from functools import lru_cache

_SAFE_WORD = re.compile(r"[\w@%+=:,./-]+", re.ASCII)


def _has_hidden(word: str) -> bool:
    # str.isprintable: false for controls, format characters, separators other than the space,
    # surrogates, private-use and unassigned code points.
    return not word.isprintable()


def _ansi_c(word: str) -> str:
    out = []
    for char in word:
        if char in "\\'":
            out.append("\\" + char)
        elif not char.isprintable():
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(char)
    return "$'" + "".join(out) + "'"


@lru_cache(maxsize=16384)  # every finding's commands repeat the role's name and its policies' ARNs
def quote(word: str) -> str:
    """One shell word for `word`, on one printable line."""
    if _SAFE_WORD.fullmatch(word):
        return word
    if _has_hidden(word):
        return _ansi_c(word)
    return shlex.quote(word)


def command(*words: str) -> str:
    """A command line from its words, every one quoted (placeholders too: `<x>` unquoted is a redirection)."""
    return " ".join(map(quote, words))


def join(words: Iterable[str]) -> str:
    """`command` for a list of words."""
    return command(*words)
