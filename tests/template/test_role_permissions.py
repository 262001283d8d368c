"""The function roles in template.yaml are generated from the code's `requires` declarations.

`make permissions` (scripts/permissions.py) writes them; these tests fail when the template and the
declarations differ, when a declaration names something the template lacks, and when code calls AWS
without a declaration covering the call.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name
from cfn_template import (
    ROOT,
    SRC,
    TEMPLATE,
    as_list,
    declarations,
    function_role,
    granted_actions,
    load,
    permissions_script,
    resources_of_type,
)

from rolewatch import aws_permissions
from rolewatch.aws_permissions import EVENT_AUDIT, REPORT_TOPIC, Function, requires
from rolewatch.policy.catalogue import catalogue

Grant = permissions_script.Grant
NEW_GRANT = Grant(
    code="rolewatch.delivery.list_subscriptions",
    module="rolewatch.delivery",
    actions=("sns:ListSubscriptionsByTopic",),
    scope=REPORT_TOPIC.name,
    arn=REPORT_TOPIC.arn,
    condition=None,
    functions=(EVENT_AUDIT.value,),
    only_if=None,
)


@pytest.fixture(scope="module")
def text() -> str:
    return TEMPLATE.read_text()


def test_the_template_is_what_the_declarations_generate(text):
    assert permissions_script.differences(text, declarations()) == ""


def test_make_permissions_check_passes_on_the_committed_template():
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "permissions.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_declaration_added_without_regenerating_fails_the_check(text):
    grants = [*declarations(), NEW_GRANT]
    found = permissions_script.differences(text, grants)
    assert "Run `make permissions`" in found
    # The message holds the exact block to paste: the new action, in the event function's block only.
    regenerated = permissions_script.rewrite(text, grants)
    assert regenerated != text
    block = "\n".join(permissions_script.render(grants, "EventAuditFunction", load(TEMPLATE), 6))
    assert block in found and block in regenerated
    assert "- sns:ListSubscriptionsByTopic" in block
    assert "+                  - sns:ListSubscriptionsByTopic" in found  # the diff line
    # Regenerated, the role grants it and the check passes.
    path = TEMPLATE.with_name("template.regenerated-for-test.yaml")
    try:
        path.write_text(regenerated)
        grants_now = granted_actions(load(path), "EventAuditRole")
        assert "sns:ListSubscriptionsByTopic" in grants_now
        assert "sns:ListSubscriptionsByTopic" not in granted_actions(load(path), "AccountAuditRole")
        assert permissions_script.differences(regenerated, grants) == ""
    finally:
        path.unlink(missing_ok=True)


def test_a_hand_edit_of_a_generated_block_fails_the_check(text):
    edited = text.replace("                  - iam:GetRole\n", "", 1)
    assert edited != text
    assert "Run `make permissions`" in permissions_script.differences(edited, declarations())


def test_a_declaration_removed_without_regenerating_fails_the_check(text):
    grants = [g for g in declarations() if "dynamodb:GetItem" not in g.actions]
    assert len(grants) == len(declarations()) - 1
    assert "-                  - dynamodb:GetItem" in permissions_script.differences(text, grants)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"functions": ("NoSuchFunction",)}, "functions template.yaml does not define"),
        ({"only_if": "NoSuchCondition"}, "no condition 'NoSuchCondition'"),
        ({"arn": "*"}, "two different scopes are named 'ReportTopic'"),
    ],
)
def test_a_declaration_the_template_cannot_hold_is_refused(text, change, message):
    with pytest.raises(permissions_script.PermissionsError, match=message):
        permissions_script.rewrite(text, [*declarations(), dataclasses.replace(NEW_GRANT, **change)])


def test_every_function_has_one_generated_block(text):
    without = "\n".join(line for line in text.splitlines() if "END permissions of AccountAuditFunction" not in line)
    with pytest.raises(permissions_script.PermissionsError, match="no END marker"):
        permissions_script.rewrite(without, declarations())


def test_the_generated_blocks_decode_to_the_declared_policies(text):
    """The YAML writer round-trips: cfn-lint reads back exactly the policies computed from the declarations."""
    template = load(TEMPLATE)
    for function in Function:
        role = function_role(template, function)
        expected = permissions_script.policies(declarations(), function, template)
        assert template["Resources"][role]["Properties"]["Policies"] == expected


def test_the_declared_functions_are_the_templates_functions():
    template = load(TEMPLATE)
    assert sorted(Function) == sorted(resources_of_type(template, "AWS::Serverless::Function"))
    assert {f for g in declarations() for f in g.functions} == set(Function)


def test_every_declared_action_is_an_iam_action():
    """As Cloud Custodian checks its `permissions`: a typo would grant nothing and fail only in AWS."""
    actions = {a for g in declarations() for a in g.actions}
    assert actions and all(catalogue().canonical(a) == a for a in actions), sorted(
        a for a in actions if catalogue().canonical(a) != a
    )


def test_lambda_service_grants_are_declared_for_every_function():
    template = load(TEMPLATE)
    for function in Function:
        statements = [
            s
            for p in template["Resources"][function_role(template, function)]["Properties"]["Policies"]
            if "PolicyName" in p
            for s in p["PolicyDocument"]["Statement"]
        ]
        granted = {a for s in statements for a in as_list(s["Action"])}
        assert {"logs:PutLogEvents", "xray:PutTraceSegments", "sqs:SendMessage", "kms:GenerateDataKey"} <= granted


def test_requires_refuses_what_cannot_be_granted(monkeypatch):
    monkeypatch.setattr(aws_permissions, "_DECLARATIONS", [])
    with pytest.raises(ValueError, match="exact service:Action"):
        requires("iam:Get*", by=EVENT_AUDIT)(lambda: None)
    with pytest.raises(ValueError, match="at least one action and one function"):
        requires(by=())(lambda: None)

    @requires("sns:Publish", by=EVENT_AUDIT, on=REPORT_TOPIC)
    @requires("kms:Decrypt", by=EVENT_AUDIT)
    def publish() -> None: ...

    assert aws_permissions.actions_of(publish) == {"sns:Publish", "kms:Decrypt"}
    qualified = "test_requires_refuses_what_cannot_be_granted.<locals>.publish"
    assert aws_permissions.declared_in(__name__) == {qualified: frozenset({"sns:Publish", "kms:Decrypt"})}


# -- every AWS call of the code is declared --------------------------------------------------------

# Never deployed: the demo seeds a local moto server; the command line (local_env.py included) runs with
# the user's credentials.
NOT_DEPLOYED = ("rolewatch/demo/", "rolewatch/cli.py", "rolewatch/local_env.py")


def _deployed_files() -> list[Path]:
    return [
        p
        for p in sorted((SRC / "rolewatch").rglob("*.py"))
        if not p.relative_to(SRC).as_posix().startswith(NOT_DEPLOYED)
    ]


def _services() -> set[str]:
    """The boto3 services deployed code makes clients for: `client("iam")` (inventory/clients.py and others)."""
    return {m for path in _deployed_files() for m in re.findall(r'client\("([a-z0-9-]+)"\)', path.read_text())}


# Allowed whatever IAM policies say (it only tells the caller who it is): nothing to grant.
NO_PERMISSION_NEEDED = {"sts:GetCallerIdentity"}
# Operations authorised by another operation's action (the V2 Access Analyzer reads have no action of their own;
# S3's ListObjects and ListObjectsV2 are authorised as s3:ListBucket, IAM has no s3:ListObjects* action).
AUTHORISED_BY = {
    "access-analyzer:ListFindingsV2": "access-analyzer:ListFindings",
    "access-analyzer:GetFindingV2": "access-analyzer:GetFinding",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
}


def _operations() -> dict[str, set[str]]:
    """{boto3 method name: the IAM actions it may be}, over the services rolewatch uses."""
    session = botocore.session.get_session()
    out: dict[str, set[str]] = {}
    for service in sorted(_services()):
        model = session.get_service_model(service)
        for operation in model.operation_names:
            action = f"{model.signing_name}:{operation}"
            out.setdefault(xform_name(operation), set()).add(AUTHORISED_BY.get(action, action))
    return out


def _rolewatch_modules(tree: ast.Module) -> dict[str, str]:
    """{local name: module} of the rolewatch modules a file imports by name (from rolewatch.analyzer import calls)."""
    out: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rolewatch"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                if (SRC / Path(*candidate.split("."))).with_suffix(".py").is_file():
                    out[alias.asname or alias.name] = candidate
    return out


def _called(
    node: ast.AST, operations: dict[str, set[str]], modules: dict[str, str], methods: set[str]
) -> list[tuple[str, int, str | None]]:
    """(boto3 method name, line, the rolewatch function called instead or None) of the AWS calls in `node`:
    `client.op(...)`, or an operation's name given to a paginator or a helper. `calls.op(...)` on a rolewatch
    module is a call of that module's function; `self.op(...)` of a method of the class is no AWS call."""
    found = []
    for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in operations:
            receiver = func.value.id if isinstance(func.value, ast.Name) else None
            if receiver == "self" and func.attr in methods:
                continue
            wrapper = f"{modules[receiver]}.{func.attr}" if receiver in modules else None
            found.append((func.attr, call.lineno, wrapper))
        for arg in call.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value in operations:
                found.append((arg.value, call.lineno, None))
    return found


