"""A SAM/CloudFormation template's function environments, resolved against what a stack really holds.

`sam local invoke` cannot resolve `!Ref`/`!GetAtt` of the stack's own resources: it puts placeholders (the
logical id) where the deployed function has the topic ARN, the bucket name, the table name. Resolving those
references needs what CloudFormation created, so this module takes it as a value (`StackView`: parameters,
physical ids, outputs, account and region) and resolves each function's declared variables with it, the
way CloudFormation would: `Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`, `Fn::Select`, `Fn::If` with the
template's conditions, `Fn::FindInMap`, pseudo parameters, `AWS::NoValue`. A reference it cannot resolve
raises `UnresolvedValue` naming the function, the variable and the expression, never a guess.

A `GetAtt` is taken from a stack output whose template value is the same expression when there is one (the
deployed value, whatever the resource type); otherwise built from the physical id for the resource types
whose attribute follows from it (ARNs of keys, topics, buckets, tables, queues, functions, state machines,
buses). Pure: the AWS reads live in rolewatch.local_env.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
LAMBDA_FUNCTION = "AWS::Lambda::Function"


class TemplateError(ValueError):
    """The template cannot be read, or a value in it cannot be resolved; the message says which."""


class UnresolvedValue(TemplateError):
    """A reference the stack does not answer (an unknown name, an attribute that needs an output)."""


class _NoValue:
    """AWS::NoValue: CloudFormation removes the property or list item."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


# -- reading --------------------------------------------------------------------------------------


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !GetAtt, !Sub, ...) read as their long form."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)
# CloudFormation reads timestamps and the like as strings: keep every scalar as the template wrote it.
_CloudFormationLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_template(path: Path) -> dict[str, Any]:
    """The template as plain values (short-form tags in their long form). Raises TemplateError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        loaded = yaml.load(text, Loader=_CloudFormationLoader)  # JSON is YAML too
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path}: not a YAML or JSON template: {exc}".replace("\n", " ")) from None
    if not isinstance(loaded, dict) or not isinstance(loaded.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources)")
    return loaded


def function_environments(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each function's declared environment (logical id -> variable -> template value).

    A SAM function gets `Globals.Function.Environment.Variables` merged under its own, as the SAM transform
    does; a plain `AWS::Lambda::Function` only its own. Functions without variables map to {}.
    """
    global_variables = _variables(((template.get("Globals") or {}).get("Function") or {}).get("Environment"))
    out: dict[str, dict[str, Any]] = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        kind = (resource or {}).get("Type")
        if kind not in (SERVERLESS_FUNCTION, LAMBDA_FUNCTION):
            continue
        own = _variables(((resource or {}).get("Properties") or {}).get("Environment"))
        out[logical_id] = {**global_variables, **own} if kind == SERVERLESS_FUNCTION else own
    return out


def _variables(environment: Any) -> dict[str, Any]:
    variables = environment.get("Variables") if isinstance(environment, dict) else None
    return dict(variables) if isinstance(variables, dict) else {}


# -- what a stack holds ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StackResource:
    type: str
    physical_id: str


@dataclass(frozen=True)
class StackView:
    """What CloudFormation knows of one stack: enough to resolve its template's references."""

    name: str
    region: str
    account_id: str
    partition: str = "aws"
    stack_id: str = ""
    parameters: Mapping[str, str] = field(default_factory=dict)
    resources: Mapping[str, StackResource] = field(default_factory=dict)  # logical id -> resource
    outputs: Mapping[str, str] = field(default_factory=dict)  # output key -> value

    def pseudo(self, name: str) -> str | None:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": self.partition,
            "AWS::StackName": self.name,
            "AWS::StackId": self.stack_id,
            "AWS::URLSuffix": "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com",
        }.get(name)


def _attributes(resource: StackResource, stack: StackView) -> dict[str, str]:
    """The GetAtt values that follow from a resource's physical id, by type."""
    p, r, a, physical = stack.partition, stack.region, stack.account_id, resource.physical_id
    last = physical.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    by_type: dict[str, dict[str, str]] = {
        "AWS::KMS::Key": {"Arn": f"arn:{p}:kms:{r}:{a}:key/{physical}", "KeyId": physical},
        "AWS::SNS::Topic": {"TopicArn": physical, "TopicName": last},
        "AWS::S3::Bucket": {"Arn": f"arn:{p}:s3:::{physical}"},
        "AWS::DynamoDB::Table": {"Arn": f"arn:{p}:dynamodb:{r}:{a}:table/{physical}"},
        "AWS::SQS::Queue": {"Arn": f"arn:{p}:sqs:{r}:{a}:{last}", "QueueName": last, "QueueUrl": physical},
        "AWS::Lambda::Function": {"Arn": f"arn:{p}:lambda:{r}:{a}:function:{physical}"},
        "AWS::Serverless::Function": {"Arn": f"arn:{p}:lambda:{r}:{a}:function:{physical}"},
        "AWS::StepFunctions::StateMachine": {"Arn": physical, "Name": last},
        "AWS::Serverless::StateMachine": {"Arn": physical, "Name": last},
        "AWS::Events::EventBus": {"Arn": f"arn:{p}:events:{r}:{a}:event-bus/{physical}", "Name": physical},
        "AWS::Logs::LogGroup": {"Arn": f"arn:{p}:logs:{r}:{a}:log-group:{physical}:*"},
    }
    return by_type.get(resource.type, {})


