"""`rolewatch local-env`: the env.json that makes `sam local invoke` reach the stack's real resources.

    rolewatch local-env [--stack-name NAME] [--region REGION] [--profile NAME] [--out env.json]

Under `sam local invoke`, SAM CLI resolves `!Ref`/`!GetAtt` of the stack's own resources to placeholders
(the logical id), so the function would publish to a topic called "ReportTopic". SAM's remedy is
`--env-vars FILE`, keyed by the function's logical id, which overrides only the variables the template
declares. This command writes that file from the deployed stack: DescribeStacks (parameters, outputs,
account and region) and ListStackResources (physical ids), one call each plus a page per 100 resources.
Every variable each function declares in template.yaml is resolved as CloudFormation resolved it
(rolewatch.sam_template), then checked with the functions' own settings code (rolewatch.settings),
so a file that would not start a function is never written. samconfig.toml points `sam local invoke`
at env.json, and gives the stack name and region by default.

The same function writes the file for the embedded AWS of `python -m rolewatch.demo --serve`, with the
endpoint and the demo's values as overrides of declared variables.

Exit status: 0 written, 2 nothing written (no such stack, no credentials, a value that cannot be resolved);
the one line on standard error says which.
"""

from __future__ import annotations

import argparse
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from rolewatch.sam_template import (
    NO_VALUE,
    Resolver,
    StackResource,
    StackView,
    TemplateError,
    function_environments,
    load_template,
)
from rolewatch.settings import REQUIRED_BY_FUNCTION, SAM_LOCAL, ConfigurationError, load_settings

ENV_FILE = Path("env.json")
SAMCONFIG = Path("samconfig.toml")
TEMPLATE = Path("template.yaml")
CONFIG_ENV = "default"
EXIT_OK, EXIT_BAD_INPUT = 0, 2
# A stack in one of these states holds no resources to point a function at.
_UNUSABLE_STATES = ("ROLLBACK_COMPLETE", "DELETE_COMPLETE", "DELETE_IN_PROGRESS", "CREATE_FAILED", "DELETE_FAILED")


class LocalEnvError(Exception):
    """env.json cannot be written; the message is the one line the user sees."""


# -- samconfig.toml -------------------------------------------------------------------------------


def stack_defaults(path: Path = SAMCONFIG, config_env: str = CONFIG_ENV) -> tuple[str | None, str | None]:
    """(stack name, region) as `sam deploy` reads them: its own section first, then the global one."""
    if not path.is_file():
        return None, None
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise LocalEnvError(f"{path}: cannot read: {exc}") from None
    environment = config.get(config_env) or {}
    sections = [(environment.get(command) or {}).get("parameters") or {} for command in ("deploy", "global")]
    name = next((s["stack_name"] for s in sections if s.get("stack_name")), None)
    region = next((s["region"] for s in sections if s.get("region")), None)
    return name, region


# -- the deployed stack ---------------------------------------------------------------------------


