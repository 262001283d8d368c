"""The weekly organization run at scale: its per-account step measured on generated accounts, and what a
run of 100, 1,000 and 5,000 accounts takes and costs.

    .venv/bin/python benchmarks/bench_org_audit.py                              # 50 x 1,000 roles; 5,000; 20,000
    .venv/bin/python benchmarks/bench_org_audit.py --accounts 5 --roles 200 --large   # quick look

What runs: the audit-account step of OrgAuditFunction (`rolewatch.org_audit.audit_member_step`, what
handlers/org_audit.py calls for each Map item) with the handler's own runtime pieces (clients, baseline,
`MemberAccounts`), so each account is reached through Organizations DescribeAccount and STS AssumeRole
into its reader role, read (IAM GetAccountAuthorizationDetails, ListRoles, EC2 in every region),
audited, and its report, diff index and outcome stored in S3, as in AWS. Access Analyzer is off (moto
has none).

Processes (so the memory measured is the step's own): moto runs as a server in one process, which
fills each member account's IAM backend directly with generate_account.py's realistic mix (through
boto3 it would take minutes), the account ids in its ARNs rewritten to the member's, and drops it once
audited (50 accounts of AWS-managed policies would otherwise hold gigabytes); the step runs in a second
process, one warm "container" that audits the accounts one after another, as a Lambda container does
with Map items, talking HTTP to the server (AWS_ENDPOINT_URL). Per account it records:

- wall time and CPU time of the step;
- peak memory: the process's VmHWM, reset before each account (/proc/self/clear_refs), so it is the
  high-water mark of that account's step in a warm container;
- AWS calls by API, counted by a botocore `before-call` hook registered on every client the process
  creates (`before-send` counts HTTP attempts, retries included): real calls, not estimates. moto answers
  GetAccountAuthorizationDetails and ListRoles in one page whatever MaxItems says; AWS needs
  ceil(entities / 1000) and ceil(roles / 1000) pages, which the projection uses.

From the 1,000-role accounts it projects organizations of 100, 1,000 and 5,000 accounts at the default
MaxConcurrency (10) and a higher one: the run's wall time, Lambda GB-seconds at OrgAuditFunction's
MemorySize (template.yaml), Step Functions state transitions counted from
statemachine/organization_audit.asl.json, S3 requests, and the STS and IAM call rates against what AWS
documents (benchmarks/README.md, "The organization run at scale"). The projection's assumptions are
printed with it. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from bench_account_audit import fill_backend  # noqa: E402 (a sibling script, not a package)

MARKER = "BENCH-RESULT "
REGION = "us-east-1"
CENTRAL_ACCOUNT = "123456789012"  # moto's default account: the organization's management account here
GENERATED_ACCOUNT = "111122223333"  # generate_account.py's account id, rewritten to each member's
DEFINITION = ROOT / "statemachine" / "organization_audit.asl.json"
TEMPLATE = ROOT / "template.yaml"
ORG_SIZES = (100, 1000, 5000)
DEFAULT_CONCURRENCY = 10
HIGHER_CONCURRENCY = 50
# Prices, us-east-1, x86 (benchmarks/README.md gives the sources).
LAMBDA_GB_SECOND = 0.0000166667
LAMBDA_REQUEST = 0.20 / 1_000_000
SFN_TRANSITION = 0.025 / 1000
S3_PUT = 0.005 / 1000
S3_GET = 0.0004 / 1000
# Projection assumptions (not measured here; stated in the output and the README).
LAMBDA_FULL_VCPU_MB = 1769  # Lambda gives one vCPU at 1,769 MB, CPU in proportion below it
CALL_LATENCY_S = 0.05  # one AWS API round trip from Lambda in the same Region
MANAGED_POLICY_FILE = ROOT / "../shared/data/aws-managed-policies.json"


def _env(endpoint: str | None = None) -> None:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
            "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    if endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
    else:
        os.environ.pop("AWS_ENDPOINT_URL", None)


def _reply(data: dict[str, Any]) -> None:
    print(MARKER + json.dumps(data), flush=True)


def _read_reply(stream: IO[str]) -> dict[str, Any]:
    for line in stream:
        if line.startswith(MARKER):
            return dict(json.loads(line[len(MARKER) :]))
    raise RuntimeError("the process ended without answering")


def _proc_status(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- the moto server process ---------------------------------------------------------------------------


def serve(port: int) -> None:
    """moto on `port`; fills and drops member accounts as the orchestrator asks on stdin."""
    _env()
    import gc
    import logging

    from generate_account import generate_account, load_aws_managed_policies
    from moto.iam.models import iam_backends
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    aws_managed = load_aws_managed_policies(MANAGED_POLICY_FILE if MANAGED_POLICY_FILE.is_file() else None)
    _reply({"ready": True})
    for line in sys.stdin:
        command = json.loads(line)
        account_id = command["account_id"]
        if command["op"] == "fill":
            started = time.perf_counter()
            generated = generate_account(command["roles"], command["seed"], aws_managed=aws_managed)
            account = json.loads(json.dumps(generated).replace(GENERATED_ACCOUNT, account_id))
            loaded = fill_backend(account, account_id)
            entities = len(account["RoleDetailList"]) + len(account["Policies"])
            _reply({"loaded": loaded, "entities": entities, "fill_seconds": round(time.perf_counter() - started, 1)})
        elif command["op"] == "drop":
            iam_backends.pop(account_id, None)
            gc.collect()
            _reply({"dropped": account_id})


# -- the step process (one warm container) ------------------------------------------------------------


class CallCounts:
    """Every client this process creates gets a before-call (API calls) and a before-send (HTTP attempts) hook."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.attempts: Counter[str] = Counter()

    def install(self) -> None:
        import botocore.session

        original = botocore.session.Session.create_client
        counts = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            service = client.meta.service_model.signing_name

            def on_call(model: Any, **_: Any) -> None:
                counts.calls[f"{service}:{model.name}"] += 1

            def on_send(**_: Any) -> None:
                counts.attempts[service] += 1

            client.meta.events.register("before-call", on_call)
            client.meta.events.register("before-send", on_send)
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]


