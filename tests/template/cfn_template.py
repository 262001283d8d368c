"""template.yaml as the tests see it: decoded by cfn-lint, intrinsics resolved in a fixed fake account.

cfn-lint's decoder reads the short-form tags (!Ref, !Sub, !GetAtt, ...) into their long form
({"Ref": ...}); `Resolver` then replaces them with plausible values: parameters take their defaults
(or given overrides), pseudo parameters a fixed account and us-east-1, and a reference to a resource
the physical id or ARN CloudFormation would give it. Good enough to check what the template grants and
wires; not a CloudFormation emulator (the self-audit reads the roles with rolewatch.iac, as
`rolewatch check template.yaml` does).

Which AWS actions the code needs comes from its `requires(...)` declarations (rolewatch.aws_permissions),
read by scripts/permissions.py in a fresh interpreter after importing every module.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from cfnlint.decode import decode

from rolewatch.iac import intrinsics

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
FORWARDER = ROOT / "templates" / "forwarder.yaml"
MEMBER = ROOT / "templates" / "member.yaml"
SRC = ROOT / "src"

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK = "rolewatch"
PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::StackName": STACK,
    "AWS::URLSuffix": "amazonaws.com",
}


class TemplateError(ValueError):
    """The template cannot be read or uses an intrinsic the resolver does not know."""


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The decoded template (plain dicts and lists); cfn-lint's decode errors raise TemplateError."""
    template, matches = decode(str(path))
    if matches or template is None:
        raise TemplateError(f"{path}: " + "; ".join(str(m) for m in matches or ["not a template"]))
    return json.loads(json.dumps(template))  # cfn-lint's node classes -> plain values


def _physical(logical: str, rtype: str) -> dict[str, str]:
    """Ref value and attributes of a resource, as CloudFormation would name them."""
    name = f"{STACK}-{logical}".lower() if rtype == "AWS::S3::Bucket" else f"{STACK}-{logical}"
    arn = f"arn:aws:{rtype.split('::')[1].lower()}:{REGION}:{ACCOUNT}:{name}"
    values: dict[str, dict[str, str]] = {
        "AWS::SNS::Topic": {"Ref": f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}", "TopicName": name},
        "AWS::S3::Bucket": {"Ref": name, "Arn": f"arn:aws:s3:::{name}"},
        "AWS::KMS::Key": {
            "Ref": "1234abcd-12ab-34cd-56ef-1234567890ab",
            "Arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        },
        "AWS::DynamoDB::Table": {"Ref": name, "Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"},
        "AWS::SQS::Queue": {
            "Ref": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}",
            "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}",
            "QueueName": name,
        },
        "AWS::IAM::Role": {"Ref": name, "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}"},
        "AWS::Serverless::Function": {"Ref": name, "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"},
        "AWS::Lambda::Function": {"Ref": name, "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"},
        "AWS::Events::Rule": {"Ref": name, "Arn": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"},
    }
    return values.get(rtype, {"Ref": name, "Arn": arn})


def rule_arn(name: str, bus: Any = None) -> str:
    """An EventBridge rule's ARN: rule/<name> on the default bus, rule/<bus name>/<name> on any other bus
    (given by name or ARN)."""
    bus_name = bus.rsplit("/", 1)[-1] if isinstance(bus, str) and bus not in ("", "default") else None
    bus_name = None if bus_name == "default" else bus_name
    return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/" + (f"{bus_name}/{name}" if bus_name else name)


class Resolver(intrinsics.Resolver):
    """rolewatch's intrinsic functions (rolewatch.iac.intrinsics) against one template, a set of parameter
    values and a fixed fake stack: parameters without a default are "", each resource has the physical id
    CloudFormation would give it in the stack `rolewatch`, and anything else is a TemplateError."""

    pseudo_parameters = PSEUDO

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str] | None = None) -> None:
        defaults = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
        super().__init__(template, defaults | dict(parameters or {}))

    def note(self, where: str, what: str, reason: str) -> str:
        raise TemplateError(f"{where}: {what}: {reason}")

    def _attribute(self, logical: str, attribute: str | None, where: str) -> Any:
        if logical not in self.resources:
            raise TemplateError(f"Fn::GetAtt of unknown resource {logical!r}")
        resource = self.resources[logical]
        rtype = resource["Type"]
        if rtype == "AWS::Logs::LogGroup":  # Ref: its name (LogGroupName when the template sets one)
            named = resource.get("Properties", {}).get("LogGroupName")
            name = self.value(named) if named is not None else _physical(logical, rtype)["Ref"]
            return name if attribute is None else f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"
        if rtype == "AWS::Events::EventBus" and attribute in (None, "Name", "Arn"):  # Ref: its Name
            name = str(self.value(resource["Properties"]["Name"]))
            return f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}" if attribute == "Arn" else name
        if rtype == "AWS::Events::Rule" and "Name" in resource.get("Properties", {}):  # a named rule
            props = resource["Properties"]
            name = str(self.value(props["Name"]))
            bus = self.value(props["EventBusName"]) if "EventBusName" in props else None
            return name if attribute is None else rule_arn(name, bus)
        values = _physical(logical, rtype)
        key = "Ref" if attribute is None else attribute
        if key not in values:
            raise TemplateError(f"Fn::GetAtt {logical}.{attribute}: attribute unknown to the test resolver")
        return values[key]


