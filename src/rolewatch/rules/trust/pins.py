"""Which trust conditions pin what: the condition-pin tables, and how a condition is read.

Conditions are read as IAM evaluates them (keys compare case-insensitively):
- only operators that *require* a value narrow anything: StringEquals, StringEqualsIgnoreCase,
  StringLike, ArnEquals, ArnLike (and Bool "true" for MFA, IpAddress for network origin). Negated
  operators (StringNotEquals, ...) exclude some callers and admit every other one;
- a `...IfExists` operator passes when the key is absent from the request, and `ForAllValues:` passes
  when the key has no value at all, so neither is relied on; `ForAnyValue:` is read as the plain operator;
- StringLike/ArnLike/ArnEquals values are patterns; a value without `*` or `?` is an exact match, and
  what a pattern pins is its literal part before the first wildcard.

The tables map a (lower-case) condition key to the check its value must pass; a key ending in `/`
stands for every key it begins (tag keys such as aws:PrincipalTag/team).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from rolewatch.policy.document import Condition

PIN_OPERATORS = {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike"}
PATTERN_OPERATORS = {"StringLike", "ArnLike", "ArnEquals"}  # ArnEquals accepts wildcards like ArnLike


def required_values(condition: Condition) -> tuple[str, ...] | None:
    """The values a condition requires its key to match, or None when it does not require one."""
    if condition.if_exists or condition.qualifier == "ForAllValues":
        return None
    if condition.base not in PIN_OPERATORS:
        return None
    return condition.values


def literal_head(condition: Condition, value: str) -> tuple[str, bool]:
    """The literal part a value pins, and whether a wildcard follows it (only pattern operators have them)."""
    if condition.base not in PATTERN_OPERATORS:
        return value, False
    wildcard = re.search(r"[*?]", value)
    return (value, False) if wildcard is None else (value[: wildcard.start()], True)


ValueCheck = Callable[[str, bool], bool]  # (literal head, wildcard follows) -> does it pin the key?


def _exact(head: str, wild: bool) -> bool:
    return bool(head) and not wild


def _non_trivial(head: str, wild: bool) -> bool:
    return bool(head)


def _arn_account_pinned(head: str, wild: bool) -> bool:
    """The ARN's account is fixed (or, for an S3 ARN without one, the bucket name begins literally)."""
    if not wild:
        return bool(head)
    parts = head.split(":")
    if len(parts) < 6:
        return False
    return bool(parts[4]) or bool(parts[5])


def _arn_resource_pinned(head: str, wild: bool) -> bool:
    """The ARN names more than a whole account: `...:role/ci-*` does, `...:role/*` and `...:*` do not."""
    if not wild:
        return bool(head)
    parts = head.split(":", 5)
    if len(parts) < 6 or not parts[4]:
        return False
    _, slash, name = parts[5].partition("/")
    return bool(slash and name)


def _org_path_pinned(head: str, wild: bool) -> bool:
    return _exact(head, wild) or (head.startswith("o-") and "/" in head)


def conditions_pinning(conditions: Iterable[Condition], checks: dict[str, ValueCheck]) -> list[Condition]:
    """The conditions that require one of `checks`' keys to take values that each pass the key's check."""
    out = []
    for condition in conditions:
        check = _check_for(condition.key.lower(), checks)
        values = required_values(condition)
        if check is None or not values:
            continue
        if all(check(*literal_head(condition, value)) for value in values):
            out.append(condition)
    return out


def _check_for(key: str, checks: dict[str, ValueCheck]) -> ValueCheck | None:
    if key in checks:
        return checks[key]
    for name, check in checks.items():
        if name.endswith("/") and key.startswith(name):  # tag keys: aws:PrincipalTag/team
            return check
    return None


def mfa_required(conditions: Iterable[Condition]) -> list[Condition]:
    return [
        c
        for c in conditions
        if c.key.lower() == "aws:multifactorauthpresent"
        and c.base == "Bool"
        and not c.if_exists  # BoolIfExists passes for long-term keys, which carry no MFA context
        and [v.lower() for v in c.values] == ["true"]
    ]


def network_restricted(conditions: Iterable[Condition]) -> list[Condition]:
    out = []
    for c in conditions:
        key = c.key.lower()
        if c.if_exists or c.qualifier == "ForAllValues":
            continue
        source_ip = key == "aws:sourceip" and c.base == "IpAddress" and not any(v.endswith("/0") for v in c.values)
        vpc = key in ("aws:sourcevpc", "aws:sourcevpce") and required_values(c) and not any("*" in v for v in c.values)
        if source_ip or vpc:
            out.append(c)
    return out


# Keys that pin *who* the caller is (organisation, account, principal, or the resource a service acts for).
IDENTITY_PINS: dict[str, ValueCheck] = {
    "aws:principalorgid": _exact,
    "aws:principalorgpaths": _org_path_pinned,
    "aws:principalaccount": _exact,
    "aws:principalarn": _arn_account_pinned,
    "aws:userid": _non_trivial,
    "aws:sourceaccount": _exact,
    "aws:sourcearn": _arn_account_pinned,
    "aws:sourceorgid": _exact,
    "aws:sourceorgpaths": _org_path_pinned,
}


# Keys that narrow a wildcard without pinning an identity: any account can meet them.
WEAK_PINS: dict[str, ValueCheck] = {
    "sts:externalid": _non_trivial,
    "aws:principaltag/": _non_trivial,
}


# Keys that narrow a whole-account trust to some of the account's principals.
ACCOUNT_NARROWING: dict[str, ValueCheck] = {
    "aws:principalarn": _arn_resource_pinned,
    "aws:userid": _non_trivial,
    "aws:principaltag/": _non_trivial,
    "sts:externalid": _non_trivial,
    "aws:sourceidentity": _non_trivial,
    "sts:sourceidentity": _non_trivial,
}


# A whole-account principal narrowed to named roles or users of it (`...:role/ci`, `...:role/ci-*`).
NAMED_PRINCIPALS: dict[str, ValueCheck] = {"aws:principalarn": _arn_resource_pinned}


EXTERNAL_ID: dict[str, ValueCheck] = {"sts:externalid": _non_trivial}
SOURCE_PINS: dict[str, ValueCheck] = {
    "aws:sourceaccount": _exact,
    "aws:sourcearn": _arn_account_pinned,
    "aws:sourceorgid": _exact,
    "aws:sourceorgpaths": _org_path_pinned,
}


def describe(conditions: Iterable[Condition]) -> str:
    return "; ".join(f"{c.operator} {c.key}={list(c.values)}" for c in conditions)
