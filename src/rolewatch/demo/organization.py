"""`python -m rolewatch.demo --organization`: the organization deployment end to end on an embedded AWS.

An AWS Organization in moto (the default account is the management and security account, three member
accounts each seeded with the sample account's roles and the member stack of templates/member.yaml);
then, with the functions in organization mode:

1. a change made in a member account (AdministratorAccess attached there, through the member's own
   credentials) is audited centrally: its CloudTrail event, carrying the member's `account` and
   `recipientAccountId`, goes to the real EventAuditFunction handler, which reads the member through
   its reader role (STS AssumeRole) and publishes to the central topic;
2. one member's administrator deletes the reader role (the fault the weekly run must report);
3. the weekly organization run: the real state machine definition in moto's interpreter, its steps the
   real OrgAuditFunction handler (org_run.py), then the organization report (JSON and HTML) copied
   from the report bucket to the output directory, and the one summary the subscriber receives.

Account names, reasons and messages are untrusted text: what this module prints goes through
rolewatch.untrusted (the renderers' own output already has).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3

from rolewatch.demo import moto_fidelity
from rolewatch.demo.account import REPO_ROOT
from rolewatch.demo.cloudtrail import cloudtrail_event, load_template, user_identity_of
from rolewatch.demo.console import Console
from rolewatch.demo.embedded_aws import embedded_aws, environment
from rolewatch.demo.invoke import LambdaContext, LogSink, invoke, load_handler
from rolewatch.demo.org_run import Execution, LambdaDispatch, deploy_and_run, interpreter, schedule_input
from rolewatch.demo.org_setup import DemoOrganization, Member, create_organization, delete_reader_role, reader_trust
from rolewatch.demo.resources import DemoResources, create_resources, function_environment
from rolewatch.demo.resources import load_template as load_cfn_template
from rolewatch.demo.subscriber import ReceivedMessage, drain
from rolewatch.org.credentials import READER_ROLE_REFUSED
from rolewatch.settings import DEFAULT_READER_ROLE
from rolewatch.untrusted import display, printable

TEMPLATE = REPO_ROOT / "template.yaml"
EVENT_HANDLER = "rolewatch.handlers.event_audit.handler"
ORG_HANDLER = "rolewatch.handlers.org_audit.handler"
MEMBERS = ("payments-prod", "data-platform", "sandbox-team")
CHANGED_MEMBER = "payments-prod"
BROKEN_MEMBER = "sandbox-team"
CHANGED_ROLE = "Company1-Logs-Role"
ADMIN_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
RUN_NAME = "weekly-demo"
MESSAGE_LINES = 30  # of the member change's report (its fixes and corrected policies run to 200 lines)
REPORT_FILES = {"json": "organization-report.json", "html": "organization-report.html"}


@dataclass
class OrgDemoRecord:
    """What the organization demo did and saw (written by --record; the integration test reads it)."""

    organization: dict[str, Any] = field(default_factory=dict)
    event: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def event_as_expected(self) -> bool:
        """The member's change reached the subscriber as one report about that member's account."""
        messages = self.event.get("messages") or []
        account = self.event.get("account")
        return (
            not self.event.get("error") and len(messages) == 1 and messages[0]["attributes"].get("account") == account
        )

    @property
    def run_as_expected(self) -> bool:
        """The run ended, every account is in the report, the broken member as unauditable, one summary."""
        report = self.run.get("report") or {}
        audited = {a["account_id"] for a in report.get("accounts", [])}
        unauditable = {(a["account_id"], a["kind"]) for a in report.get("unauditable", [])}
        return (
            self.run.get("status") == "SUCCEEDED"
            and audited == set(self.run.get("expected_audited", ()))
            and unauditable == {(self.run.get("expected_unauditable"), READER_ROLE_REFUSED)}
            and len(self.run.get("messages") or []) == 1
            and bool(self.run.get("html_report") and self.run.get("json_report"))
        )

    @property
    def ok(self) -> bool:
        return self.event_as_expected and self.run_as_expected

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(ok=self.ok, event_as_expected=self.event_as_expected, run_as_expected=self.run_as_expected)
        return out


def run_organization(console: Console, *, out_dir: Path, verbose: bool = False) -> OrgDemoRecord:
    started = time.perf_counter()
    record = OrgDemoRecord()
    console.title("rolewatch demo, organization mode: member accounts audited from the security account")
    console.wrapped(
        "Everything below runs in this process against moto (a local AWS emulator): no credentials, no "
        "network, nothing leaves this machine."
    )
    with embedded_aws() as aws:
        region = aws.region
        resources = create_resources(region)
        template = load_cfn_template(TEMPLATE) if TEMPLATE.is_file() else None
        org = create_organization(region, MEMBERS)
        _show_organization(console, org)
        record.organization = {
            "id": org.id,
            "central_account": org.central_account,
            "members": {m.name: m.account_id for m in org.members},
        }
        mode = {"DEPLOYMENT_MODE": "organization", "ORGANIZATION_ID": org.id, "READER_ROLE_NAME": DEFAULT_READER_ROLE}
        event_env = function_environment(resources, template).variables | mode
        org_env = function_environment(resources, template, "OrgAuditFunction").variables | mode
        if verbose:
            event_env["POWERTOOLS_LOG_LEVEL"] = org_env["POWERTOOLS_LOG_LEVEL"] = "INFO"
        record.event = _member_change(console, org, resources, event_env, verbose=verbose)
        broken = org.member(BROKEN_MEMBER)
        console.heading(f"3. A member's administrator deletes the reader role in {broken.account_id} ({broken.name})")
        delete_reader_role(broken, region)
        console.wrapped(
            f"DeleteRole {DEFAULT_READER_ROLE} in {broken.account_id}: from now on AWS answers the central "
            "functions' AssumeRole with AccessDenied (moto admits any role ARN; the demo's embedded STS refuses "
            "a role that does not exist, as AWS does: demo/moto_fidelity.py)."
        )
        caller = boto3.client("sts", region_name=region).get_caller_identity()["Arn"]
        with moto_fidelity.assume_role_needs_the_role(caller):
            record.run = _weekly_run(
                console, org, aws=aws, resources=resources, template=template, env=org_env, out_dir=out_dir,
                verbose=verbose,
            )  # fmt: skip
    record.seconds = time.perf_counter() - started
    _show_end(console, record)
    return record


# -- sections ---------------------------------------------------------------------------------------


def _show_organization(console: Console, org: DemoOrganization) -> None:
    console.heading(f"1. The organization {org.id}, created in the embedded AWS")
    console.wrapped(
        f"Management and security account {org.central_account}: the central stack (report topic, bucket, "
        f"key, idempotency table) and the function roles the reader role trusts. Member accounts, each "
        "created with Organizations' CreateAccount, seeded with examples/sample-account.json's roles through "
        "the member's own IAM API, and given templates/member.yaml by the embedded CloudFormation:"
    )
    rows = [
        (m.account_id, display(m.name, 40), str(len(m.seeded.roles)), m.stack_status, m.reader_role_arn)
        for m in org.members
    ]
    console.table(("account", "name", "roles seeded", "member stack", "reader role"), rows)
    trust = reader_trust(org.members[0], org.region)
    statement = (trust.get("Statement") or [{}])[0]
    conditions = (statement.get("Condition") or {}).values()
    principals = next((c["aws:PrincipalArn"] for c in conditions if "aws:PrincipalArn" in c), [])
    console.line()
    console.wrapped(
        "The reader role's trust (from member.yaml): the central account, only these principals, only this "
        "organization (aws:PrincipalOrgID):"
    )
    for principal in principals if isinstance(principals, list) else [principals]:
        console.line(f"    {display(principal, 120)}")


def _member_change(
    console: Console, org: DemoOrganization, resources: DemoResources, env: dict[str, str], *, verbose: bool
) -> dict[str, Any]:
    member = org.member(CHANGED_MEMBER)
    region = org.region
    console.heading(f"2. A change in member account {member.account_id} ({member.name}), audited centrally")
    member.session(region).client("iam").attach_role_policy(RoleName=CHANGED_ROLE, PolicyArn=ADMIN_POLICY_ARN)
    event = _member_event(member, region)
    detail = event["detail"]
    console.wrapped(
        f"ci-deployer attaches AdministratorAccess to {CHANGED_ROLE} in {member.account_id} (a real call with "
        "the member's credentials). The member stack's rule forwards its CloudTrail event to the central bus; "
        f"the event (account {event['account']}, recipientAccountId {detail['recipientAccountId']}, eventID "
        f"{detail['eventID']}) goes to rolewatch.handlers.event_audit.handler in organization mode, which "
        f"assumes {DEFAULT_READER_ROLE} in the member to re-read the role."
    )
    with environment(env):
        handler = load_handler(EVENT_HANDLER)
        sink = LogSink()
        sink.capture(env["POWERTOOLS_SERVICE_NAME"])
        context = LambdaContext(
            function_name="rolewatch-EventAuditFunction", region=region, account_id=org.central_account
        )
        invocation = invoke(handler, event, context, sink)
    messages = drain(resources.queue_url, region)
    console.line(f"  handled in {invocation.seconds:.2f} s; the subscriber receives {len(messages)} message(s):")
    for message in messages:
        _show_message(console, message, lines=MESSAGE_LINES)
    error = ""
    if invocation.error is not None:
        error = f"{type(invocation.error).__name__}: {invocation.error}"
        console.line("  The handler FAILED:")
        console.block(display(error, 2000), marker="  ! ")
    if verbose and invocation.output.strip():
        console.block(invocation.output, marker="  > ")
    return {
        "account": member.account_id,
        "event_id": detail["eventID"],
        "role": CHANGED_ROLE,
        "seconds": round(invocation.seconds, 3),
        "error": error,
        "response": invocation.response if isinstance(invocation.response, dict) else repr(invocation.response),
        "messages": [m.to_dict() for m in messages],
    }


def _member_event(member: Member, region: str) -> dict[str, Any]:
    """The AttachRolePolicy event as the member's CloudTrail writes it and its rule forwards it."""
    template = load_template("iam-attach-role-policy.json")
    identity = user_identity_of(template)
    identity.update(
        accountId=member.account_id,
        arn=f"arn:aws:iam::{member.account_id}:user/ci-deployer",
        principalId="AIDAQXAMPLECIDEPLOY01",
    )
    return cloudtrail_event(
        template,
        account_id=member.account_id,
        region=region,
        request_parameters={"roleName": CHANGED_ROLE, "policyArn": ADMIN_POLICY_ARN},
        response_elements=None,
        user_identity=identity,
    )