def read_stack(cloudformation: Any, stack_name: str) -> StackView:
    """Parameters, outputs and physical ids of a deployed stack. Raises LocalEnvError."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    region = cloudformation.meta.region_name
    try:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        resources: dict[str, StackResource] = {}
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
            for summary in page["StackResourceSummaries"]:
                if summary.get("LogicalResourceId") and summary.get("PhysicalResourceId"):
                    resources[summary["LogicalResourceId"]] = StackResource(
                        type=summary["ResourceType"], physical_id=summary["PhysicalResourceId"]
                    )
    except NoCredentialsError:
        raise LocalEnvError(
            "no AWS credentials to read the stack with (configure them as for the AWS CLI, or pass --profile); "
            "without an account, `make demo-serve` writes env.json for the embedded AWS"
        ) from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ValidationError" and "does not exist" in error.get("Message", ""):
            raise LocalEnvError(
                f"stack {stack_name!r} not found in {region}: deploy it with `sam deploy`, "
                "or pass --stack-name/--region"
            ) from None
        message = f"reading stack {stack_name!r} in {region}: {error.get('Code')}: {error.get('Message')}"
        raise LocalEnvError(message) from None
    except BotoCoreError as exc:
        raise LocalEnvError(f"reading stack {stack_name!r} in {region}: {exc}") from None
    status = stack.get("StackStatus", "")
    if status in _UNUSABLE_STATES:
        raise LocalEnvError(f"stack {stack_name!r} is {status}: it holds no resources to point the functions at")
    _, partition, _, stack_region, account, *_ = stack["StackId"].split(":")
    return StackView(
        name=stack["StackName"],
        region=stack_region,
        account_id=account,
        partition=partition,
        stack_id=stack["StackId"],
        parameters={
            p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue", "")) for p in stack.get("Parameters", [])
        },
        resources=resources,
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
    )


# -- env.json -------------------------------------------------------------------------------------


def local_environments(
    template: Mapping[str, Any], stack: StackView, overrides: Mapping[str, str] | None = None
) -> dict[str, dict[str, str]]:
    """Every function's declared variables, resolved against the stack, then `overrides` applied.

    A variable that is AWS::NoValue when deployed is written empty, so that a value in the invoking shell
    (which SAM would pass for a declared name) cannot point the function elsewhere. An override must name a
    declared variable: SAM drops the others. Each result is checked with rolewatch.settings as the function
    will check it under `sam local invoke`. Raises LocalEnvError.
    """
    resolver = Resolver(template, stack)
    out: dict[str, dict[str, str]] = {}
    for function, declared in function_environments(template).items():
        environment: dict[str, str] = {}
        for name, value in declared.items():
            try:
                text = resolver.text(value)
            except TemplateError as exc:
                raise LocalEnvError(f"{function}: {name}: {exc}") from None
            environment[name] = "" if text is NO_VALUE else str(text)
        for name, value in (overrides or {}).items():
            if name not in declared:
                raise LocalEnvError(
                    f"{function}: {name} is not declared in the template's Environment: "
                    "sam local invoke would not pass it (declare it, e.g. as !Ref AWS::NoValue)"
                )
            environment[name] = value
        _check(function, environment)
        out[function] = environment
    if not out:
        raise LocalEnvError("the template has no Lambda function")
    return out


def _check(function: str, environment: Mapping[str, str]) -> None:
    required = REQUIRED_BY_FUNCTION.get(function)
    if required is None:
        return
    missing = sorted(required - set(environment))
    if missing:
        raise LocalEnvError(f"{function}: the template does not declare {', '.join(missing)} (rolewatch.settings)")
    try:
        load_settings({**environment, SAM_LOCAL: "true"}, required=required)
    except ConfigurationError as exc:
        raise LocalEnvError(f"{function}: {exc}") from None


def write_env_file(path: Path, environments: Mapping[str, Mapping[str, str]]) -> None:
    """SAM's --env-vars format: {"<logical id>": {"NAME": "value", ...}, ...}."""
    path.write_text(json.dumps(environments, indent=2) + "\n", encoding="utf-8")


# -- the command ----------------------------------------------------------------------------------


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "local-env",
        help="write env.json for `sam local invoke` from the deployed stack",
        description="Read the deployed stack (CloudFormation DescribeStacks and ListStackResources) and write "
        "env.json: every variable each function of the template declares, with the stack's real values. "
        "samconfig.toml points `sam local invoke` at it. Stack name and region default to samconfig.toml's.",
    )
    parser.add_argument("--stack-name", help="the deployed stack (default: samconfig.toml's stack_name)")
    parser.add_argument("--region", help="its region (default: samconfig.toml's region)")
    parser.add_argument("--profile", help="AWS profile to read the stack with")
    parser.add_argument("--template", type=Path, default=TEMPLATE, help="the SAM template (default: template.yaml)")
    parser.add_argument("--config", type=Path, default=SAMCONFIG, help="samconfig.toml to take defaults from")
    parser.add_argument("--config-env", default=CONFIG_ENV, help="its environment (default: default)")
    parser.add_argument("--out", type=Path, default=ENV_FILE, help="where to write (default: env.json)")
    return parser


def run(args: argparse.Namespace, out: TextIO, cloudformation: Any = None) -> int:
    """Write env.json; `cloudformation` is a client to use instead of one made from --profile/--region."""
    import boto3

    stack_name, region = stack_defaults(args.config, args.config_env)
    stack_name = args.stack_name or stack_name
    region = args.region or region
    if not stack_name:
        raise LocalEnvError(f"no stack name: pass --stack-name or set stack_name in {args.config}")
    try:
        template = load_template(args.template)
    except TemplateError as exc:
        raise LocalEnvError(str(exc)) from None
    if cloudformation is None:
        session = boto3.Session(profile_name=args.profile, region_name=region)
        cloudformation = session.client("cloudformation")
    stack = read_stack(cloudformation, stack_name)
    environments = local_environments(template, stack)
    write_env_file(args.out, environments)
    functions = ", ".join(f"{name} ({len(env)} variables)" for name, env in environments.items())
    out.write(
        f"rolewatch: wrote {args.out} from stack {stack.name} ({stack.account_id}, {stack.region}): {functions}; "
        "`sam local invoke` reads it (samconfig.toml: env_vars)\n"
    )
    return EXIT_OK
