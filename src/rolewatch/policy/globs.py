"""IAM wildcard patterns (`*` any run of characters, `?` one character) on ARNs.

IAM matches Resource patterns against ARNs with these two wildcards only; `*` crosses `/` and `:`.

The catalogue's ARN formats (`arn:${Partition}:s3:::${BucketName}/${ObjectName}`) hold variables that
stand for names, and a name stays within its segment (see `arn_format_tokens`): a bucket ARN never
holds a `/`, so `arn:aws:s3:::bucket/*` names objects, never the bucket itself.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache


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


# -- ARN formats with segment-bounded variables ------------------------------------------------------
# A format is tokenised into literal characters and variables; a variable is the set of characters it
# may not hold ("" = any text). Patterns are matched against formats part by part like ARNs.
FormatTokens = tuple[str, ...]
_SEGMENT_DELIMITERS = "/:"
ANY_TEXT = ""


@cache
def arn_format_tokens(arn_format: str) -> tuple[FormatTokens, ...]:
    """The six colon-delimited parts of an ARN format, each a tuple of tokens: a one-character literal,
    or a variable written as "${" followed by the characters the variable cannot contain.

    What a variable may hold (the names AWS documents for each resource type):
    - followed by `/` or `:` in the format (`${BucketName}/${ObjectName}`, `log-group:${LogGroupName}:`):
      anything but that delimiter; a bucket name holds no `/`, a log group name holds no `:`;
    - the whole resource part (`arn:${Partition}:s3:::${BucketName}`, SQS queues, SNS topics, CodeCommit
      repositories): one segment, no `/`, unless it names an embedded ARN (`${ConnectionArn}`);
    - otherwise, at the end of a resource part with a type prefix (`role/${RoleNameWithPath}`,
      `secret:${SecretId}`, `${BucketName}/${ObjectName}`): any text, paths included.
    """
    parts = arn_format.split(":", 5)
    return tuple(_tokens(part, is_resource=len(parts) == 6 and i == 5) for i, part in enumerate(parts))


def _tokens(part: str, *, is_resource: bool) -> FormatTokens:
    out: list[str] = []
    pos = 0
    for match in ARN_VARIABLE.finditer(part):
        out.extend(part[pos : match.start()])
        following = part[match.end() : match.end() + 1]
        if following and following in _SEGMENT_DELIMITERS:
            excluded = following
        elif is_resource and match.start() == 0 and match.end() == len(part) and not match.group().endswith("Arn}"):
            excluded = "/"
        else:
            excluded = ANY_TEXT
        out.append("${" + excluded)
        pos = match.end()
    out.extend(part[pos:])
    return tuple(out)


def arn_pattern_meets_format(pattern: str, tokens: tuple[FormatTokens, ...]) -> bool:
    """Can the Resource pattern match some ARN of the tokenised format? Parts compare separately, as
    in `arn_globs_intersect`; a pattern that is not six parts long is compared as one string."""
    if pattern == "*":
        return True
    parts = pattern.split(":", 5)
    if len(parts) != 6 or len(tokens) != 6:
        joined: list[str] = []
        for i, part in enumerate(tokens):
            if i:
                joined.append(":")
            joined.extend(part)
        return _meets(pattern, tuple(joined))
    for i in range(5):
        if not part_meets(parts[i], tokens[i]):
            return False
    return _meets(parts[5], tokens[5])


@lru_cache(maxsize=2048)
def part_meets(pattern: str, tokens: FormatTokens) -> bool:
    """One of the first five parts (arn, partition, service, region, account): they repeat a lot."""
    return _meets(pattern, tokens)


def arn_resource_meets_format(resource: str, tokens: FormatTokens) -> bool:
    """The resource part (after the fifth colon) of a pattern against a format's resource tokens."""
    return _meets(resource, tokens)


