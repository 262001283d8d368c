"""Per-event audit latency and AWS calls of EventAuditFunction, warm and cold, against a seeded moto account.

    .venv/bin/python benchmarks/bench_event_audit.py                    # every event file, 20 warm runs each
    .venv/bin/python benchmarks/bench_event_audit.py --repeat 5 --cold-runs 1 --json out/bench-event.json

Warm (in this process, moto's `mock_aws` with AWS-managed policies loaded): the demo account
(examples/sample-account.json, seeded as `make demo` seeds it) and every file in events/ meant for the
event function (all but the account function's schedule). Each event is replayed with a fresh event id,
so idempotency does not short-circuit it. Per event kind: the first run with an empty AWS-managed policy
cache (a container that has not yet read those policies), then `--repeat` warm runs (median, min, max),
then a duplicate delivery of the last one (the idempotency hit). AWS calls are counted with a botocore
"before-call" hook registered before any client exists, so every call the handler makes is counted,
whatever client made it.

Cold (fresh interpreters, `--cold-runs` each, median): the import of the handler module alone (what a
Lambda cold start pays before the first event), and a first invocation in a new process, with the
Powertools Tracer on and off (on = as in Lambda, where it imports and patches with the X-Ray SDK) and
with the action catalogue loaded by the first audit or beforehand.

moto answers in microseconds to a few milliseconds from this process; AWS answers in tens of
milliseconds per call from a Lambda function. The latencies here are rolewatch's own work plus moto's;
the AWS-calls columns are the figures that carry over to AWS.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.handlers

ROOT = Path(__file__).resolve().parents[1]
EVENTS_DIR = ROOT / "events"
EVENT_HANDLER = "rolewatch.handlers.event_audit.handler"
REGION = "us-east-1"
COLD_EVENT = "iam-attach-role-policy.json"  # the most common risky change, for the cold-start runs
RESULT_MARKER = "BENCH-RESULT "
# EC2 ids in the ready events, and which of the seeded account's resources stands in for them.
TEMPLATE_INSTANCE_ID = "i-0a1b2c3d4e5f67890"
TEMPLATE_ASSOCIATION_IDS = ("iip-assoc-0e7736511a163c209", "iip-assoc-0b215292fab192820")
STAND_IN_PROFILE = "S3AccessRole"  # the analytics-worker instance
MOTO_NOTE = (
    "moto latency is not AWS latency: moto answers in-process in well under a millisecond to a few ms, AWS "
    "in tens of ms per call from Lambda. Read the time columns as rolewatch's own cost plus moto's; the "
    "AWS-calls columns carry over to AWS."
)


# -- counting AWS calls ----------------------------------------------------------------------------


class ApiCalls:
    """Every API call made through botocore after `install()`: "service:Operation" -> count."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.endpoint_prefix}:{model.name}"] += 1

    def install(self) -> None:
        # Sessions register BUILTIN_HANDLERS when they are created (moto hooks in the same way), so this
        # must run before the first boto3 session exists.
        botocore.handlers.BUILTIN_HANDLERS.append(("before-call", self))

    def uninstall(self) -> None:
        botocore.handlers.BUILTIN_HANDLERS.remove(("before-call", self))

    @contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        self.calls.clear()
        taken: Counter[str] = Counter()
        try:
            yield taken
        finally:
            taken.update(self.calls)


def by_service(calls: Counter[str]) -> dict[str, int]:
    out: Counter[str] = Counter()
    for key, n in calls.items():
        out[key.split(":", 1)[0]] += n
    return dict(sorted(out.items()))


def services_text(calls: dict[str, int]) -> str:
    return " ".join(f"{service}:{n}" for service, n in calls.items()) or "-"


# -- events ----------------------------------------------------------------------------------------


def event_function_files(events_dir: Path = EVENTS_DIR) -> list[Path]:
    """Every ready event the event function takes: all but the account function's schedule and `mode` payloads."""
    chosen = []
    for path in sorted(events_dir.glob("*.json")):
        event = json.loads(path.read_text(encoding="utf-8"))
        if event.get("detail-type") == "Scheduled Event" or "mode" in event:
            continue
        chosen.append(path)
    return chosen


def adapt(event: dict[str, Any], instance_id: str, association_id: str) -> dict[str, Any]:
    """The ready event with the seeded account's EC2 ids instead of the made-up ones."""
    text = json.dumps(event).replace(TEMPLATE_INSTANCE_ID, instance_id)
    for template_id in TEMPLATE_ASSOCIATION_IDS:
        text = text.replace(template_id, association_id)
    return json.loads(text)