def _weekly_run(
    console: Console,
    org: DemoOrganization,
    *,
    aws: Any,
    resources: DemoResources,
    template: dict[str, Any] | None,
    env: dict[str, str],
    out_dir: Path,
    verbose: bool,
) -> dict[str, Any]:
    console.heading("4. The weekly organization run (what the Monday schedule starts)")
    run_input, source = schedule_input(template)
    console.wrapped(
        "statemachine/organization_audit.asl.json run by moto's Step Functions interpreter (list-accounts -> "
        "Distributed Map over the accounts -> organization-report); each Lambda task runs "
        f"{ORG_HANDLER} in this process. Input, from {source}: {json.dumps(run_input)}"
    )
    with environment(env):
        handler = load_handler(ORG_HANDLER)
        sink = LogSink()
        sink.capture(env["POWERTOOLS_SERVICE_NAME"])
        context = LambdaContext(
            function_name="rolewatch-OrgAuditFunction",
            region=org.region,
            account_id=org.central_account,
            memory_limit_in_mb=1024,
            timeout_seconds=900,
        )
        dispatch = LambdaDispatch(handler, context, sink)
        with interpreter(aws, dispatch):
            execution = deploy_and_run(org.region, org.function_roles["OrgAuditFunction"], run_input, RUN_NAME)
    messages = drain(resources.queue_url, org.region)
    steps = [
        (i.step, i.account_id or "-", f"{i.seconds:.2f}", display(i.error, 80) or "ok") for i in dispatch.invocations
    ]
    console.line(f"  Execution {RUN_NAME}: {execution.status} in {execution.seconds:.1f} s")
    if execution.error:
        console.block(display(execution.error, 2000), marker="  ! ")
    console.table(("step (Lambda invocation)", "account", "seconds", "result"), steps, indent="    ")
    report, paths = _fetch_report(resources, org.region, out_dir, execution)
    if report:
        _show_report(console, report)
    for message in messages:
        console.line("  The subscriber receives the organization summary:")
        _show_message(console, message)
    if paths.get("html"):
        console.line(f"  Organization report (HTML): {paths['html']}   open it in a browser")
    if paths.get("json"):
        console.line(f"  Organization report (JSON): {paths['json']}")
    if verbose and sink.buffer.getvalue().strip():
        console.block(sink.take(), marker="  > ")
    broken = org.member(BROKEN_MEMBER)
    return {
        "status": execution.status,
        "error": execution.error,
        "seconds": round(execution.seconds, 3),
        "history": list(execution.history),
        "steps": [asdict(i) for i in dispatch.invocations],
        "input": run_input,
        "report": report,
        "json_report": paths.get("json"),
        "html_report": paths.get("html"),
        "messages": [m.to_dict() for m in messages],
        "expected_audited": sorted({org.central_account} | {m.account_id for m in org.members} - {broken.account_id}),
        "expected_unauditable": broken.account_id,
    }