def _meets(pattern: str, tokens: FormatTokens) -> bool:
    """Is there a string that the glob `pattern` and the format tokens both match?"""
    if pattern == "*" or tokens == (VARIABLE_ANY,):
        return True
    # Fast paths through the C regex engine for the usual shapes: a literal ARN part, or a literal
    # followed by one star (`bucket/*`, `table/orders*`).
    star = pattern.find("*")
    if "?" not in pattern and (star < 0 or star == len(pattern) - 1):
        if star < 0:
            return _format_regex(tokens).fullmatch(pattern) is not None
        return _is_prefix(pattern[:-1], tokens)
    if not _ends_agree(pattern, tokens):
        return False
    n, m = len(pattern), len(tokens)
    seen: set[tuple[int, int]] = set()
    stack = [(0, 0)]
    while stack:
        i, j = stack.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == n and j == m:
            return True
        p = pattern[i] if i < n else None
        t = tokens[j] if j < m else None
        if p == "*":
            stack.append((i + 1, j))  # the star matches nothing more
            if t is not None:
                stack.append((i, j + 1))  # the star absorbs the token (a literal, or all of a variable)
        if t is not None and len(t) > 1:  # a variable
            stack.append((i, j + 1))  # it holds nothing more
            excluded = t[2:]
            if p == "?" or (p is not None and p != "*" and p not in excluded):
                stack.append((i + 1, j))  # it holds the pattern's next character
        elif t is not None and p is not None and p != "*" and (p == t or p == "?"):
            stack.append((i + 1, j + 1))
    return False


VARIABLE_ANY = "${" + ANY_TEXT
_WILDCARDS = re.compile(r"[*?]")


@lru_cache(maxsize=4096)
def _format_ends(tokens: FormatTokens) -> tuple[str, str, bool]:
    """The format's literal text before its first variable and after its last, and whether it has one."""
    variables = [k for k, t in enumerate(tokens) if len(t) > 1]
    if not variables:
        whole = "".join(tokens)
        return whole, whole, False
    return "".join(tokens[: variables[0]]), "".join(tokens[variables[-1] + 1 :]), True


def _ends_agree(pattern: str, tokens: FormatTokens) -> bool:
    """Cheap necessary condition: the literal text before the first wildcard or variable agrees on
    both sides, and so does the literal text after the last one."""
    format_head, format_tail, has_variable = _format_ends(tokens)
    pieces = _WILDCARDS.split(pattern)
    head, tail = pieces[0], pieces[-1]
    if not has_variable and len(pieces) == 1:
        return pattern == format_head
    if not (head.startswith(format_head) or format_head.startswith(head)):
        return False
    return tail.endswith(format_tail) or format_tail.endswith(tail)


def _token_regex(token: str) -> str:
    if len(token) == 1:
        return re.escape(token)
    excluded = token[2:]
    return f"[^{re.escape(excluded)}]*" if excluded else ".*"


@lru_cache(maxsize=4096)
def _format_regex(tokens: FormatTokens) -> re.Pattern[str]:
    """The regex of the strings the format matches."""
    return re.compile("".join(_token_regex(t) for t in tokens), re.S)


@lru_cache(maxsize=4096)
def _walk_plan(tokens: FormatTokens) -> tuple[tuple[str, str | None], ...] | None:
    """The format as (literal, variable) steps when it can be walked without backtracking: every
    variable but the last one ends where the delimiter it cannot hold begins. None otherwise."""
    steps: list[tuple[str, str | None]] = []
    literal: list[str] = []
    previous_excluded: str | None = None
    for token in tokens:
        if len(token) == 1:
            if previous_excluded is not None and not literal and token != previous_excluded:
                return None  # the variable could run on into this literal
            literal.append(token)
            continue
        if previous_excluded is not None and not literal:
            return None  # two variables in a row
        if steps and steps[-1][1] == ANY_TEXT:
            return None  # an unbounded variable before more text
        steps.append(("".join(literal), token[2:]))
        literal = []
        previous_excluded = token[2:] or None
    if steps and steps[-1][1] == ANY_TEXT and literal:
        return None
    steps.append(("".join(literal), None))
    return tuple(steps)


def _is_prefix(text: str, tokens: FormatTokens) -> bool:
    """Does some string the format matches start with the literal text?"""
    plan = _walk_plan(tokens)
    if plan is None:
        return _is_prefix_by_automaton(text, tokens)
    pos, end = 0, len(text)
    for literal, excluded in plan:
        rest = end - pos
        if rest <= len(literal):
            return text.startswith(literal[:rest], pos)
        if not text.startswith(literal, pos):
            return False
        pos += len(literal)
        if excluded is None:
            return pos == end  # the format ends here; the text goes on
        if excluded == ANY_TEXT:
            return True  # the last variable holds the rest
        stop = text.find(excluded, pos)
        if stop < 0:
            return True  # the rest of the text lies inside the variable
        pos = stop  # the next literal starts with that delimiter
    return pos == end


