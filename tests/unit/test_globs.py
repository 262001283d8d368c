"""IAM wildcard patterns: matching, intersection (plain and ARN segment-wise), covering, ARN formats."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rolewatch.policy.globs import (
    arn_format_glob,
    arn_format_tokens,
    arn_globs_intersect,
    arn_pattern_meets_format,
    glob_covers,
    glob_match,
    globs_intersect,
)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        pytest.param("*", "", True, id="star-matches-empty"),
        pytest.param("*", "arn:aws:s3:::anything/at/all", True, id="star-matches-all"),
        pytest.param("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y", True, id="star-crosses-slash"),
        pytest.param("arn:aws:*", "arn:aws:iam::1:role/x", True, id="star-crosses-colon"),
        pytest.param("arn:aws:s3:::b/*", "arn:aws:s3:::b", False, id="prefix-needs-the-slash"),
        pytest.param("a?c", "abc", True, id="question-one-char"),
        pytest.param("a?c", "ac", False, id="question-not-zero-chars"),
        pytest.param("a?c", "abbc", False, id="question-not-two-chars"),
        pytest.param("Role", "role", False, id="case-sensitive"),
        pytest.param("a.b", "axb", False, id="dot-is-literal"),
        pytest.param("a+b(c)[d]", "a+b(c)[d]", True, id="regex-specials-are-literal"),
        pytest.param("a*", "a", True, id="star-may-be-empty"),
        pytest.param("", "", True, id="empty-matches-empty"),
        pytest.param("line*", "line1\nline2", True, id="star-crosses-newline"),
    ],
)
def test_glob_match(pattern: str, text: str, expected: bool) -> None:
    assert glob_match(pattern, text) is expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        pytest.param("*", "anything", True, id="star-left"),
        pytest.param("anything", "*", True, id="star-right"),
        pytest.param("abc", "abc", True, id="equal-literals"),
        pytest.param("abc", "abd", False, id="different-literals"),
        pytest.param("a*", "*b", True, id="stars-both-sides"),
        pytest.param("a*c", "ab*", True, id="stars-overlap"),
        pytest.param("a*", "b*", False, id="different-heads"),
        pytest.param("*a", "*b", False, id="different-tails"),
        pytest.param("a?c", "a*", True, id="question-vs-star"),
        pytest.param("a?", "a", False, id="question-needs-a-char"),
        pytest.param("?", "", False, id="question-vs-empty"),
        pytest.param("?", "a*b", False, id="one-char-vs-at-least-two"),
        pytest.param("??", "a*b", True, id="two-chars-vs-at-least-two"),
        pytest.param("arn:aws:s3:::b/*", "arn:*:s3:::*/*", True, id="arn-object"),
        pytest.param("arn:aws:s3:::b", "arn:*:s3:::*/*", False, id="bucket-is-not-object"),
    ],
)
def test_globs_intersect(a: str, b: str, expected: bool) -> None:
    assert globs_intersect(a, b) is expected
    assert globs_intersect(b, a) is expected


PATTERN_ALPHABET = "ab*?"
TEXT_ALPHABET = "abc"


def _witness_exists(a: str, b: str) -> bool:
    """Brute force: a string both patterns match, no longer than both patterns together (enough: each
    star needs at most the other side's literal run)."""
    limit = len(a) + len(b)
    return any(
        glob_match(a, text) and glob_match(b, text)
        for n in range(limit + 1)
        for text in map("".join, itertools.product(TEXT_ALPHABET, repeat=n))
    )


@settings(max_examples=200, deadline=None)
@given(st.text(PATTERN_ALPHABET, max_size=4), st.text(PATTERN_ALPHABET, max_size=4))
def test_globs_intersect_agrees_with_brute_force(a: str, b: str) -> None:
    assert globs_intersect(a, b) is _witness_exists(a, b)


@pytest.mark.parametrize(
    ("pattern", "arn_glob", "expected"),
    [
        pytest.param("*", "arn:*:iam::*:role/*", True, id="star"),
        pytest.param("arn:aws:s3:::bucket/*", "arn:*:s3:::*/*", True, id="object-pattern-vs-object"),
        pytest.param("arn:aws:s3:::bucket", "arn:*:s3:::*/*", False, id="bucket-pattern-vs-object"),
        pytest.param("arn:aws:s3:::bucket", "arn:*:s3:::*", True, id="bucket-pattern-vs-bucket"),
        pytest.param("arn:aws:s3:::*", "arn:*:iam::*:role/*", False, id="other-service"),
        pytest.param("arn:aws:iam::*:role/x", "arn:*:iam::*:user/*", False, id="other-resource-type"),
        pytest.param("arn:aws:*:*:*:*", "arn:*:iam::*:role/*", True, id="all-segments-wild"),
        pytest.param("arn:aws-cn:iam::*:role/*", "arn:*:iam::*:role/*", True, id="partition-vs-variable"),
        pytest.param("arn:aws:s?:::b", "arn:*:s3:::*", True, id="question-in-service"),
        # A star in the region segment does not reach into the account segment (ArnLike semantics):
        # as one string "arn:aws:s3:*:123:job/1" would intersect "arn:*:s3:::*", segment-wise it cannot.
        pytest.param("arn:aws:s3:*:123:job/1", "arn:*:s3:::*", False, id="star-does-not-span-colon"),
        pytest.param("arn:aws:s3:us-east-1:*:job/*", "arn:*:s3:*:*:job/*", True, id="regional-job"),
        pytest.param("arn:aws:s3:::a*", "arn:*:s3:us-east-1:*:accesspoint/*", False, id="global-vs-regional"),
        # The resource part keeps its own colons and slashes.
        pytest.param(
            "arn:aws:logs:us-east-1:123:log-group:app:*",
            "arn:*:logs:*:*:log-group:*:log-stream:*",
            True,
            id="resource-part-with-colons",
        ),
        pytest.param(
            "arn:aws:logs:us-east-1:123:log-group:app",
            "arn:*:logs:*:*:log-group:*:log-stream:*",
            False,
            id="log-group-is-not-log-stream",
        ),
        pytest.param("arn:aws:s3:::b/k/*", "arn:*:s3:::*/*", True, id="resource-part-with-slashes"),
        pytest.param("arn:aws:iam::*", "arn:*:iam::*:role/*", True, id="short-pattern-falls-back-to-whole-string"),
        pytest.param("not-an-arn", "arn:*:iam::*:role/*", False, id="not-an-arn"),
    ],
)
def test_arn_globs_intersect(pattern: str, arn_glob: str, expected: bool) -> None:
    assert arn_globs_intersect(pattern, arn_glob) is expected


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        pytest.param("*", "arn:aws:s3:::b/*", True, id="star-covers-all"),
        pytest.param("arn:aws:s3:::b/*", "arn:aws:s3:::b/*", True, id="equal"),
        pytest.param("arn:aws:s3:::b/*", "arn:aws:s3:::b/secret/*", True, id="prefix-star-covers-narrower"),
        pytest.param("arn:aws:s3:::b/*", "arn:aws:s3:::b/x?y", True, id="prefix-star-covers-question"),
        pytest.param("arn:aws:s3:::b/*", "arn:aws:s3:::b/key", True, id="covers-literal"),
        pytest.param("arn:aws:s3:::b/*", "arn:aws:s3:::c/key", False, id="other-bucket-literal"),
        pytest.param("arn:aws:s3:::b/secret/*", "arn:aws:s3:::b/*", False, id="narrower-does-not-cover-wider"),
        pytest.param("arn:aws:s3:::b/*", "arn:aws:s3:::*", False, id="does-not-cover-other-buckets"),
        pytest.param("arn:aws:s3:::b/*.txt", "arn:aws:s3:::b/*.txt", True, id="equal-complex"),
        pytest.param("arn:aws:s3:::b/*.txt", "arn:aws:s3:::b/x*.txt", False, id="complex-outer-is-not-proven"),
        pytest.param("a?c", "abc", True, id="question-covers-literal"),
        pytest.param("a?c", "a*c", False, id="question-does-not-cover-star"),
    ],
)
def test_glob_covers(outer: str, inner: str, expected: bool) -> None:
    assert glob_covers(outer, inner) is expected