_DELIVERIES = itertools.count(1)
# Access Analyzer events are deduplicated per role and hour (rolewatch.event.triggers), not per event id.
ACCESS_ANALYZER_TIME_FIELDS = ("createdAt", "analyzedAt", "updatedAt")


def fresh(event: dict[str, Any]) -> dict[str, Any]:
    """The same event as a new delivery of a new call: new envelope id and CloudTrail eventID; for an
    Access Analyzer event, a time in an hour of its own."""
    renewed = copy.deepcopy(event)
    if "id" in renewed and "detail-type" in renewed:
        renewed["id"] = str(uuid.uuid4())
    detail = renewed.get("detail")
    if not isinstance(detail, dict):
        return renewed
    for key in ("eventID", "id"):
        if key in detail:
            detail[key] = str(uuid.uuid4())
    if renewed.get("source") == "aws.access-analyzer":
        moment = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=next(_DELIVERIES))).strftime("%Y-%m-%dT%H:%M:%SZ")
        renewed["time"] = moment
        for key in ACCESS_ANALYZER_TIME_FIELDS:
            if key in detail:
                detail[key] = moment
    return renewed


def kind_of(path: Path, event: dict[str, Any]) -> str:
    detail = event.get("detail")
    if isinstance(detail, dict) and detail.get("eventName"):
        return str(detail["eventName"])
    if event.get("detail-type"):
        return f"{event['detail-type']} ({path.stem})"
    return "direct invocation"


# -- the seeded account (shared by the warm run and the cold children) -----------------------------


def seed_benchmark_account(extra_env: dict[str, str]) -> tuple[Any, dict[str, str]]:
    """Inside an active moto mock: the stack's resources, the demo account, and the handler's environment.

    One change of the ready events is applied, so the most common risky event (AdministratorAccess
    attached, events/iam-attach-role-policy.json) is measured with the state it reports: a critical
    report with a permission delta. The other events are replayed against the account as it is.
    """
    import boto3

    from rolewatch.demo.account import seed_account
    from rolewatch.demo.resources import create_resources, function_environment, load_template

    resources = create_resources(REGION)
    account = seed_account(REGION)
    attach = json.loads((EVENTS_DIR / COLD_EVENT).read_text(encoding="utf-8"))["detail"]["requestParameters"]
    boto3.client("iam", region_name=REGION).attach_role_policy(
        RoleName=attach["roleName"], PolicyArn=attach["policyArn"]
    )
    env = function_environment(resources, load_template(ROOT / "template.yaml")).variables
    env.update(extra_env)
    return account, env


FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
# The handler's environment in the benchmark: the template's, with Access Analyzer off (moto has none;
# in AWS the check adds its own calls) and metrics on (they cost time in Lambda too; their EMF output is
# captured). Logs stay at WARNING so they do not dominate; Lambda writes them asynchronously anyway.
BENCH_ENV = {"ACCESS_ANALYZER": "off", "POWERTOOLS_METRICS_DISABLED": "false", "POWERTOOLS_LOG_LEVEL": "WARNING"}
TRACER_ON_ENV = {
    "POWERTOOLS_TRACE_DISABLED": "false",
    "AWS_LAMBDA_FUNCTION_NAME": "rolewatch-EventAuditFunction",
    "LAMBDA_TASK_ROOT": str(ROOT / "src"),
    "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
}
TRACER_OFF_ENV = {"POWERTOOLS_TRACE_DISABLED": "true"}


# -- warm ------------------------------------------------------------------------------------------


@dataclass
class WarmRow:
    file: str
    kind: str
    status: str
    first_ms: float
    warm_median_ms: float
    warm_cpu_median_ms: float  # CPU time of this process (rolewatch and the in-process moto): steadier under load
    warm_min_ms: float
    warm_max_ms: float
    duplicate_ms: float
    calls_first: dict[str, int]
    calls_warm: dict[str, int]
    calls_duplicate: dict[str, int]
    operations_warm: dict[str, int] = field(default_factory=dict)


