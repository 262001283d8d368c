"""IAM wildcard patterns (`*` any run of characters, `?` one character) on ARNs.

IAM matches Resource patterns against ARNs with these two wildcards only; `*` crosses `/` and `:`.
"""

from __future__ import annotations

import re
from functools import cache


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.S)


def glob_match(pattern: str, text: str) -> bool:
    """Does the concrete string `text` match the IAM pattern?"""
    if pattern == "*":
        return True
    return _regex(pattern).fullmatch(text) is not None


@cache
def globs_intersect(a: str, b: str) -> bool:
    """Is there a string that both patterns match? (Both may hold wildcards.)"""
    if a == "*" or b == "*":
        return True
    # Dynamic programming over positions: reachable[j] after consuming a[:i] means a[:i] and b[:j]
    # can match a common string. '*' may absorb any run of characters of the other side.
    n, m = len(a), len(b)
    seen: set[tuple[int, int]] = set()
    stack = [(0, 0)]
    while stack:
        i, j = stack.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == n and j == m:
            return True
        ca = a[i] if i < n else None
        cb = b[j] if j < m else None
        if ca == "*":
            stack.append((i + 1, j))  # the star matches nothing more
            if j < m:
                stack.append((i, j + 1))  # the star absorbs b[j] (a literal, '?' or part of b's '*')
        if cb == "*":
            stack.append((i, j + 1))
            if i < n:
                stack.append((i + 1, j))
        if ca is not None and cb is not None and ca != "*" and cb != "*":
            if ca == cb or ca == "?" or cb == "?":
                stack.append((i + 1, j + 1))
    return False


def arn_globs_intersect(pattern: str, arn_glob: str) -> bool:
    """Can a Resource pattern match an ARN of the given format? IAM compares the six colon-delimited
    parts of an ARN separately (a wildcard never spans a colon before the resource part)."""
    if pattern == "*":
        return True
    left = pattern.split(":", 5)
    right = arn_glob.split(":", 5)
    if len(left) != 6 or len(right) != 6:
        return globs_intersect(pattern, arn_glob)
    return all(_part_intersects(a, b) for a, b in zip(left, right, strict=True))


def _part_intersects(a: str, b: str) -> bool:
    if a == b or a == "*" or b == "*":
        return True
    a_wild = "*" in a or "?" in a
    b_wild = "*" in b or "?" in b
    if not a_wild and not b_wild:
        return False
    if not a_wild:
        return glob_match(b, a)
    if not b_wild:
        return glob_match(a, b)
    return globs_intersect(a, b)


def glob_covers(outer: str, inner: str) -> bool:
    """Does every string `inner` matches also match `outer`? Answers True only when provable simply."""
    if outer == "*" or outer == inner:
        return True
    if "*" not in inner and "?" not in inner:
        return glob_match(outer, inner)
    # outer = prefix* covers any inner that starts with the same literal prefix
    if outer.endswith("*") and "*" not in outer[:-1] and "?" not in outer[:-1]:
        prefix = outer[:-1]
        literal_head = re.split(r"[*?]", inner, maxsplit=1)[0]
        return literal_head.startswith(prefix)
    return False


ARN_VARIABLE = re.compile(r"\$\{[^}]*\}")


@cache
def arn_format_glob(arn_format: str) -> str:
    """'arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}' -> 'arn:*:iam::*:role/*'."""
    return ARN_VARIABLE.sub("*", arn_format)