def _instances(pattern: str, fillers: list[str]) -> list[str]:
    """Concrete strings the pattern matches: each wildcard replaced by filler text of fitting length."""
    # Fillers hold no wildcard characters, so replacing one kind cannot create the other.
    return [pattern.replace("*", filler).replace("?", filler[:1] or "x") for filler in fillers]


@settings(max_examples=200, deadline=None)
@given(
    outer=st.text("ab/*?", max_size=6),
    inner=st.text("ab/*?", max_size=6),
    fillers=st.lists(st.text("ab/", max_size=4), min_size=1, max_size=5),
)
def test_glob_covers_is_sound(outer: str, inner: str, fillers: list[str]) -> None:
    # glob_covers may answer False when unsure (deny is then not relied on), never True wrongly.
    if glob_covers(outer, inner):
        for text in _instances(inner, fillers):
            assert glob_match(inner, text)
            assert glob_match(outer, text), (outer, inner, text)


@pytest.mark.parametrize(
    ("arn_format", "expected"),
    [
        ("arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}", "arn:*:iam::*:role/*"),
        ("arn:${Partition}:s3:::${BucketName}/${ObjectName}", "arn:*:s3:::*/*"),
        (
            "arn:${Partition}:s3:us-west-2:${Account}:async-request/mrap/${Operation}/${Token}",
            "arn:*:s3:us-west-2:*:async-request/mrap/*/*",
        ),
        ("arn:aws:iam::aws:policy/AdministratorAccess", "arn:aws:iam::aws:policy/AdministratorAccess"),
        ("${Any}", "*"),
    ],
)
def test_arn_format_glob(arn_format: str, expected: str) -> None:
    assert arn_format_glob(arn_format) == expected


