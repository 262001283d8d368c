"""A SAM/CloudFormation template's function environments, resolved against what a stack really holds.

`sam local invoke` cannot resolve `!Ref`/`!GetAtt` of the stack's own resources: it puts placeholders (the
logical id) where the deployed function has the topic ARN, the bucket name, the table name. Resolving those
references needs what CloudFormation created, so this module takes it as a value (`StackView`: parameters,
physical ids, outputs, account and region) and resolves each function's declared variables with it, the
way CloudFormation would, with the intrinsic functions of rolewatch.iac.intrinsics (the same engine as
`rolewatch check`). A reference it cannot resolve raises `UnresolvedValue` naming the function, the
variable and the expression, never a guess.

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

from rolewatch.iac import intrinsics
from rolewatch.iac.intrinsics import NO_VALUE

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
LAMBDA_FUNCTION = "AWS::Lambda::Function"


class TemplateError(ValueError):
    """The template cannot be read, or a value in it cannot be resolved; the message says which."""


class UnresolvedValue(TemplateError):
    """A reference the stack does not answer (an unknown name, an attribute that needs an output)."""


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

    def pseudo_parameters(self) -> dict[str, str]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": self.partition,
            "AWS::StackName": self.name,
            "AWS::StackId": self.stack_id,
            "AWS::URLSuffix": "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com",
        }


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


class Resolver(intrinsics.Resolver):
    """Resolves a template's values against one stack, as CloudFormation did when it created it: the
    intrinsics are rolewatch.iac's; the values of parameters, pseudo parameters and the stack's own
    resources come from the stack, and what it cannot answer raises `UnresolvedValue`."""

    def __init__(self, template: Mapping[str, Any], stack: StackView) -> None:
        super().__init__(template, parameters=stack.parameters)
        self.stack = stack
        self.pseudo_parameters = stack.pseudo_parameters()
        # An output whose value is exactly an expression answers that expression with the deployed value.
        self._outputs = {
            json.dumps(spec.get("Value"), sort_keys=True): stack.outputs[key]
            for key, spec in (template.get("Outputs") or {}).items()
            if isinstance(spec, dict) and key in stack.outputs
        }

    def text(self, value: Any) -> str | intrinsics._NoValue:
        """A variable's value as the function receives it (booleans and numbers as CloudFormation writes them)."""
        try:
            resolved = self.value(value, "")
        except intrinsics.TemplateProblem as problem:
            raise UnresolvedValue(problem.message) from None
        if resolved is NO_VALUE:
            return NO_VALUE
        if isinstance(resolved, bool):
            return str(resolved).lower()
        if isinstance(resolved, str | int | float):
            return str(resolved)
        raise UnresolvedValue(f"{json.dumps(value)} is not a string")

    def note(self, where: str, what: str, reason: str) -> str:
        """Deployment knew this value; the stack's description does not say it: an error, never a guess."""
        raise UnresolvedValue(f"{what}: {reason}")

    def _attribute(self, logical: str, attribute: str | None, where: str) -> Any:
        if attribute is None:
            resource = self.stack.resources.get(logical)
            if resource is None:
                raise UnresolvedValue(f"Ref {logical}: not a resource of the stack (deployed?)")
            return resource.physical_id
        for form in ({"Fn::GetAtt": [logical, attribute]}, {"Fn::GetAtt": f"{logical}.{attribute}"}):
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