def resources_of_type(template: Mapping[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == rtype}


def role_statements(
    template: Mapping[str, Any], logical: str, parameters: Mapping[str, str] | None = None
) -> list[dict]:
    """The resolved Allow/Deny statements of one role's inline policies."""
    props = Resolver(template, parameters).value(template["Resources"][logical]["Properties"])
    out = []
    for policy in props.get("Policies", []):
        statements = policy["PolicyDocument"]["Statement"]
        out.extend(statements if isinstance(statements, list) else [statements])
    return out


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def granted_actions(template: Mapping[str, Any], logical: str, parameters: Mapping[str, str] | None = None) -> set[str]:
    return {
        action
        for statement in role_statements(template, logical, parameters)
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
    }


def function_role(template: Mapping[str, Any], function: str) -> str:
    """The logical id of the AWS::IAM::Role a function runs with (Role: !GetAtt X.Arn)."""
    role = template["Resources"][function]["Properties"]["Role"]
    if not (isinstance(role, dict) and "Fn::GetAtt" in role):
        raise TemplateError(f"{function}: Role must be !GetAtt <an AWS::IAM::Role of this template>.Arn")
    target = role["Fn::GetAtt"]
    return target.split(".")[0] if isinstance(target, str) else target[0]


def mutated(template: Mapping[str, Any], role: str, *statements: dict[str, Any]) -> dict[str, Any]:
    """A copy of the template whose role gets one more inline policy with the given statements."""
    out = copy.deepcopy(dict(template))
    policies = out["Resources"][role]["Properties"].setdefault("Policies", [])
    policies.append(
        {"PolicyName": "mutation", "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)}}
    )
    return out


# -- what the code declares -----------------------------------------------------------------------


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rolewatch_permissions_script", ROOT / "scripts" / "permissions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


# scripts/permissions.py, the generator behind `make permissions` (render, rewrite, differences, Grant).
permissions_script = _load_script()


@cache
def declarations() -> tuple[Any, ...]:
    """Every `requires` declaration of the code (scripts/permissions.py's Grants), read in a fresh interpreter.

    The registry only grows with imports, so the answer must not depend on what this test process
    happened to import (or declare) before.
    """
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "permissions.py"), "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise TemplateError(f"reading the declarations failed:\n{done.stderr.strip()[-2000:]}")
    return tuple(permissions_script.from_json(done.stdout))


def declared_actions(
    template: Mapping[str, Any], function: str, parameters: Mapping[str, str] | None = None
) -> set[str]:
    """The actions the declarations grant `function`'s role under the given parameters."""
    resolver = Resolver(template, parameters)
    return {
        a
        for g in declarations()
        if function in g.functions and (g.only_if is None or resolver.condition(g.only_if))
        for a in g.actions
    }


def module_file(dotted: str) -> Path | None:
    """The source file a dotted module path resolves to under src/, or None if there is none."""
    base = SRC.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def handler_module(template: Mapping[str, Any], function: str) -> str:
    handler = template["Resources"][function]["Properties"]["Handler"]
    return handler.rsplit(".", 1)[0]


def sorted_list(values: Iterable[str]) -> list[str]:
    return sorted(values, key=str.lower)