def _code_units(tree: ast.Module) -> list[tuple[str, ast.AST, set[str]]]:
    """(qualified name, node, the methods of its class) of each function and method; other statements as
    "<module>"."""
    units: list[tuple[str, ast.AST, set[str]]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            units.append((node.name, node, set()))
        elif isinstance(node, ast.ClassDef):
            methods = [m for m in node.body if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef)]
            units += [(f"{node.name}.{m.name}", m, {m.name for m in methods}) for m in methods]
        else:
            units.append(("<module>", node, set()))
    return units


def _call_sites() -> list[tuple[str, str, str, int, set[str], str | None]]:
    """(module, function, method, line, possible actions, wrapper called) of every AWS call in deployed code."""
    operations = _operations()
    sites = []
    for path in _deployed_files():
        module = path.relative_to(SRC).as_posix().removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        tree = ast.parse(path.read_text())
        modules = _rolewatch_modules(tree)
        for name, node, methods in _code_units(tree):
            for method, line, wrapper in _called(node, operations, modules, methods):
                sites.append((module, name, method, line, operations[method], wrapper))
    return sites


def test_the_call_site_scan_finds_the_known_calls():
    """The scan that follows can fail: it sees direct calls, paginators and helpers taking the name."""
    assert {"iam", "ec2", "sns", "s3", "dynamodb", "sts", "accessanalyzer", "securityhub", "events"} <= _services()
    found = {(m, f, op, wrapper) for m, f, op, _, _, wrapper in _call_sites()}
    assert ("rolewatch.delivery", "publish", "publish", None) in found  # sns.publish(...)
    assert ("rolewatch.inventory.iam_reader", "read_inline_policies", "list_role_policies", None) in found  # a helper
    assert ("rolewatch.analyzer.calls", "validate_policy", "validate_policy", None) in found  # get_paginator("...")
    wrapper = "rolewatch.analyzer.calls.validate_policy"
    assert ("rolewatch.analyzer.check", "AccessAnalyzerCheck._policy_checks", "validate_policy", wrapper) in found
    assert "self.publish(" in (SRC / "rolewatch" / "event_service.py").read_text()  # a method, not sns.publish
    assert ("rolewatch.org_audit", "stored_outcomes", "list_objects_v2", None) in found  # get_paginator("...")
    assert _operations()["list_objects_v2"] == {"s3:ListBucket"}  # IAM's name for it
    method_call = ("rolewatch.event_service", "EventAuditService.handle", "publish")
    assert not [site for site in found if site[:3] == method_call]