def child(endpoint: str, accounts: int, large: list[int]) -> None:
    """Creates the organization and the central bucket and topic, then audits the accounts it is told to."""
    _env(endpoint)
    counts = CallCounts()
    counts.install()
    import boto3

    orgs = boto3.client("organizations", region_name=REGION)
    org_id = orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    names = [f"member-{i:03d}" for i in range(accounts)] + [f"large-{n}" for n in large]
    ids = {}
    for name in names:
        status = orgs.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        ids[name] = status["AccountId"]
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="rolewatch-bench-reports")
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="rolewatch-bench")["TopicArn"]
    os.environ.update(
        {
            "REPORT_BUCKET": "rolewatch-bench-reports",
            "REPORT_TOPIC_ARN": topic,
            "DEPLOYMENT_MODE": "organization",
            "ORGANIZATION_ID": org_id,
            "ACCESS_ANALYZER": "off",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    rss_before_imports = _proc_status("VmRSS")
    started = time.perf_counter()
    from rolewatch.handlers.org_audit import runtime
    from rolewatch.org_audit import audit_member_step
    from rolewatch.settings import ACCOUNT_FUNCTION_REQUIRES, load_settings

    settings = load_settings(required=ACCOUNT_FUNCTION_REQUIRES)
    clients, baseline, members = runtime(settings)
    cold = {
        "cold_start_seconds": round(time.perf_counter() - started, 2),
        "rss_after_cold_start_mb": round(_proc_status("VmRSS")),
        "rss_before_imports_mb": round(rss_before_imports),
    }
    _reply({"accounts": ids, **cold})
    for line in sys.stdin:
        command = json.loads(line)
        counts.calls.clear()
        counts.attempts.clear()
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS, so the peak below is this step's
        rss_before = _proc_status("VmRSS")
        cpu = time.process_time()
        started = time.perf_counter()
        event = {"run_id": "bench-run", "account_id": command["account_id"], "name": command["name"]}
        outcome = audit_member_step(clients, settings, members, event, baseline=baseline)
        _reply(
            {
                "wall_seconds": round(time.perf_counter() - started, 2),
                "cpu_seconds": round(time.process_time() - cpu, 2),
                "rss_before_mb": round(rss_before),
                "peak_mb": round(_proc_status("VmHWM")),
                "calls": dict(counts.calls),
                "attempts": dict(counts.attempts),
                "status": outcome["status"],
                "reason": outcome.get("reason", ""),
                "roles": outcome["roles"],
                "findings": outcome["findings"],
            }
        )


# -- the orchestrator --------------------------------------------------------------------------------


class Bench:
    def __init__(self, port: int, accounts: int, large: list[int]) -> None:
        py = [sys.executable, __file__]
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        self.server = subprocess.Popen(
            [*py, "--serve", str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env
        )
        _read_reply(self.server.stdout)  # type: ignore[arg-type]
        self.child = subprocess.Popen(
            [*py, "--child", f"http://127.0.0.1:{port}", "--accounts", str(accounts), "--large", *map(str, large)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        self.setup = _read_reply(self.child.stdout)  # type: ignore[arg-type]

    def ask(self, process: subprocess.Popen[str], command: dict[str, Any]) -> dict[str, Any]:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(command) + "\n")
        process.stdin.flush()
        return _read_reply(process.stdout)

    def account(self, name: str, roles: int, seed: int) -> dict[str, Any]:
        account_id = self.setup["accounts"][name]
        filled = self.ask(self.server, {"op": "fill", "account_id": account_id, "roles": roles, "seed": seed})
        measured = self.ask(self.child, {"op": "audit", "account_id": account_id, "name": name})
        self.ask(self.server, {"op": "drop", "account_id": account_id})
        return {"name": name, "account_id": account_id, "roles_generated": roles, **filled, **measured}

    def close(self) -> None:
        for process in (self.child, self.server):
            process.kill()
            process.wait()


# -- the projection ----------------------------------------------------------------------------------


def transitions_per_run(accounts: int) -> tuple[int, int, int]:
    """(fixed, per item, total) Standard state transitions of one run without retries, from the definition:
    each top-level state once; per item, the child workflow execution the Distributed Map starts (one
    transition, as AWS bills it) plus each state of its ItemProcessor."""
    states = json.loads(DEFINITION.read_text(encoding="utf-8"))["States"]
    fixed = len(states)
    per_item = 1 + sum(len(state["ItemProcessor"]["States"]) for state in states.values() if state.get("Type") == "Map")
    return fixed, per_item, fixed + per_item * accounts


def function_limits() -> tuple[int, int]:
    """OrgAuditFunction's MemorySize (MB, a parameter's default when the template refers to one) and
    Timeout (s) in template.yaml."""
    from rolewatch.sam_template import load_template

    template = load_template(TEMPLATE)
    properties = template["Resources"]["OrgAuditFunction"]["Properties"]

    def number(value: Any) -> int:
        if isinstance(value, dict) and "Ref" in value:
            return int(template["Parameters"][value["Ref"]]["Default"])
        return int(value)

    return number(properties["MemorySize"]), number(properties["Timeout"])


def production_calls(result: dict[str, Any]) -> dict[str, int]:
    """The step's calls as AWS would count them: moto's one-page IAM reads at AWS's page sizes."""
    calls = dict(result["calls"])
    calls["iam:GetAccountAuthorizationDetails"] = math.ceil(result["entities"] / 1000)
    calls["iam:ListRoles"] = max(1, math.ceil(result["roles"] / 1000))
    return calls


def lambda_seconds(result: dict[str, Any], memory_mb: int) -> float:
    """The step's duration on Lambda (estimate): its CPU time at Lambda's CPU share for this memory size,
    plus one round trip per AWS call."""
    share = min(1.0, memory_mb / LAMBDA_FULL_VCPU_MB)
    return float(result["cpu_seconds"]) / share + sum(production_calls(result).values()) * CALL_LATENCY_S


def project(results: list[dict[str, Any]], memory_mb: int) -> list[dict[str, Any]]:
    per_item_s = sum(lambda_seconds(r, memory_mb) for r in results) / len(results)
    calls: Counter[str] = Counter()
    for r in results:
        calls.update(production_calls(r))
    per_account = {op: n / len(results) for op, n in calls.items()}
    rows = []
    for accounts in ORG_SIZES:
        for concurrency in (DEFAULT_CONCURRENCY, HIGHER_CONCURRENCY):
            _, _, transitions = transitions_per_run(accounts)
            report_s = 1.0 + accounts * CALL_LATENCY_S  # one GetObject per stored outcome, then the report
            gb_seconds = (accounts * per_item_s + report_s + 1.0) * memory_mb / 1024
            s3_puts = accounts * per_account.get("s3:PutObject", 0) + 3
            s3_gets = accounts * (per_account.get("s3:GetObject", 0) + 1) + math.ceil(accounts / 1000)
            cost = {
                "lambda": gb_seconds * LAMBDA_GB_SECOND + (accounts + 2) * LAMBDA_REQUEST,
                "step_functions": transitions * SFN_TRANSITION,
                "s3": s3_puts * S3_PUT + s3_gets * S3_GET,
            }
            rows.append(
                {
                    "accounts": accounts,
                    "concurrency": concurrency,
                    "wall_minutes": (math.ceil(accounts / concurrency) * per_item_s + report_s) / 60,
                    "gb_seconds": gb_seconds,
                    "transitions": transitions,
                    "assume_role_calls": accounts * per_account.get("sts:AssumeRole", 0),
                    "iam_calls": accounts * sum(n for op, n in per_account.items() if op.startswith("iam:")),
                    "assume_role_per_second": concurrency / per_item_s,
                    "cost": cost,
                    "cost_total": sum(cost.values()),
                }
            )
    return rows


# -- output ----------------------------------------------------------------------------------------


def print_account(r: dict[str, Any]) -> None:
    calls = ", ".join(f"{op} {n}" for op, n in sorted(r["calls"].items()))
    print(
        f"  {r['name']:<12} {r['roles']:>6,} roles  {r['wall_seconds']:>6.2f} s wall  {r['cpu_seconds']:>6.2f} s CPU  "
        f"peak {r['peak_mb']:>5} MB (before {r['rss_before_mb']} MB)  {r['status']}  fill {r['fill_seconds']} s"
    )
    print(f"      calls: {calls}")


def summarize(label: str, results: list[dict[str, Any]]) -> None:
    walls = sorted(r["wall_seconds"] for r in results)
    peaks = sorted(r["peak_mb"] for r in results)
    calls = Counter()
    for r in results:
        calls.update(r["calls"])
    print(f"\n{label}: {len(results)} accounts")
    print(f"  wall s: mean {sum(walls) / len(walls):.2f}, median {walls[len(walls) // 2]:.2f}, max {walls[-1]:.2f}")
    print(f"  peak MB: mean {sum(peaks) / len(peaks):.0f}, max {peaks[-1]}")
    print("  calls per account (mean, as moto answered):")
    for op, n in sorted(calls.items()):
        print(f"    {op:<48} {n / len(results):8.1f}")


def print_projection(rows: list[dict[str, Any]], memory_mb: int, timeout_s: int) -> None:
    fixed, per_item, _ = transitions_per_run(0)
    print(f"\nProjection (OrgAuditFunction {memory_mb} MB, timeout {timeout_s} s; ", end="")
    print(f"state transitions {fixed} + {per_item} per account)")
    print(
        f"  assumptions: Lambda CPU share min(1, {memory_mb}/{LAMBDA_FULL_VCPU_MB}) of a vCPU (the step runs on one "
        f"thread); {CALL_LATENCY_S * 1000:.0f} ms "
        "per AWS call; IAM pages at 1,000 entities; prices us-east-1 x86; no retries"
    )
    print(
        f"  {'accounts':>8} {'conc.':>5} {'wall min':>9} {'GB-s':>9} {'transitions':>11} {'AssumeRole/s':>12} "
        f"{'IAM calls':>10} {'Lambda $':>9} {'SFN $':>7} {'S3 $':>6} {'total $':>8}"
    )
    for row in rows:
        cost = row["cost"]
        print(
            f"  {row['accounts']:>8,} {row['concurrency']:>5} {row['wall_minutes']:>9.1f} {row['gb_seconds']:>9,.0f} "
            f"{row['transitions']:>11,} {row['assume_role_per_second']:>12.1f} {row['iam_calls']:>10,.0f} "
            f"{cost['lambda']:>9.3f} {cost['step_functions']:>7.3f} {cost['s3']:>6.3f} {row['cost_total']:>8.3f}"
        )


def report(
    results: list[dict[str, Any]], large: list[dict[str, Any]], roles: int, memory_mb: int, timeout_s: int
) -> list[dict[str, Any]]:
    """Print the summary, whether each large account fits the function, and the projection."""
    if results:
        summarize(f"{roles:,}-role accounts", results)
    for r in large:
        estimate = lambda_seconds(r, memory_mb)
        verdict = "fits" if r["peak_mb"] < memory_mb and estimate < timeout_s else "DOES NOT FIT"
        print(
            f"\n{r['roles']:,} roles: {r['wall_seconds']} s wall, {r['cpu_seconds']} s CPU, peak {r['peak_mb']} MB; "
            f"on Lambda about {estimate:.0f} s of {timeout_s} s and {r['peak_mb']} of {memory_mb} MB: {verdict}"
        )
    rows = project(results, memory_mb) if results else []
    if rows:
        print_projection(rows, memory_mb, timeout_s)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50, help="generated member accounts (default 50)")
    parser.add_argument("--roles", type=int, default=1000, help="roles in each (default 1,000)")
    parser.add_argument("--large", type=int, nargs="*", default=[5000, 20000], help="single large accounts")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=5078, help="port of the benchmark's moto server")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument(
        "--from-json",
        type=Path,
        help="measure nothing: project again from the accounts a --json run saved (e.g. after MemorySize changed)",
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.serve)
        return 0
    if args.child is not None:
        child(args.child, args.accounts, args.large)
        return 0
    sys.path.insert(0, str(ROOT / "src"))
    memory_mb, timeout_s = function_limits()
    if args.from_json is not None:
        saved = json.loads(args.from_json.read_text(encoding="utf-8"))
        print(f"figures measured earlier, read from {args.from_json}")
        report(saved["accounts"], saved["large"], args.roles, memory_mb, timeout_s)
        return 0
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; moto server and the step in separate processes")
    bench = Bench(args.port, args.accounts, args.large)
    results: list[dict[str, Any]] = []
    large: list[dict[str, Any]] = []
    try:
        print(f"cold start of the step's container: {bench.setup['cold_start_seconds']} s, ", end="")
        setup = bench.setup
        print(f"RSS {setup['rss_before_imports_mb']} MB before imports, {setup['rss_after_cold_start_mb']} MB after")
        for i in range(args.accounts):
            results.append(bench.account(f"member-{i:03d}", args.roles, args.seed + i))
            print_account(results[-1])
        for n in args.large:
            large.append(bench.account(f"large-{n}", n, args.seed))
            print_account(large[-1])
    finally:
        bench.close()
    rows = report(results, large, args.roles, memory_mb, timeout_s)
    if args.json:
        args.json.write_text(
            json.dumps({"accounts": results, "large": large, "projection": rows, "setup": bench.setup}, indent=1),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
