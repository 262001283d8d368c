"""`python -m rolewatch.demo` (what `make demo` runs): the event pipeline end to end on an embedded AWS.

    python -m rolewatch.demo                 # the demo, for a person
    python -m rolewatch.demo --verbose       # plus the function's own log lines per event
    python -m rolewatch.demo --record r.json # plus a machine-readable record (the integration test reads it)
    python -m rolewatch.demo --serve         # keep the embedded AWS running for `sam local invoke` (serve.py)
    python -m rolewatch.demo --organization  # organization mode: member accounts, the weekly run (organization.py)

Exit status: 0 when every event had the outcome the story expects, 1 when one did not (or the handler
failed), 2 when the demo could not run (a missing file, the embedded AWS not starting).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rolewatch.demo import organization, scenario, serve
from rolewatch.demo.account import REPO_ROOT, SeededAccount, SeedError, load_sample, seed_account
from rolewatch.demo.cloudtrail import TemplateError
from rolewatch.demo.console import Console
from rolewatch.demo.embedded_aws import EmbeddedAws, EmbeddedAwsError, embedded_aws, environment
from rolewatch.demo.invoke import Handler, Invocation, LambdaContext, LogSink, invoke, load_handler
from rolewatch.demo.org_run import OrgRunError
from rolewatch.demo.org_setup import OrganizationSetupError
from rolewatch.demo.resources import DemoResources, FunctionEnvironment, create_resources, function_environment
from rolewatch.demo.resources import load_template as load_cfn_template
from rolewatch.demo.subscriber import ReceivedMessage, drain
from rolewatch.demo.weekly import WeeklyAuditRun, run_weekly_audit
from rolewatch.local_env import LocalEnvError
from rolewatch.sam_template import TemplateError as SamTemplateError

EVENT_HANDLER = "rolewatch.handlers.event_audit.handler"
TEMPLATE = REPO_ROOT / "template.yaml"
DEFAULT_OUT = Path("out")
VERBOSE_LOG_LEVEL = "INFO"  # --verbose: the function's own log lines, shown under each event
COLD_START_NOTE = " (the container's first event: clients, baseline and action catalogue load once)"

PUBLISHED = "published"
NOTHING = "nothing to publish"
SKIPPED = "skipped"
FAILED = "failed"
# The outcome each expectation accepts.
ACCEPTED = {scenario.PUBLISHES: {PUBLISHED}, scenario.PUBLISHES_NOTHING: {NOTHING}, scenario.SKIPPED: {SKIPPED}}


@dataclass
class StepRecord:
    key: str
    title: str
    event_name: str
    event_id: str
    expected: str
    outcome: str
    detail: str
    seconds: float
    messages: list[dict[str, Any]] = field(default_factory=list)
    response: Any = None
    log: str = ""

    @property
    def as_expected(self) -> bool:
        return self.outcome in ACCEPTED.get(self.expected, set())


@dataclass
class DemoRecord:
    endpoint: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    steps: list[StepRecord] = field(default_factory=list)
    weekly: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(s.as_expected for s in self.steps) and self.weekly.get("as_expected") is True

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for step, raw in zip(self.steps, out["steps"], strict=True):
            raw["as_expected"] = step.as_expected
        out["ok"] = self.ok
        return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rolewatch.demo", description="rolewatch's event pipeline on an embedded AWS (moto)."
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the weekly HTML report goes (out/)")
    parser.add_argument("--record", type=Path, help="also write a JSON record of every event and message here")
    parser.add_argument("--verbose", action="store_true", help="show the function's log lines for each event")
    parser.add_argument(
        "--organization",
        action="store_true",
        help="organization mode: three member accounts, a member's change audited centrally, the weekly "
        "organization run (reports in --out)",
    )
    serving = parser.add_argument_group("--serve: the embedded AWS for `sam local invoke`, until Ctrl-C")
    serving.add_argument("--serve", action="store_true", help="seed it, write env.json and keep it running")
    serving.add_argument("--port", type=int, default=serve.DEFAULT_PORT, help="port (default %(default)s)")
    serving.add_argument("--bind", default=serve.DEFAULT_BIND, help="address to listen on (default %(default)s)")
    serving.add_argument("--host", default=serve.DEFAULT_HOST, help="its name in SAM's containers (%(default)s)")
    serving.add_argument("--env-file", type=Path, default=Path("env.json"), help="where to write (default env.json)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    console = Console()
    if options.serve:
        return _serve(console, options)
    if options.organization:
        return _organization(console, options)
    try:
        record = run(console, out_dir=options.out, verbose=options.verbose)
    except (EmbeddedAwsError, SeedError, TemplateError, ImportError) as exc:
        print(f"rolewatch demo: cannot run: {exc}", file=sys.stderr)
        return 2
    if options.record:
        options.record.write_text(json.dumps(record.to_dict(), indent=1, default=str), encoding="utf-8")
    return 0 if record.ok else 1


def _organization(console: Console, options: argparse.Namespace) -> int:
    try:
        record = organization.run_organization(console, out_dir=options.out, verbose=options.verbose)
    except (EmbeddedAwsError, SeedError, TemplateError, OrganizationSetupError, OrgRunError, ImportError) as exc:
        print(f"rolewatch demo: cannot run: {exc}", file=sys.stderr)
        return 2
    if options.record:
        options.record.write_text(json.dumps(record.to_dict(), indent=1, default=str), encoding="utf-8")
    return 0 if record.ok else 1


def _serve(console: Console, options: argparse.Namespace) -> int:
    try:
        serve.serve(
            console, options.env_file, port=options.port, bind=options.bind, host=options.host, stop=threading.Event()
        )
    except (EmbeddedAwsError, SeedError, SamTemplateError, LocalEnvError, ImportError) as exc:
        print(f"rolewatch demo: cannot serve: {exc}", file=sys.stderr)
        return 2
    return 0


def run(console: Console, *, out_dir: Path = DEFAULT_OUT, verbose: bool = False) -> DemoRecord:
    started = time.perf_counter()
    record = DemoRecord()
    console.title("rolewatch demo: CloudTrail event -> re-read the role -> audit -> SNS, on an embedded AWS")
    console.wrapped(
        "Everything below runs in this process against moto (a local AWS emulator): no credentials, no "
        "network, nothing leaves this machine."
    )
    with embedded_aws() as aws:
        record.endpoint = aws.endpoint_url
        resources = create_resources(aws.region)
        template = load_cfn_template(TEMPLATE) if TEMPLATE.is_file() else None
        env = function_environment(resources, template)
        if verbose:
            env.variables["POWERTOOLS_LOG_LEVEL"] = VERBOSE_LOG_LEVEL
        record.environment = env.variables
        _show_stack(console, aws, resources, env)
        sample = load_sample()
        account = seed_account(aws.region, sample, leave_out={scenario.OIDC_ROLE})
        _show_account(console, sample, account)
        ctx = scenario.Context(account=account, region=aws.region)
        with environment(env.variables):
            handler = load_handler(EVENT_HANDLER)
            sink = LogSink()
            sink.capture(env.variables["POWERTOOLS_SERVICE_NAME"])
            record.steps = Replayer(console, ctx, handler, sink, resources, verbose).replay_changes()
        _show_summary(console, record.steps)
        weekly = run_weekly_audit(console, resources, template, account, out_dir, verbose=verbose)
        record.weekly = weekly.to_dict()
    record.seconds = time.perf_counter() - started
    _show_end(console, record, weekly)
    return record


# -- sections ---------------------------------------------------------------------------------------


def _show_stack(console: Console, aws: EmbeddedAws, resources: DemoResources, env: FunctionEnvironment) -> None:
    console.heading("1. The stack, as `sam deploy` would create it")
    console.table(
        ("resource", "embedded AWS"),
        [
            ("endpoint", aws.endpoint_url),
            ("ReportKey (KMS)", resources.key_arn),
            ("ReportTopic (SNS, KMS-encrypted)", resources.topic_arn),
            ("ReportBucket (S3, SSE-KMS, public access blocked)", resources.bucket),
            ("IdempotencyTable (DynamoDB, key id, TTL expiration)", resources.table),
            ("subscriber (SQS queue on the topic, raw delivery off)", resources.queue_arn),
        ],
    )
    console.line()
    source = "template.yaml" if env.from_template else "the contract (template.yaml has none yet)"
    console.wrapped(f"EventAuditFunction's environment, from {source}, pointed at these resources:")
    console.table(("variable", "value"), sorted(env.variables.items()), indent="    ")
    for note in env.notes:
        console.wrapped(f"note: {note}", indent="    ")


def _show_account(console: Console, sample: dict[str, Any], account: SeededAccount) -> None:
    console.heading(f"2. The account {account.account_id}: examples/sample-account.json, created through the API")
    instances = {i.profile_name: f"{i.name} ({i.instance_id})" for i in account.instances}
    rows = []
    for role in sample["RoleDetailList"]:
        name = role["RoleName"]
        if name not in account.roles:
            continue
        policies = [p["PolicyName"] for p in role.get("AttachedManagedPolicies", [])]
        policies += [f"{p['PolicyName']} (inline)" for p in role.get("RolePolicyList", [])]
        profiles = [p["InstanceProfileName"] for p in role.get("InstanceProfileList", [])]
        running = ", ".join(instances[p] for p in profiles if p in instances) or "-"
        rows.append((name, ", ".join(policies) or "-", running))
    console.table(("role", "policies", "EC2 instance using it"), rows)
    for addition in account.additions:
        console.wrapped(f"added for the story: {addition}")


@dataclass
class Replayer:
    """Replays each step's event through the handler and reads what the subscriber receives."""

    console: Console
    ctx: scenario.Context
    handler: Handler
    sink: LogSink
    resources: DemoResources
    verbose: bool = False

    def replay_changes(self) -> list[StepRecord]:
        self.console.heading("3. Changes made through the API; their CloudTrail events replayed through the handler")
        self.console.wrapped(
            "Each change is a real API call on the embedded AWS; its EventBridge event (the shape of events/*.json) "
            "goes to rolewatch.handlers.event_audit.handler; then the subscriber's queue is read."
        )
        steps: list[scenario.Step] = []
        records: list[StepRecord] = []
        total = len(scenario.CHANGES) + 1
        for number, change in enumerate(scenario.CHANGES, start=1):
            step = change(self.ctx)
            steps.append(step)
            records.append(self.replay(number, total, step))
        number, admin = next((n, s) for n, s in enumerate(steps, start=1) if s.key == "admin-attach")
        records.append(self.replay(total, total, scenario.duplicate_of(admin, number)))
        return records

    def replay(self, number: int, total: int, step: scenario.Step) -> StepRecord:
        console = self.console
        console.line()
        console.line(f"[{number}/{total}] {step.title}")
        console.wrapped(step.story, indent="      ")
        detail = step.event["detail"]
        context = LambdaContext(
            function_name="rolewatch-EventAuditFunction", region=self.ctx.region, account_id=self.ctx.account.account_id
        )
        invocation = invoke(self.handler, step.event, context, self.sink)
        messages = drain(self.resources.queue_url, self.ctx.region)
        outcome, why = classify(invocation, messages)
        console.wrapped(
            f"event {detail['eventName']} ({detail['eventSource']}), eventID {detail['eventID']}: "
            f"handled in {invocation.seconds:.2f} s{COLD_START_NOTE if number == 1 else ''}",
            indent="      ",
        )
        if messages:
            console.line(f"      The subscriber receives {len(messages)} message(s):")
            for message in messages:
                _show_message(console, message)
        if invocation.error is not None:
            console.line("      The handler FAILED (Lambda would retry, then send the event to the dead-letter queue):")
            console.block(f"{type(invocation.error).__name__}: {invocation.error}", marker="      ! ")
        expected = outcome in ACCEPTED[step.expected]
        verdict = "as expected" if expected else f"NOT AS EXPECTED (expected: {step.expected})"
        console.line(f"      => {outcome}{': ' + why if why else ''}  [{verdict}]")
        if self.verbose and invocation.output.strip():
            console.line("      function output:")
            console.block(invocation.output, marker="      > ")
        return StepRecord(
            key=step.key,
            title=step.title,
            event_name=detail["eventName"],
            event_id=detail["eventID"],
            expected=step.expected,
            outcome=outcome,
            detail=why,
            seconds=round(invocation.seconds, 3),
            messages=[m.to_dict() for m in messages],
            response=_jsonable(invocation.response),
            log=invocation.output,
        )