def test_every_aws_call_in_deployed_code_is_declared():
    """Each call's action is declared by its function, or, for a helper, by a function of the same module;
    a call of a rolewatch wrapper (`calls.validate_policy`) is covered by the wrapper's own declaration."""
    by_code: dict[str, set[str]] = {}
    for grant in declarations():
        by_code.setdefault(grant.code, set()).update(grant.actions)
    undeclared = []
    for module, function, method, line, actions, wrapper in _call_sites():
        if actions & NO_PERMISSION_NEEDED:
            continue
        if wrapper is not None:
            if not actions & by_code.get(wrapper, set()):
                undeclared.append(f"{wrapper} is called at {module}:{line} but declares none of {sorted(actions)}")
            continue
        own = by_code.get(f"{module}.{function}")
        in_module = {a for g in declarations() if g.module == module for a in g.actions}
        covered = actions & own if own is not None else actions & in_module
        if not covered:
            undeclared.append(f"{Path(*module.split('.'))}.py:{line} {function}() calls {method} ({sorted(actions)})")
    assert undeclared == [], "declare these with rolewatch.aws_permissions.requires, then `make permissions`"


def test_a_conditional_grant_of_what_is_granted_anyway_adds_nothing(text):
    grants = [*declarations(), dataclasses.replace(NEW_GRANT, actions=("sns:Publish",), only_if="UseSecurityHub")]
    assert permissions_script.differences(text, grants) == ""
    grants = [*declarations(), dataclasses.replace(NEW_GRANT, only_if="UseSecurityHub")]
    assert "declared-permissions-if-UseSecurityHub" in permissions_script.differences(text, grants)


def test_a_function_that_exists_under_a_condition_gets_that_conditions_grants_unconditionally():
    """OrgAuditFunction exists only in organization mode: an `!If OrganizationMode` inside its own role
    could never be false (cfn-lint W1028), so its organization grants sit in its unconditional policy."""
    template = load(TEMPLATE)
    assert template["Resources"]["OrgAuditFunction"]["Condition"] == "OrganizationMode"
    org = template["Resources"][function_role(template, "OrgAuditFunction")]["Properties"]["Policies"]
    assert not [p for p in org if "Fn::If" in p and p["Fn::If"][0] == "OrganizationMode"]
    [always] = [p for p in org if "PolicyName" in p]
    assert "sts:AssumeRole" in {a for s in always["PolicyDocument"]["Statement"] for a in as_list(s["Action"])}
    # The event function exists in both modes: the same declaration stays under the condition there.
    event = template["Resources"][function_role(template, "EventAuditFunction")]["Properties"]["Policies"]
    [conditional] = [p["Fn::If"][1] for p in event if "Fn::If" in p and p["Fn::If"][0] == "OrganizationMode"]
    assert "sts:AssumeRole" in {a for s in conditional["PolicyDocument"]["Statement"] for a in as_list(s["Action"])}
