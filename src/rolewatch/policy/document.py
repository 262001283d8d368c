"""Parse IAM policy documents in every legal form into one normalised, immutable model.

Accepted inputs: a dict, a JSON string, or a URL-encoded JSON string (what the IAM API returns).
`Statement` may be one object or a list; `Action`/`NotAction`, `Resource`/`NotResource` a string or a
list; `Principal`/`NotPrincipal` `"*"` or a map of AWS/Service/Federated/CanonicalUser to a string or a
list; `Condition` a map of operators (with `ForAllValues:`/`ForAnyValue:` and `...IfExists`) to keys to
values. Anything else raises `PolicyError` naming where the problem is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

from rolewatch.model import PolicyError

PolicyKind = Literal["identity", "trust", "any"]

_TOP_LEVEL_KEYS = {"Version", "Id", "Statement"}
_STATEMENT_KEYS = {
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
}
_PRINCIPAL_KINDS = {"AWS", "Service", "Federated", "CanonicalUser"}
VERSIONS = {"2012-10-17", "2008-10-17"}


@dataclass(frozen=True)
class Condition:
    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    base: str  # "StringLike"
    qualifier: str | None  # "ForAllValues", "ForAnyValue" or None
    if_exists: bool
    key: str  # as written; condition keys are case-insensitive, compare with .key.lower()
    values: tuple[str, ...]


@dataclass(frozen=True)
class Principals:
    """`Principal` or `NotPrincipal`: "*" becomes {"AWS": ("*",)}, which is what IAM means by it."""

    entries: tuple[tuple[str, tuple[str, ...]], ...]

    def of(self, kind: str) -> tuple[str, ...]:
        for k, values in self.entries:
            if k == kind:
                return values
        return ()

    @property
    def is_wildcard(self) -> bool:
        return "*" in self.of("AWS")

    def all_values(self) -> list[tuple[str, str]]:
        return [(k, v) for k, values in self.entries for v in values]


@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" or "Deny"
    actions: tuple[str, ...]
    not_action: bool  # True when `actions` came from NotAction
    resources: tuple[str, ...]  # empty when the statement has no Resource/NotResource (trust policies)
    not_resource: bool
    principals: Principals | None
    not_principal: bool
    conditions: tuple[Condition, ...]
    sid: str | None
    location: str

    @property
    def allows(self) -> bool:
        return self.effect == "Allow"


@dataclass(frozen=True)
class PolicyDocument:
    version: str | None
    statements: tuple[Statement, ...]
    id: str | None = None


def decode_document(raw: Any, location: str = "") -> Any:
    """A document as the IAM API, the CLI or a file holds it -> the JSON value it denotes."""
    if isinstance(raw, (bytes, bytearray)):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyError(location, f"document is not UTF-8 text: {exc}") from None
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if not text:
        raise PolicyError(location, "document is empty")
    if not text.startswith(("{", "[")):
        # The IAM API returns documents URL-encoded (RFC 3986): "%7B%22Version%22...".
        text = unquote(text).strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(
            location, f"document is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise PolicyError(location, "document is not valid JSON: it nests too deeply") from None
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise PolicyError(location, f"document is not valid JSON: {exc}") from None


def parse_policy(raw: Any, location: str = "", kind: PolicyKind = "any") -> PolicyDocument:
    """Parse and validate one policy document; raise PolicyError with a location on any defect."""
    value = decode_document(raw, location)
    if not isinstance(value, dict):
        raise PolicyError(location, f"a policy document is a JSON object, not {type_name(value)}")
    unknown = sorted(str(k) for k in value if k not in _TOP_LEVEL_KEYS)
    if unknown:
        raise PolicyError(location, f"unknown top-level element(s): {', '.join(unknown)}")
    version = value.get("Version")
    if version is not None and (not isinstance(version, str) or version not in VERSIONS):
        raise PolicyError(_at(location, "Version"), f"unsupported policy version {version!r}")
    policy_id = value.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise PolicyError(_at(location, "Id"), "Id must be a string")
    if "Statement" not in value:
        raise PolicyError(location, "the document has no Statement")
    body = value["Statement"]
    if isinstance(body, dict):
        items = [body]
        locations = [_at(location, "Statement")]
    elif isinstance(body, list):
        items = body
        locations = [_at(location, f"Statement[{i}]") for i in range(len(body))]
    else:
        raise PolicyError(_at(location, "Statement"), f"Statement must be an object or a list, not {type_name(body)}")
    statements = tuple(_parse_statement(item, where, kind) for item, where in zip(items, locations, strict=True))
    return PolicyDocument(version=version, statements=statements, id=policy_id)


def _parse_statement(item: Any, where: str, kind: PolicyKind) -> Statement:
    if not isinstance(item, dict):
        raise PolicyError(where, f"a statement is a JSON object, not {type_name(item)}")
    unknown = sorted(str(k) for k in item if k not in _STATEMENT_KEYS)
    if unknown:
        raise PolicyError(where, f"unknown statement element(s): {', '.join(unknown)}")
    effect = item.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(_at(where, "Effect"), f'Effect must be "Allow" or "Deny", not {effect!r}')
    sid = item.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyError(_at(where, "Sid"), "Sid must be a string")

    actions, not_action = _pair(item, "Action", "NotAction", where, required=True)
    for i, action in enumerate(actions):
        if action != "*" and ":" not in action:
            element = "NotAction" if not_action else "Action"
            raise PolicyError(_at(where, f"{element}[{i}]"), f"{action!r} is not of the form service:action")

    resources, not_resource = _pair(item, "Resource", "NotResource", where, required=kind == "identity")
    if kind == "trust" and resources:
        raise PolicyError(where, "a trust policy statement has no Resource or NotResource")

    principals: Principals | None = None
    not_principal = False
    if "Principal" in item or "NotPrincipal" in item:
        if kind == "identity":
            raise PolicyError(where, "an identity-based policy has no Principal or NotPrincipal")
        if "Principal" in item and "NotPrincipal" in item:
            raise PolicyError(where, "a statement has Principal or NotPrincipal, not both")
        not_principal = "NotPrincipal" in item
        name = "NotPrincipal" if not_principal else "Principal"
        principals = _parse_principals(item[name], _at(where, name))
    elif kind == "trust":
        raise PolicyError(where, "a trust policy statement needs a Principal or NotPrincipal")

    conditions = _parse_conditions(item.get("Condition"), _at(where, "Condition")) if "Condition" in item else ()
    return Statement(
        effect=effect,
        actions=actions,
        not_action=not_action,
        resources=resources,
        not_resource=not_resource,
        principals=principals,
        not_principal=not_principal,
        conditions=conditions,
        sid=sid,
        location=where,
    )


def _pair(item: dict, name: str, not_name: str, where: str, *, required: bool) -> tuple[tuple[str, ...], bool]:
    if name in item and not_name in item:
        raise PolicyError(where, f"a statement has {name} or {not_name}, not both")
    if name not in item and not_name not in item:
        if required:
            raise PolicyError(where, f"the statement has neither {name} nor {not_name}")
        return (), False
    key = not_name if not_name in item else name
    values = _strings(item[key], _at(where, key))
    if not values:
        raise PolicyError(_at(where, key), f"{key} is empty")
    return values, key == not_name


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        out = []
        for i, v in enumerate(value):
            if not isinstance(v, str):
                raise PolicyError(f"{where}[{i}]", f"expected a string, not {type_name(v)}")
            out.append(v)
        return tuple(out)
    raise PolicyError(where, f"expected a string or a list of strings, not {type_name(value)}")


def _parse_principals(value: Any, where: str) -> Principals:
    if value == "*":
        return Principals((("AWS", ("*",)),))
    if not isinstance(value, dict) or not value:
        raise PolicyError(where, 'a principal is "*" or a map of AWS/Service/Federated/CanonicalUser')
    entries = []
    for kind, ids in value.items():
        if kind not in _PRINCIPAL_KINDS:
            raise PolicyError(where, f"unknown principal type {kind!r}")
        entries.append((kind, _strings(ids, _at(where, kind))))
    return Principals(tuple(entries))


def _parse_conditions(value: Any, where: str) -> tuple[Condition, ...]:
    if not isinstance(value, dict):
        raise PolicyError(where, f"Condition must be an object, not {type_name(value)}")
    out = []
    for operator, block in value.items():
        op_where = _at(where, str(operator))
        if not isinstance(block, dict):
            raise PolicyError(op_where, f"a condition operator maps keys to values, not {type_name(block)}")
        qualifier, _, base = str(operator).rpartition(":")
        if qualifier and qualifier not in ("ForAllValues", "ForAnyValue"):
            raise PolicyError(op_where, f"unknown set operator {qualifier!r}")
        if_exists = base.endswith("IfExists")
        base = base.removesuffix("IfExists")
        if not base:
            raise PolicyError(op_where, "empty condition operator")
        for key, raw_values in block.items():
            values = raw_values if isinstance(raw_values, list) else [raw_values]
            texts = []
            for v in values:
                if isinstance(v, bool):
                    texts.append("true" if v else "false")
                elif isinstance(v, (str, int, float)):
                    texts.append(str(v))
                else:
                    raise PolicyError(
                        _at(op_where, str(key)),
                        f"a condition value is a string, number or boolean, not {type_name(v)}",
                    )
            out.append(Condition(str(operator), base, qualifier or None, if_exists, str(key), tuple(texts)))
    return tuple(out)


def _at(location: str, part: str) -> str:
    return f"{location}.{part}" if location else part


def type_name(value: Any, *, none: str = "null", mapping: str = "an object") -> str:
    """What a parsed value is, for an error message: JSON's words by default; YAML callers pass their own
    words for null and mappings ("nothing", "a mapping")."""
    if value is None:
        return none
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return mapping
    return type(value).__name__