def _show_message(console: Console, message: ReceivedMessage) -> None:
    attributes = "  ".join(f"{k}={v}" for k, v in sorted(message.attributes.items()))
    console.block(f"Subject: {message.subject}\nAttributes: {attributes}\n\n{message.message}", marker="      | ")
    console.line("      " + "-" * 40)


def classify(invocation: Invocation, messages: list[ReceivedMessage]) -> tuple[str, str]:
    """published / nothing to publish / skipped / failed, and a short reason from the handler's response."""
    if invocation.error is not None:
        return FAILED, f"{type(invocation.error).__name__}: {invocation.error}"
    reason = _reason(invocation.response)
    if messages:
        return PUBLISHED, f"{len(messages)} message(s)"
    if isinstance(invocation.response, dict) and invocation.response.get("duplicate") is True:
        return NOTHING, "duplicate delivery: already audited (idempotency table)"
    if _says_skipped(invocation.response):
        return SKIPPED, reason
    return NOTHING, reason


def _says_skipped(response: Any) -> bool:
    if not isinstance(response, dict):
        return False
    status = str(response.get("status") or response.get("outcome") or "").lower()
    return status.startswith("skip") or bool(response.get("skipped") is True)


def _reason(response: Any) -> str:
    if not isinstance(response, dict):
        return ""
    for key in ("reason", "detail", "message", "status", "outcome"):
        value = response.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def _show_summary(console: Console, steps: list[StepRecord]) -> None:
    console.heading("4. One line per event")
    rows = [
        (str(i), s.event_name, s.outcome, "yes" if s.as_expected else "NO", _summary_detail(s))
        for i, s in enumerate(steps, start=1)
    ]
    console.table(("#", "event", "outcome", "as expected", "subject of the report, or why none"), rows)


def _summary_detail(step: StepRecord) -> str:
    if step.messages:
        return "; ".join(str(m["subject"]) for m in step.messages)
    return step.detail


def _show_end(console: Console, record: DemoRecord, weekly: WeeklyAuditRun) -> None:
    console.line()
    console.line("=" * 100)
    published = sum(len(s.messages) for s in record.steps)
    unexpected = [s.key for s in record.steps if not s.as_expected]
    if not weekly.as_expected:
        unexpected.append(f"the weekly audit ({weekly.status}: {weekly.detail})")
    console.line(
        f"{len(record.steps)} events replayed, {published} report(s) published; weekly audit: {weekly.status}. "
        f"Total {record.seconds:.1f} s."
    )
    if unexpected:
        console.line(f"Not as expected: {', '.join(unexpected)} (exit status 1)")
