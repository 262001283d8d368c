"""template.yaml deployed into moto's CloudFormation, as `sam deploy` deploys it (inside `mock_aws`).

moto's CloudFormation has no SAM transform, so the template is transformed first, by the aws-sam-translator
that SAM CLI ships (in .venv-sam, run as a subprocess: the project's .venv does not have it), with the code
location replaced by a zip uploaded to moto's S3, as `sam deploy` replaces CodeUri (and a state machine's
DefinitionUri inlined as its Definition). moto then creates the
resources the functions' environment refers to (KMS key, SNS topic, S3 bucket, DynamoDB table, SQS queue)
and the two Lambda functions with the Environment CloudFormation resolved; it skips, with a warning, the
types it does not implement (the Scheduler schedule, topic/bucket/queue policies, the alarm, the
EventInvokeConfig), none of which the functions' environment refers to.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import zipfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
# The types moto's CloudFormation skips (see above): expected, not news.
MOTO_SKIPS_TYPES = "ignore:Tried to parse:UserWarning"
SAMCONFIG = ROOT / "samconfig.toml"
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
REGION = "us-east-1"
CODE_BUCKET = "rolewatch-deployment-code"
CODE_KEY = "rolewatch.zip"

_TRANSFORM = """
import json, os, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse
template = yaml_parse(open(sys.argv[1], encoding="utf-8").read())
code = "s3://%s/%s" % (sys.argv[2], sys.argv[3])
template.setdefault("Globals", {}).setdefault("Function", {})["CodeUri"] = code
for resource in template["Resources"].values():
    if resource["Type"] == "AWS::Serverless::Function" and "CodeUri" in resource.get("Properties", {}):
        resource["Properties"]["CodeUri"] = code
    # sam deploy uploads a local DefinitionUri; inlined, CloudFormation receives the same definition.
    if resource["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in resource.get("Properties", {}):
        path = os.path.join(os.path.dirname(sys.argv[1]), resource["Properties"].pop("DefinitionUri"))
        resource["Properties"]["Definition"] = json.load(open(path, encoding="utf-8"))
class NoManagedPolicies:
    def load(self):
        return {}
print(json.dumps(transform(template, {}, NoManagedPolicies())))
"""


@cache
def processed_template(template: Path = TEMPLATE) -> str:
    """The template after the SAM transform, as CloudFormation receives it from `sam deploy`."""
    environment = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": REGION, "SAM_CLI_TELEMETRY": "0"}
    done = subprocess.run(
        [str(SAM_PYTHON), "-c", _TRANSFORM, str(template), CODE_BUCKET, CODE_KEY],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the SAM transform failed:\n{done.stderr[-2000:]}")
    return done.stdout


def deploy(stack_name: str = "rolewatch", parameters: Mapping[str, str] | None = None, region: str = REGION) -> None:
    """Create the stack in moto (call inside mock_aws)."""
    s3 = boto3.client("s3", region_name=region)
    s3.create_bucket(Bucket=CODE_BUCKET)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("rolewatch/__init__.py", "")
    s3.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=archive.getvalue())
    boto3.client("cloudformation", region_name=region).create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(_conditional_policies_kept(json.loads(processed_template()))),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
    )


def _conditional_policies_kept(template: dict[str, Any]) -> dict[str, Any]:
    """moto keeps an `!If [c, policy, !Ref AWS::NoValue]` item of a role's Policies as None and fails on it;
    the roles' permissions are not what these tests look at, so such a policy is kept unconditionally."""
    for resource in template["Resources"].values():
        policies = resource.get("Properties", {}).get("Policies") if resource["Type"] == "AWS::IAM::Role" else None
        if isinstance(policies, list):
            resource["Properties"]["Policies"] = [
                p["Fn::If"][1] if isinstance(p, dict) and "Fn::If" in p else p for p in policies
            ]
    return template


def deployed_functions(stack_name: str, region: str = REGION) -> set[str]:
    """Logical ids of the stack's Lambda functions (OrgAuditFunction exists in organization mode only)."""
    resources = boto3.client("cloudformation", region_name=region).list_stack_resources(StackName=stack_name)
    return {
        r["LogicalResourceId"]
        for r in resources["StackResourceSummaries"]
        if r["ResourceType"] == "AWS::Lambda::Function"
    }


def deployed_environment(stack_name: str, function: str, region: str = REGION) -> dict[str, str]:
    """The Environment the deployed function has, as CloudFormation (moto's) resolved it from the template."""
    resources = boto3.client("cloudformation", region_name=region).list_stack_resources(StackName=stack_name)
    name = next(
        r["PhysicalResourceId"] for r in resources["StackResourceSummaries"] if r.get("LogicalResourceId") == function
    )
    configuration: dict[str, Any] = boto3.client("lambda", region_name=region).get_function_configuration(
        FunctionName=name
    )
    return dict(configuration.get("Environment", {}).get("Variables", {}))


def stack_outputs(stack_name: str, region: str = REGION) -> dict[str, str]:
    stack = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def template_functions() -> list[str]:
    processed = json.loads(processed_template())
    return sorted(k for k, r in processed["Resources"].items() if r["Type"] == "AWS::Lambda::Function")
