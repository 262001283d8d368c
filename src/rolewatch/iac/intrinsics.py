"""CloudFormation intrinsic functions, resolved as far as the template itself allows.

Parameters take their defaults; pseudo parameters their stand-ins (placeholders.py); `Ref`, `GetAtt`
and `Sub` of the template's own resources the names and ARNs CloudFormation would give them
(resources.py), with the logical id as the name where the template sets none. What cannot be known
before deployment becomes an `UNRESOLVED(...)` placeholder and is recorded, so the report can say
which audited values were guesses. An intrinsic the resolver does not know, or a reference to a name
the template lacks, raises `TemplateProblem` with the path of the value: the caller lists it and goes
on with the rest of the template.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rolewatch.iac import resources
from rolewatch.iac.placeholders import PSEUDO_PARAMETERS, REGION, has_placeholder, unresolved


class TemplateProblem(ValueError):
    """A value the template writes in a way CloudFormation would reject or rolewatch cannot read."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


class _NoValue:
    """AWS::NoValue: the property or list item is removed."""


NO_VALUE = _NoValue()

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:([^}]*)\}\}")


@dataclass(frozen=True)
class Unresolved:
    """A value audited as a placeholder: where it is, and why it is open."""

    where: str
    placeholder: str
    reason: str


class Resolver:
    """Resolves intrinsic functions against one template (its parameters, conditions, mappings, resources).

    The engine of every place that reads a template: `rolewatch check` (this class: placeholders for what
    only deployment knows), `rolewatch local-env` (rolewatch.sam_template: a deployed stack's values, and
    an error for anything it cannot answer) and the template tests (a fixed fake stack). A subclass
    changes where values come from: `pseudo_parameters`, `_attribute` (Ref and GetAtt of the template's
    resources) and `note` (a value that cannot be known here)."""

    pseudo_parameters: Mapping[str, Any] = PSEUDO_PARAMETERS

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, Any] | None = None) -> None:
        self.template = template
        self.resources: Mapping[str, Any] = _mapping(template.get("Resources"))
        self.mappings: Mapping[str, Any] = _mapping(template.get("Mappings"))
        self.conditions: Mapping[str, Any] = _mapping(template.get("Conditions"))
        self.unresolved: list[Unresolved] = []
        self._condition_values: dict[str, bool] = {}
        self._parameters = {
            name: _parameter_value(name, spec) for name, spec in _mapping(template.get("Parameters")).items()
        }
        self._parameters.update(parameters or {})

    # -- public --------------------------------------------------------------------------------------
    def value(self, node: Any, where: str = "") -> Any:
        """The node with every intrinsic resolved; AWS::NoValue items and properties dropped."""
        if isinstance(node, list):
            items = [self.value(item, f"{where}[{i}]") for i, item in enumerate(node)]
            return [item for item in items if item is not NO_VALUE]
        if isinstance(node, str):
            return self._dynamic_references(node, where)
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, args),) = node.items()
            if key == "Ref" or key.startswith("Fn::") or (key == "Condition" and not isinstance(args, dict)):
                return self._intrinsic(str(key), args, f"{where}.{key}")
        resolved = {str(k): self.value(v, f"{where}.{k}") for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def condition(self, name: str, where: str = "") -> bool:
        if name not in self._condition_values:
            if name not in self.conditions:
                raise TemplateProblem(where, f"condition {name!r} is not defined in Conditions")
            self._condition_values[name] = False  # a condition that refers to itself is false, not a hang
            self._condition_values[name] = bool(self.value(self.conditions[name], f"Conditions.{name}"))
        return self._condition_values[name]

    def note(self, where: str, what: str, reason: str) -> str:
        placeholder = unresolved(what)
        self.unresolved.append(Unresolved(where, placeholder, reason))
        return placeholder

    # -- intrinsics ----------------------------------------------------------------------------------
    def _intrinsic(self, key: str, args: Any, where: str) -> Any:
        if key == "Ref":
            return self._ref(args, where)
        if key == "Condition":
            return self.condition(str(args), where)
        handler = _HANDLERS.get(key)
        if handler is None:
            raise TemplateProblem(where, f"unknown intrinsic function {key} (not audited)")
        return handler(self, args, where)

    def _ref(self, name: Any, where: str) -> Any:
        if not isinstance(name, str):
            raise TemplateProblem(where, "Ref takes the name of a parameter or resource")
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo_parameters:
            return self.pseudo_parameters[name]
        if name in self._parameters:
            value = self._parameters[name]
            if value is None:
                return self.note(where, f"Ref.{name}", f"parameter {name} has no default")
            return value
        if name in self.resources:
            return self._attribute(name, None, where)
        raise TemplateProblem(where, f"Ref to {name!r}, which is neither a parameter nor a resource of the template")

    def _attribute(self, logical: str, attribute: str | None, where: str) -> Any:
        resource = self.resources.get(logical)
        if not isinstance(resource, dict):
            raise TemplateProblem(where, f"Fn::GetAtt of {logical!r}, which is not a resource of the template")
        key = "Ref" if attribute is None else attribute
        value = resources.attribute(logical, resource, key, lambda node, at: self.value(node, f"{where}({at})"))
        if value is not None:
            return value
        what = f"Ref.{logical}" if attribute is None else f"GetAtt.{logical}.{attribute}"
        return self.note(where, what, f"{resource.get('Type')} {key} is known only once the resource exists")

    def _dynamic_references(self, text: str, where: str) -> str:
        if "{{resolve:" not in text:
            return text
        return _DYNAMIC_REFERENCE.sub(
            lambda m: self.note(where, f"resolve.{m.group(1)}", "dynamic reference resolved at deployment"), text
        )


def _get_att(r: Resolver, args: Any, where: str) -> Any:
    if isinstance(args, str):
        args = args.split(".", 1)
    if not isinstance(args, list) or len(args) != 2:
        raise TemplateProblem(where, "Fn::GetAtt takes [LogicalId, Attribute]")
    logical, attribute = args[0], r.value(args[1], where)
    return r._attribute(str(logical), str(attribute), where)


def _sub(r: Resolver, args: Any, where: str) -> Any:
    if isinstance(args, str):
        text, local = args, {}
    elif isinstance(args, list) and len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], dict):
        text, local = args[0], r.value(args[1], f"{where}[1]")
    else:
        raise TemplateProblem(where, "Fn::Sub takes a string, or [string, {name: value}]")

    def variable(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in local:
            return _text(local[name], where)
        if "." in name and name.split(".", 1)[0] in r.resources:
            return _text(r._attribute(*name.split(".", 1), where), where)
        return _text(r._ref(name, where), where)

    return r._dynamic_references(_SUB_VARIABLE.sub(variable, text), where)


def _join(r: Resolver, args: Any, where: str) -> Any:
    if not isinstance(args, list) or len(args) != 2:
        raise TemplateProblem(where, "Fn::Join takes [delimiter, [values]]")
    delimiter, items = r.value(args[0], where), r.value(args[1], where)
    if has_placeholder(items) and not isinstance(items, list):
        return items
    if not isinstance(items, list):
        raise TemplateProblem(where, "Fn::Join needs a list of values")
    return str(delimiter).join(_text(item, where) for item in items)


def _select(r: Resolver, args: Any, where: str) -> Any:
    if not isinstance(args, list) or len(args) != 2:
        raise TemplateProblem(where, "Fn::Select takes [index, [values]]")
    index, items = r.value(args[0], where), r.value(args[1], where)
    if not isinstance(items, list):
        if has_placeholder(items):
            return r.note(where, "Select", "selects from a list the template does not know")
        raise TemplateProblem(where, "Fn::Select needs a list")
    try:
        return items[int(index)]
    except (ValueError, IndexError):
        raise TemplateProblem(where, f"Fn::Select index {index!r} is outside the list") from None


def _split(r: Resolver, args: Any, where: str) -> Any:
    if not isinstance(args, list) or len(args) != 2:
        raise TemplateProblem(where, "Fn::Split takes [delimiter, string]")
    delimiter, text = r.value(args[0], where), r.value(args[1], where)
    return _text(text, where).split(str(delimiter))


def _if(r: Resolver, args: Any, where: str) -> Any:
    if not isinstance(args, list) or len(args) != 3:
        raise TemplateProblem(where, "Fn::If takes [condition, value if true, value if false]")
    chosen = args[1] if r.condition(str(args[0]), where) else args[2]
    return r.value(chosen, where)


def _equals(r: Resolver, args: Any, where: str) -> bool:
    if not isinstance(args, list) or len(args) != 2:
        raise TemplateProblem(where, "Fn::Equals takes two values")
    left, right = (r.value(a, where) for a in args)
    return _text_or_json(left) == _text_or_json(right)


def _logic(combine: Any) -> Any:
    def handler(r: Resolver, args: Any, where: str) -> bool:
        if not isinstance(args, list):
            raise TemplateProblem(where, "a condition function takes a list of conditions")
        return bool(combine(bool(r.value(a, where)) for a in args))

    return handler


def _not(r: Resolver, args: Any, where: str) -> bool:
    if not isinstance(args, list) or len(args) != 1:
        raise TemplateProblem(where, "Fn::Not takes one condition")
    return not r.value(args[0], where)


def _find_in_map(r: Resolver, args: Any, where: str) -> Any:
    if not isinstance(args, list) or len(args) not in (3, 4):
        raise TemplateProblem(where, "Fn::FindInMap takes [map, top-level key, second-level key]")
    name, top, second = (_text(r.value(a, where), where) for a in args[:3])
    try:
        return r.value(r.mappings[name][top][second], where)
    except (KeyError, TypeError):
        if len(args) == 4 and isinstance(args[3], dict) and "DefaultValue" in args[3]:
            return r.value(args[3]["DefaultValue"], where)
        if has_placeholder(top) or has_placeholder(second):
            return r.note(where, f"FindInMap.{name}", "the key is known only at deployment")
        raise TemplateProblem(where, f"Fn::FindInMap: {name}.{top}.{second} is not in Mappings") from None


def _import_value(r: Resolver, args: Any, where: str) -> str:
    return r.note(where, f"ImportValue.{_text(r.value(args, where), where)}", "exported by another stack")


def _get_azs(r: Resolver, args: Any, where: str) -> list[str]:
    return [f"{REGION}a", f"{REGION}b", f"{REGION}c"]


def _base64(r: Resolver, args: Any, where: str) -> Any:
    return r.value(args, where)  # the text before encoding is what a reader of the template audits


def _to_json_string(r: Resolver, args: Any, where: str) -> str:
    return json.dumps(r.value(args, where), separators=(",", ":"))


def _length(r: Resolver, args: Any, where: str) -> int:
    items = r.value(args, where)
    if not isinstance(items, list):
        raise TemplateProblem(where, "Fn::Length needs a list")
    return len(items)


def _open_value(what: str, reason: str) -> Any:
    def handler(r: Resolver, args: Any, where: str) -> str:
        return r.note(where, what, reason)

    return handler


_HANDLERS: dict[str, Any] = {
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::And": _logic(all),
    "Fn::Or": _logic(any),
    "Fn::Not": _not,
    "Fn::FindInMap": _find_in_map,
    "Fn::ImportValue": _import_value,
    "Fn::GetAZs": _get_azs,
    "Fn::Base64": _base64,
    "Fn::ToJsonString": _to_json_string,
    "Fn::Length": _length,
    "Fn::Cidr": _open_value("Cidr", "address blocks are computed at deployment"),
    "Fn::Transform": _open_value("Transform", "a macro's output is known only at deployment"),
}


def _parameter_value(name: str, spec: Any) -> Any:
    """A parameter's default as CloudFormation would pass it; None when there is none."""
    if not isinstance(spec, dict) or "Default" not in spec:
        return None
    default = spec["Default"]
    kind = str(spec.get("Type", "String"))
    if kind.startswith("AWS::SSM::Parameter::Value"):
        return unresolved(f"SSM.{default}")
    if kind == "CommaDelimitedList" or kind.startswith("List<"):
        return [item.strip() for item in str(default).split(",")] if default != "" else []
    return default if isinstance(default, str) else json.dumps(default) if isinstance(default, dict) else str(default)


def _text(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise TemplateProblem(where, f"expected a string, found {type(value).__name__}")


def _text_or_json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}