def warm_benchmark(files: list[Path], repeat: int, counter: ApiCalls) -> list[WarmRow]:
    from moto import mock_aws

    from rolewatch.demo.embedded_aws import environment
    from rolewatch.demo.invoke import LambdaContext, LogSink, invoke, load_handler
    from rolewatch.inventory.iam_reader import AWS_MANAGED_POLICY_CACHE

    rows = []
    with environment(FAKE_AWS_ENV), mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        account, env = seed_benchmark_account(BENCH_ENV)
        stand_in = account.instance(STAND_IN_PROFILE)
        with environment(env):
            handler = load_handler(EVENT_HANDLER)
            sink = LogSink()
            sink.capture(env["POWERTOOLS_SERVICE_NAME"])

            def run(event: dict[str, Any]) -> tuple[float, Counter[str], Any, float]:
                context = LambdaContext(function_name="rolewatch-EventAuditFunction", region=REGION, account_id="x")
                cpu = time.process_time()
                with counter.counting() as calls:
                    invocation = invoke(handler, event, context, sink)
                cpu_ms = (time.process_time() - cpu) * 1000
                if invocation.error is not None:
                    raise RuntimeError(f"the handler failed: {invocation.error!r}") from invocation.error
                return invocation.seconds * 1000, calls, invocation.response, cpu_ms

            # One throw-away audit first: the catalogue, baseline and rules load once per container and
            # are the cold runs' business, not any event kind's.
            run(fresh(adapt(json.loads(files[0].read_text()), stand_in.instance_id, stand_in.association_id)))
            for path in files:
                event = adapt(
                    json.loads(path.read_text(encoding="utf-8")), stand_in.instance_id, stand_in.association_id
                )
                AWS_MANAGED_POLICY_CACHE.clear()
                first_ms, calls_first, response, _ = run(fresh(event))
                timings, cpu_timings, calls_warm = [], [], Counter[str]()
                last = event
                for _ in range(repeat):
                    last = fresh(event)
                    ms, calls_warm, response, cpu_ms = run(last)
                    timings.append(ms)
                    cpu_timings.append(cpu_ms)
                duplicate_ms, calls_duplicate, _, _ = run(last)
                rows.append(
                    WarmRow(
                        file=path.name,
                        kind=kind_of(path, event),
                        status=str(response.get("status", "?")) if isinstance(response, dict) else "?",
                        first_ms=first_ms,
                        warm_median_ms=statistics.median(timings),
                        warm_cpu_median_ms=statistics.median(cpu_timings),
                        warm_min_ms=min(timings),
                        warm_max_ms=max(timings),
                        duplicate_ms=duplicate_ms,
                        calls_first=by_service(calls_first),
                        calls_warm=by_service(calls_warm),
                        calls_duplicate=by_service(calls_duplicate),
                        operations_warm=dict(sorted(calls_warm.items())),
                    )
                )
    return rows


# -- cold ------------------------------------------------------------------------------------------

IMPORT_CHILD = """
import time
_c0 = time.process_time()
_t0 = time.perf_counter()
import boto3
_t1 = time.perf_counter()
import rolewatch.handlers.event_audit
_t2 = time.perf_counter()
_c2 = time.process_time()
import json, sys
from rolewatch.policy.catalogue import catalogue
print("BENCH-RESULT " + json.dumps({{"boto3_ms": (_t1 - _t0) * 1000, "import_ms": (_t2 - _t0) * 1000,
    "import_cpu_ms": (_c2 - _c0) * 1000,
    "catalogue_loaded_at_import": catalogue.cache_info().currsize > 0, "modules": len(sys.modules),
    "xray_imported": "aws_xray_sdk" in sys.modules}}))
"""