def _is_prefix_by_automaton(text: str, tokens: FormatTokens) -> bool:
    """_is_prefix for any format: the states are token positions; a variable may hold nothing or more."""
    m = len(tokens)
    states = _skip_variables({0}, tokens)
    for c in text:
        advanced: set[int] = set()
        for j in states:
            if j == m:
                continue
            token = tokens[j]
            if len(token) > 1:
                if c not in token[2:]:
                    advanced.add(j)  # the variable holds c and maybe more
            elif token == c:
                advanced.add(j + 1)
        if not advanced:
            return False
        states = _skip_variables(advanced, tokens)
    return True


def _skip_variables(states: set[int], tokens: FormatTokens) -> set[int]:
    out = set(states)
    for state in states:
        j = state
        while j < len(tokens) and len(tokens[j]) > 1:
            j += 1
            out.add(j)
    return out


# -- "every resource of a type": a pattern that covers a whole ARN format ------------------------------
# Private-use characters stand for the wildcards of the covered side, so that only a wildcard of the
# covering pattern can absorb them.
_STAR, _QUESTION = "\ue000", "\ue001"


@lru_cache(maxsize=8192)
def _covering_regex(pattern: str) -> re.Pattern[str]:
    out = []
    for c in pattern:
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(f"[^{_STAR}]")  # one character, never a run of them
        else:
            out.append(re.escape(c))
    return re.compile("".join(out), re.S)


def glob_includes(outer: str, inner: str) -> bool:
    """Does every string the glob `inner` matches also match the glob `outer`? Sound (a True is
    always right); `inner`'s wildcards are symbols only `outer`'s wildcards can absorb."""
    if outer == "*" or outer == inner:
        return True
    # Cheap necessary conditions first: outer's literal head and tail must be inner's too (most
    # patterns name one bucket or table, and are compared against a format's generic shape).
    head, tail = _literal_ends(outer)
    if not inner.startswith(head) or not inner.endswith(tail) or _WILD_CHARS.search(inner[: len(head)]):
        return False
    symbolic = inner.replace("*", _STAR).replace("?", _QUESTION)
    return _covering_regex(outer).fullmatch(symbolic) is not None


_WILD_CHARS = re.compile(r"[*?]")


@lru_cache(maxsize=8192)
def _literal_ends(pattern: str) -> tuple[str, str]:
    """The literal text before the first wildcard and after the last one ("" when it starts or ends with one)."""
    pieces = _WILD_CHARS.split(pattern)
    if len(pieces) == 1:
        return pattern, pattern
    return pieces[0], pieces[-1]


# The first five parts of an ARN format that are variables name the account's own scope (partition,
# region, account): a pattern that fixes them still reaches every resource of the type there.
_SCOPE_VARIABLES = re.compile(r"^\$\{[^}]*\}$")


@cache
def pattern_covers_format(pattern: str, arn_format: str) -> bool:
    """Does the Resource pattern reach every resource of the ARN format, in the partition, region and
    account it names? `arn:aws:s3:::*` and `arn:*:s3:::*/*` cover `arn:${Partition}:s3:::${BucketName}/
    ${ObjectName}`; `arn:aws:iam::*:role/*` and `arn:aws:iam::123456789012:role/*` cover every role;
    `arn:aws:s3:::logs-*` does not. A variable in the resource part is any text (it may span `/`)."""
    if pattern == "*":
        return True
    parts = pattern.split(":", 5)
    formats = arn_format.split(":", 5)
    if len(parts) != 6 or len(formats) != 6:
        return glob_includes(pattern, arn_format_glob(arn_format))
    for i in range(5):
        p, f = parts[i], formats[i]
        if _SCOPE_VARIABLES.match(f):
            if not p:
                return False  # an empty region or account names no ARN that has one
            if i == 1 and "*" not in p and "?" not in p and not p.startswith("aws"):
                return False  # not a partition at all
            continue
        if not glob_includes(p, arn_format_glob(f)):
            return False
    return glob_includes(parts[5], arn_format_glob(formats[5]))