# -- ARN formats: variables stay within their segment -----------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "arn_format", "expected"),
    [
        pytest.param("arn:aws:s3:::bucket/*", "arn:${Partition}:s3:::${BucketName}", False, id="bucket-holds-no-slash"),
        pytest.param("arn:aws:s3:::bucket", "arn:${Partition}:s3:::${BucketName}", True, id="bucket"),
        pytest.param("arn:aws:s3:::bucket*", "arn:${Partition}:s3:::${BucketName}", True, id="bucket-prefix"),
        pytest.param("arn:aws:s3:::*", "arn:${Partition}:s3:::${BucketName}", True, id="every-bucket"),
        pytest.param("arn:aws:s3:::bucket/*", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", True, id="objects"),
        pytest.param(
            "arn:aws:s3:::bucket/a/b/c.txt", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", True, id="object-path"
        ),
        pytest.param(
            "arn:aws:s3:::bucket", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", False, id="bucket-is-no-object"
        ),
        pytest.param(
            "arn:aws:iam::123:role/team/app/*",
            "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}",
            True,
            id="role-names-hold-paths",
        ),
        pytest.param(
            "arn:aws:logs:*:*:log-group:/aws/lambda/fn:*",
            "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}",
            True,
            id="log-group-names-hold-slashes",
        ),
        pytest.param(
            "arn:aws:logs:*:*:log-group:a:b:log-stream:x",
            "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}",
            False,
            id="log-group-names-hold-no-colon",
        ),
        pytest.param(
            "arn:aws:secretsmanager:*:*:secret:prod/db-*",
            "arn:${Partition}:secretsmanager:${Region}:${Account}:secret:${SecretId}",
            True,
            id="secret-names-hold-slashes",
        ),
        pytest.param(
            "arn:aws:sqs:*:*:queue/x", "arn:${Partition}:sqs:${Region}:${Account}:${QueueName}", False, id="queue"
        ),
        pytest.param(
            "arn:aws:mgh:*:*:arn:aws:x:y/z",
            "arn:${Partition}:mgh:${Region}:${Account}:${ConnectionArn}",
            True,
            id="an-embedded-arn-holds-anything",
        ),
        pytest.param(
            "arn:aws:s3:::*/x?y", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", True, id="inner-wildcards"
        ),
        pytest.param("arn:aws:s3:::b?", "arn:${Partition}:s3:::${BucketName}", True, id="question-mark"),
        pytest.param("arn:aws:s3:::b?c/x", "arn:${Partition}:s3:::${BucketName}", False, id="question-then-slash"),
        pytest.param("*", "arn:${Partition}:s3:::${BucketName}", True, id="star"),
    ],
)
def test_arn_pattern_meets_format(pattern: str, arn_format: str, expected: bool) -> None:
    assert arn_pattern_meets_format(pattern, arn_format_tokens(arn_format)) is expected