FIRST_INVOCATION_CHILD = """
import json, os, sys, time, uuid, io, contextlib
from collections import Counter
sys.path.insert(0, {bench_dir!r})
import bench_event_audit as bench
calls = Counter()
import botocore.handlers
botocore.handlers.BUILTIN_HANDLERS.append(
    ("before-call", lambda model, **_: calls.update([model.service_model.endpoint_prefix])))
from moto import mock_aws
mock = mock_aws(config={{"iam": {{"load_aws_managed_policies": True}}}})
mock.start()
account, env = bench.seed_benchmark_account(json.loads(sys.argv[1]))
os.environ.update(env)
preload = sys.argv[2] == "preload"
stand_in = account.instance(bench.STAND_IN_PROFILE)
event = bench.adapt(json.loads(open({event!r}).read()), stand_in.instance_id, stand_in.association_id)

_t0 = time.perf_counter()
import rolewatch.handlers.event_audit as module
_t1 = time.perf_counter()
from rolewatch.policy.catalogue import catalogue
catalogue_ms = 0.0
if preload:
    _c = time.process_time(); catalogue(); catalogue_ms = (time.process_time() - _c) * 1000
from rolewatch.demo.invoke import LambdaContext

def once(evt):
    evt = bench.fresh(evt)
    calls.clear()
    with contextlib.redirect_stdout(io.StringIO()):
        _s, _cs = time.perf_counter(), time.process_time()
        response = module.handler(evt, LambdaContext(function_name="f", region={region!r}, account_id="x"))
        ms, cpu_ms = (time.perf_counter() - _s) * 1000, (time.process_time() - _cs) * 1000
    return ms, cpu_ms, dict(calls), response

first_ms, first_cpu_ms, first_calls, response = once(event)
second_ms, _, second_calls, _ = once(event)
print("BENCH-RESULT " + json.dumps({{"import_after_boto3_ms": (_t1 - _t0) * 1000, "catalogue_ms": catalogue_ms,
    "first_ms": first_ms, "first_cpu_ms": first_cpu_ms, "second_ms": second_ms,
    "first_calls": first_calls, "second_calls": second_calls,
    "status": response.get("status"), "xray_imported": "aws_xray_sdk" in sys.modules}}))
mock.stop()
"""


def _child(program: str, args: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "LAMBDA_", "_X_AMZN"))}
    environ.update(FAKE_AWS_ENV)
    environ.update(env)
    completed = subprocess.run(
        [sys.executable, "-c", program, *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER) :])
    raise RuntimeError(f"benchmark child failed (exit {completed.returncode}):\n{completed.stderr[-4000:]}")


@dataclass
class ColdRow:
    variant: str
    import_ms: float  # handler import in a fresh interpreter (boto3 included)
    import_cpu_ms: float
    boto3_ms: float
    xray_imported: bool
    catalogue_loaded_at_import: bool
    catalogue_ms: float  # explicit catalogue load (0 when the first audit loads it)
    first_ms: float
    first_cpu_ms: float
    second_ms: float
    first_calls: dict[str, int]
    second_calls: dict[str, int]


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def cold_benchmark(runs: int, timeout: float) -> list[ColdRow]:
    event_path = str(EVENTS_DIR / COLD_EVENT)
    first_program = FIRST_INVOCATION_CHILD.format(
        bench_dir=str(Path(__file__).resolve().parent), event=event_path, region=REGION
    )
    import_program = IMPORT_CHILD.format()
    variants = [
        ("Tracer off, catalogue loaded by the first audit", TRACER_OFF_ENV, "lazy"),
        ("Tracer off, catalogue loaded before the first audit", TRACER_OFF_ENV, "preload"),
        ("Tracer on (as in Lambda), catalogue loaded by the first audit", TRACER_ON_ENV, "lazy"),
    ]
    # One discarded child first: the first interpreter after a while reads every module from disk, the
    # next ones from the page cache, as on a warm Lambda host.
    _child(import_program, [], {**BENCH_ENV, **TRACER_OFF_ENV}, timeout)
    # Rounds interleave the variants, so a burst of other work on the machine hits them all alike.
    imports: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in variants}
    firsts: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in variants}
    for _ in range(runs):
        for label, tracer_env, catalogue_mode in variants:
            env = {**BENCH_ENV, **tracer_env}
            imports[label].append(_child(import_program, [], env, timeout))
            firsts[label].append(_child(first_program, [json.dumps(env), catalogue_mode], env, timeout))
    return [_cold_row(label, imports[label], firsts[label]) for label, _, _ in variants]


def _cold_row(label: str, imports: list[dict[str, Any]], firsts: list[dict[str, Any]]) -> ColdRow:
    return ColdRow(
        variant=label,
        import_ms=_median([r["import_ms"] for r in imports]),
        import_cpu_ms=_median([r["import_cpu_ms"] for r in imports]),
        boto3_ms=_median([r["boto3_ms"] for r in imports]),
        xray_imported=imports[0]["xray_imported"],
        catalogue_loaded_at_import=imports[0]["catalogue_loaded_at_import"],
        catalogue_ms=_median([r["catalogue_ms"] for r in firsts]),
        first_ms=_median([r["first_ms"] for r in firsts]),
        first_cpu_ms=_median([r["first_cpu_ms"] for r in firsts]),
        second_ms=_median([r["second_ms"] for r in firsts]),
        first_calls=dict(sorted(firsts[0]["first_calls"].items())),
        second_calls=dict(sorted(firsts[0]["second_calls"].items())),
    )