# -- resolving ------------------------------------------------------------------------------------


class Resolver:
    """Resolves a template's values against one stack, as CloudFormation did when it created it."""

    def __init__(self, template: Mapping[str, Any], stack: StackView) -> None:
        self.template = template
        self.stack = stack
        self.parameters = {
            name: str((spec or {}).get("Default", "")) for name, spec in (template.get("Parameters") or {}).items()
        } | dict(stack.parameters)
        self.resources = template.get("Resources") or {}
        # An output whose value is exactly an expression answers that expression with the deployed value.
        self._outputs = {
            json.dumps(spec.get("Value"), sort_keys=True): stack.outputs[key]
            for key, spec in (template.get("Outputs") or {}).items()
            if isinstance(spec, dict) and key in stack.outputs
        }

    def text(self, value: Any) -> str | _NoValue:
        """A variable's value as the function receives it (booleans and numbers as CloudFormation writes them)."""
        resolved = self.value(value)
        if resolved is NO_VALUE:
            return NO_VALUE
        if isinstance(resolved, bool):
            return str(resolved).lower()
        if isinstance(resolved, str | int | float):
            return str(resolved)
        raise UnresolvedValue(f"{json.dumps(value)} is not a string")

    def value(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.value(item) for item in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref" or name.startswith("Fn::") or name == "Condition":
                return self._function(name, argument)
        return {k: v for k, v in ((k, self.value(v)) for k, v in value.items()) if v is not NO_VALUE}

    def condition(self, name: str) -> bool:
        conditions = self.template.get("Conditions") or {}
        if name not in conditions:
            raise UnresolvedValue(f"condition {name!r} is not in the template")
        return bool(self.value(conditions[name]))

    def _function(self, name: str, argument: Any) -> Any:
        if name == "Ref":
            return self._ref(argument)
        if name == "Fn::GetAtt":
            logical, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            return self._get_att(str(logical), str(self.value(attribute)))
        if name == "Fn::Sub":
            return self._sub(argument)
        if name == "Fn::Join":
            separator, items = argument
            return str(separator).join(str(item) for item in self.value(items))
        if name == "Fn::Select":
            index, items = argument
            return self.value(items)[int(self.value(index))]
        if name == "Fn::Split":
            separator, text = argument
            return str(self.value(text)).split(str(separator))
        if name == "Fn::If":
            condition, when_true, when_false = argument
            return self.value(when_true if self.condition(condition) else when_false)
        if name == "Fn::Equals":
            left, right = (self.value(v) for v in argument)
            return str(left) == str(right)
        if name == "Fn::Not":
            return not self.value(argument[0])
        if name == "Fn::And":
            return all(self.value(v) for v in argument)
        if name == "Fn::Or":
            return any(self.value(v) for v in argument)
        if name == "Condition":
            return self.condition(argument)
        if name == "Fn::FindInMap":
            mapping, top, second = (str(self.value(v)) for v in argument)
            try:
                return self.template["Mappings"][mapping][top][second]
            except (KeyError, TypeError):
                raise UnresolvedValue(f"Fn::FindInMap {mapping}.{top}.{second} is not in the template") from None
        raise UnresolvedValue(f"{name} is not resolved locally")

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        pseudo = self.stack.pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.parameters:
            return self.parameters[name]
        if name in self.stack.resources:
            return self.stack.resources[name].physical_id
        where = "a resource of the stack" if name in self.resources else "a parameter or resource of the template"
        raise UnresolvedValue(f"Ref {name}: not {where} (deployed?)")

    def _get_att(self, logical: str, attribute: str) -> str:
        expression = {"Fn::GetAtt": [logical, attribute]}
        for form in (expression, {"Fn::GetAtt": f"{logical}.{attribute}"}):
            output = self._outputs.get(json.dumps(form, sort_keys=True))
            if output is not None:
                return output
        resource = self.stack.resources.get(logical)
        if resource is None:
            raise UnresolvedValue(f"Fn::GetAtt {logical}.{attribute}: {logical} is not a resource of the stack")
        value = _attributes(resource, self.stack).get(attribute)
        if value is None:
            raise UnresolvedValue(
                f"Fn::GetAtt {logical}.{attribute} ({resource.type}) does not follow from its physical id: "
                f"add a stack output whose Value is !GetAtt {logical}.{attribute}"
            )
        return value

    def _sub(self, argument: Any) -> str:
        text, local = (argument, {}) if isinstance(argument, str) else (argument[0], self.value(argument[1]))
        out: list[str] = []
        position = 0
        while (start := text.find("${", position)) >= 0:
            end = text.find("}", start)
            if end < 0:
                break
            out.append(text[position:start])
            name = text[start + 2 : end]
            if name.startswith("!"):
                out.append("${" + name[1:] + "}")
            elif name in local:
                out.append(str(local[name]))
            elif "." in name and not name.startswith("AWS::"):
                logical, attribute = name.split(".", 1)
                out.append(self._get_att(logical, attribute))
            else:
                out.append(str(self._ref(name)))
            position = end + 1
        out.append(text[position:])
        return "".join(out)