def _fetch_report(
    resources: DemoResources, region: str, out_dir: Path, execution: Execution
) -> tuple[dict[str, Any], dict[str, str]]:
    """The run's organization report (its keys from the last step's output), copied to out_dir."""
    keys = execution.output.get("report") if isinstance(execution.output, dict) else None
    if not isinstance(keys, dict):
        return {}, {}
    s3 = boto3.client("s3", region_name=region)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}
    report: dict[str, Any] = {}
    for kind, filename in REPORT_FILES.items():
        key = keys.get(kind)
        if not isinstance(key, str) or not key:
            continue
        body = s3.get_object(Bucket=resources.bucket, Key=key)["Body"].read()
        target = out_dir / filename
        target.write_bytes(body)
        paths[kind] = str(target)
        if kind == "json":
            report = json.loads(body)
    return report, paths


def _show_report(console: Console, report: dict[str, Any]) -> None:
    summary = report["summary"]
    console.line()
    console.wrapped(
        f"The organization report: {summary['audited']} accounts audited, {summary['unauditable']} could not be "
        f"audited; {summary['roles']} roles, {summary['findings']} open findings."
    )
    rows = [
        (
            a["account_id"],
            display(a["name"], 30),
            str(a["roles"]),
            a["worst"],
            str(a["by_severity"].get("critical", 0)),
            str(a["by_severity"].get("high", 0)),
            str(a["by_severity"].get("medium", 0)),
            str(a["new"]),
        )
        for a in report["accounts"]
    ]
    console.table(("account, worst first", "name", "roles", "worst", "critical", "high", "medium", "new"), rows, "    ")
    for account in report["unauditable"]:
        console.line(
            f"    cannot audit account {display(account['account_id'], 20)}: {display(account['reason'], 300)} "
            f"[{display(account['kind'], 40)}]"
        )


def _show_message(console: Console, message: ReceivedMessage, *, lines: int | None = None) -> None:
    """A received message, each line printable (escapes for anything a terminal would act on); with
    `lines`, only the first ones (--record keeps the whole message)."""
    attributes = "  ".join(f"{k}={v}" for k, v in sorted(message.attributes.items()))
    body = message.message.rstrip("\n").splitlines()
    shown = body if lines is None else body[:lines]
    text = [f"Subject: {message.subject}", f"Attributes: {attributes}", "", *shown]
    if len(shown) < len(body):
        text.append(f"... ({len(body) - len(shown)} more lines: the whole message is in the --record file)")
    console.block("\n".join(printable(line) for line in text), marker="  | ")
    console.line("  " + "-" * 40)


def _show_end(console: Console, record: OrgDemoRecord) -> None:
    console.line()
    console.line("=" * 100)
    event = "as expected" if record.event_as_expected else "NOT AS EXPECTED"
    run = "as expected" if record.run_as_expected else "NOT AS EXPECTED"
    console.line(f"Member change: {event}; weekly organization run: {run}. Total {record.seconds:.1f} s.")
    if not record.ok:
        console.line("Not as expected (exit status 1)")