# -- output ----------------------------------------------------------------------------------------


def print_warm(rows: list[WarmRow], repeat: int) -> None:
    from rolewatch.demo.console import Console

    console = Console()
    console.heading(f"Warm: per event kind (handler imported, caches warm; median/min/max of {repeat} runs)")
    console.table(
        (
            "event file",
            "kind",
            "status",
            "1st ms",
            "median",
            "(cpu)",
            "min",
            "max",
            "dup ms",
            "calls 1st",
            "warm",
            "dup",
            "by service (warm)",
        ),
        [
            (
                r.file.removesuffix(".json"),
                r.kind[:36],
                r.status,
                f"{r.first_ms:.1f}",
                f"{r.warm_median_ms:.1f}",
                f"({r.warm_cpu_median_ms:.1f})",
                f"{r.warm_min_ms:.1f}",
                f"{r.warm_max_ms:.1f}",
                f"{r.duplicate_ms:.1f}",
                str(sum(r.calls_first.values())),
                str(sum(r.calls_warm.values())),
                str(sum(r.calls_duplicate.values())),
                services_text(r.calls_warm),
            )
            for r in rows
        ],
    )
    console.wrapped(
        "(cpu) = CPU time of the process (rolewatch plus the in-process moto), steadier than wall time on a "
        "busy machine. 1st = first run of the kind with an empty AWS-managed policy cache; dup = the same "
        "event delivered again (an idempotency hit, nothing published). Calls include the idempotency "
        "table (dynamodb) and the report (sns; s3 only for an oversize report)."
    )


def print_cold(rows: list[ColdRow]) -> None:
    from rolewatch.demo.console import Console

    console = Console()
    console.heading(f"Cold: fresh interpreter, {COLD_EVENT} (medians)")
    console.table(
        (
            "variant",
            "import ms",
            "(cpu)",
            "of it boto3",
            "X-Ray SDK",
            "catalogue ms",
            "1st invocation",
            "(cpu)",
            "2nd",
            "calls 1st",
            "calls 2nd",
        ),
        [
            (
                r.variant,
                f"{r.import_ms:.0f}",
                f"({r.import_cpu_ms:.0f})",
                f"{r.boto3_ms:.0f}",
                "imported" if r.xray_imported else "not imported",
                f"{r.catalogue_ms:.0f}" if r.catalogue_ms else "(in 1st)",
                f"{r.first_ms:.0f}",
                f"({r.first_cpu_ms:.0f})",
                f"{r.second_ms:.0f}",
                services_text(r.first_calls),
                services_text(r.second_calls),
            )
            for r in rows
        ],
    )
    console.wrapped(
        "(cpu) = CPU time of the process; catalogue ms is CPU time too. "
        "import ms: `import rolewatch.handlers.event_audit` in a new interpreter, boto3 included (what the "
        "Lambda init phase pays). 1st invocation: in a new interpreter after the import, with moto already "
        "loaded (so boto3's own first-client cost is partly paid). The action catalogue "
        f"{'is' if rows and rows[0].catalogue_loaded_at_import else 'is not'} loaded by the import."
    )


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20, help="warm runs per event kind (default 20)")
    parser.add_argument("--cold-runs", type=int, default=3, help="fresh interpreters per cold variant (default 3)")
    parser.add_argument("--skip-cold", action="store_true")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per child process")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    options = parser.parse_args(argv)

    counter = ApiCalls()
    counter.install()
    files = event_function_files()
    print(
        f"rolewatch event-audit benchmark: {len(files)} event files, Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {_load()} (other work on the machine "
        "slows every figure)"
    )
    print(MOTO_NOTE)
    started = time.perf_counter()
    warm = warm_benchmark(files, options.repeat, counter)
    print_warm(warm, options.repeat)
    cold = [] if options.skip_cold else cold_benchmark(options.cold_runs, options.timeout)
    if cold:
        print_cold(cold)
    print(f"\n({time.perf_counter() - started:.0f} s; load average {_load()}) {MOTO_NOTE}")
    if options.json:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        options.json.write_text(
            json.dumps({"warm": [asdict(r) for r in warm], "cold": [asdict(r) for r in cold]}, indent=1),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
