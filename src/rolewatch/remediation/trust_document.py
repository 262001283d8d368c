"""Edits of a trust policy document: the corrected trust policy a trust finding carries.

The rules judge the parsed document (rolewatch.policy.document); the fix is written on a copy of the
raw one, so keys, principals and conditions the finding does not touch stay as the owner wrote them.
Statements are located by identity in the parsed document, whose order matches the raw `Statement`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from rolewatch.policy.document import Statement, decode_document


def trust_document(raw_trust: Any) -> dict[str, Any]:
    """A deep copy of the raw trust policy, with `Statement` always a list (indexes match the parsed one)."""
    document = copy.deepcopy(decode_document(raw_trust))
    body = document["Statement"]
    document["Statement"] = [body] if isinstance(body, dict) else body
    return document


def statement_index(statements: Sequence[Statement], statement: Statement) -> int:
    # By identity: two identical statements compare equal, but each has its own place.
    return next(i for i, s in enumerate(statements) if s is statement)


def replace_statement(
    raw_trust: Any, statements: Sequence[Statement], statement: Statement, replacement: list[dict[str, Any]]
) -> dict[str, Any]:
    """The trust policy with one statement replaced by `replacement` (one or more statements)."""
    document = trust_document(raw_trust)
    index = statement_index(statements, statement)
    document["Statement"][index : index + 1] = replacement
    return document


def raw_statement(raw_trust: Any, statements: Sequence[Statement], statement: Statement) -> dict[str, Any]:
    """A copy of the raw statement the parsed `statement` came from."""
    return copy.deepcopy(trust_document(raw_trust)["Statement"][statement_index(statements, statement)])


def split_principals(raw: dict[str, Any], kind: str, values: list[str]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Move `values` of one principal kind into a statement of their own: (what remains or None, moved)."""
    principal = raw.get("Principal")
    moved = copy.deepcopy(raw)
    moved["Principal"] = {kind: values[0] if len(values) == 1 else list(values)}
    if not isinstance(principal, dict):
        return None, moved
    remaining: dict[str, Any] = {}
    for k, v in principal.items():
        kept = [x for x in ([v] if isinstance(v, str) else v) if not (k == kind and x in values)]
        if kept:
            remaining[k] = kept[0] if len(kept) == 1 else kept
    if not remaining:
        return None, moved
    rest = copy.deepcopy(raw)
    rest["Principal"] = remaining
    if moved.get("Sid"):
        moved["Sid"] = f"{moved['Sid']}Restricted"  # Sids must stay unique within the policy
    return rest, moved


def add_condition(raw: dict[str, Any], operator: str, key: str, value: str | list[str]) -> dict[str, Any]:
    block = raw.setdefault("Condition", {}).setdefault(operator, {})
    block[key] = value
    return raw


def remove_condition_keys(raw: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    """Drop every condition on the (lower-case) keys, whatever the operator; empty blocks go too."""
    conditions = raw.get("Condition")
    if not isinstance(conditions, dict):
        return raw
    for operator in list(conditions):
        block = conditions[operator]
        for key in [k for k in block if k.lower() in keys]:
            del block[key]
        if not block:
            del conditions[operator]
    if not conditions:
        del raw["Condition"]
    return raw