FORMATS_FOR_PROPERTIES = [
    "arn:${Partition}:s3:::${BucketName}",
    "arn:${Partition}:s3:::${BucketName}/${ObjectName}",
    "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}",
    "arn:${Partition}:states:${Region}:${Account}:execution:${StateMachineName}/${MapRunLabel}:${ExecutionId}",
    "arn:${Partition}:backup:${Region}:${Account}:framework:${FrameworkName}-${FrameworkId}",
    "arn:${Partition}:codeartifact:${Region}:${Account}:package-group/${DomainName}${EncodedPackageGroupPattern}",
]


def _oracle_regex(tokens: tuple[str, ...]) -> re.Pattern[str]:
    """The format as a regex, written independently of globs.py's fast paths."""
    parts = []
    for token in tokens:
        if len(token) == 1:
            parts.append(re.escape(token))
        else:
            excluded = token[2:]
            parts.append(f"[^{re.escape(excluded)}]*" if excluded else ".*")
    return re.compile("".join(parts), re.S)


def _arn_head(tokens: tuple[tuple[str, ...], ...]) -> str:
    service = "".join(tokens[2])
    return f"arn:aws:{service}:::" if not tokens[3] else f"arn:aws:{service}:r:1:"


@settings(max_examples=300, deadline=None)
@given(arn_format=st.sampled_from(FORMATS_FOR_PROPERTIES), resource=st.text("a/:-*?", max_size=7))
def test_format_matching_never_misses_a_witness(arn_format: str, resource: str) -> None:
    # Soundness, the direction detection depends on: when some ARN of the format matches the
    # pattern (a witness built from the format with short fillers), the pattern is said to meet it.
    tokens = arn_format_tokens(arn_format)
    fillers = ["", "a", "/", ":", "-", "a/a", "a:a", "a-a"]
    candidates = {"".join(filler if len(t) > 1 else t for t in tokens[5]) for filler in fillers}
    candidates |= {c + tail for c in list(candidates) for tail in fillers}
    oracle = _oracle_regex(tokens[5])
    if any(oracle.fullmatch(c) and glob_match(resource, c) for c in candidates):
        assert arn_pattern_meets_format(_arn_head(tokens) + resource, tokens)


@settings(max_examples=300, deadline=None)
@given(arn_format=st.sampled_from(FORMATS_FOR_PROPERTIES), stem=st.text("a/:-", max_size=7))
def test_prefix_fast_path_agrees_with_the_general_walk(arn_format: str, stem: str) -> None:
    # "stem*" takes the prefix fast path; "stem**" means the same and takes the general walk.
    tokens = arn_format_tokens(arn_format)
    head = _arn_head(tokens)
    fast = arn_pattern_meets_format(head + stem + "*", tokens)
    assert fast is arn_pattern_meets_format(head + stem + "**", tokens)
    # ...and a literal ARN matches exactly when the format's regex says so.
    assert arn_pattern_meets_format(head + stem, tokens) is (_oracle_regex(tokens[5]).fullmatch(stem) is not None)
