"""Time `rolewatch check` against `cloudsplaining scan` and the `json.loads` floor on the same account file.

    .venv/bin/python benchmarks/bench_check.py                 # 1,000 and 5,000 roles (what `make bench` runs)
    .venv/bin/python benchmarks/bench_check.py --roles 200 --repeat 1 --skip-cloudsplaining
    .venv/bin/python benchmarks/bench_check.py --roles 5000 --profile   # where rolewatch spends its time

Every measurement runs in a fresh interpreter, so each tool pays its own imports and its peak memory is
its own: the child times itself from its first statement (after interpreter start-up, before it imports
the tool) to the end of its work and reports its own `ru_maxrss`. The account files are generated on
first use (benchmarks/generated/, gitignored) and reused afterwards.

Targets (from the issue): rolewatch at least 10x faster than Cloudsplaining, within 5x of the
`json.loads` floor, and under 256 MB peak memory at 5,000 roles. The exit status is 1 when one is missed.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
GENERATED_DIR = BENCH_DIR / "generated"
DEFAULT_ROLES = (1000, 5000)
DEFAULT_TIMEOUT = 900.0
RESULT_MARKER = "BENCH-RESULT "
SPEEDUP_TARGET = 10.0  # rolewatch at least this many times faster than Cloudsplaining
FLOOR_TARGET = 5.0  # rolewatch at most this many times the json.loads floor
MEMORY_TARGET_MB = 256.0
MEMORY_TARGET_ROLES = 5000
DOCUMENT_KEYS = ("AssumeRolePolicyDocument", "PolicyDocument", "Document")

# ---- the child programs: each runs as `python -c PROGRAM FILE OUT` --------------------------------
# The prologue starts the clock before any tool import; the epilogue reports wall time, import time
# and the child's own peak RSS on one marked line of stdout.
CHILD_PROLOGUE = """\
import json, resource, sys, time
FILE, OUT = sys.argv[1], sys.argv[2]
_started = time.perf_counter()
_extra = {}
"""
# Peak memory is VmHWM, the high-water mark of this process's own address space. ru_maxrss is not used
# on Linux: subprocess starts children with vfork, and the kernel carries the parent's high-water mark
# over the exec into the child's ru_maxrss, so a child of a large parent would report the parent's size.
CHILD_EPILOGUE = """
_wall = time.perf_counter() - _started
try:
    with open("/proc/self/status", encoding="ascii") as _status:
        _rss_kb = next(int(line.split()[1]) for line in _status if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    _rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("BENCH-RESULT " + json.dumps({"wall": _wall, "imports": _imports, "peak_rss_kb": _rss_kb, **_extra}))
"""

# The floor: what any tool must pay to read the file the way `rolewatch check` reads it.
FLOOR_BODY = """
_imports = 0.0
with open(FILE, encoding="utf-8") as _f:
    json.loads(_f.read())
"""

# rolewatch as a user runs it: `rolewatch check FILE --format json`, the report written to a file.
# Until rolewatch.report.render exists, the engine is called directly (read, audit, dump findings).
ROLEWATCH_BODY = """
_t = time.perf_counter()
import rolewatch.audit, rolewatch.baseline, rolewatch.inventory.authz_file
try:
    from rolewatch.report import render
    from rolewatch.cli import main
    _mode = "cli"
except ImportError:
    _mode = "engine"
_imports = time.perf_counter() - _t

def _run():
    if _mode == "cli":
        with open(OUT, "w", encoding="utf-8") as sink:
            return main(["check", FILE, "--format", "json"], stdout=sink)
    with open(FILE, encoding="utf-8") as f:
        account = rolewatch.inventory.authz_file.read_account_json(json.loads(f.read()), FILE)
    result = rolewatch.audit.audit_roles(account.roles)
    report = {
        "findings": [finding.to_dict() for finding in result.findings],
        "errors": [error.to_dict() for error in (*account.errors, *result.errors)],
        "summary": {"roles": result.roles_audited, "findings": len(result.findings)},
    }
    with open(OUT, "w", encoding="utf-8") as sink:
        json.dump(report, sink)
    return 2 if report["errors"] else 0

_extra = {"exit": _run(), "mode": _mode}
"""

# What `rolewatch check --format json` does once the CLI writes the report with
# rolewatch.report.write_report (finding by finding) and lets the parsed file go after reading it:
# the same pipeline, shown beside the CLI so the difference in memory is visible. Informational.
STREAMED_BODY = """
_t = time.perf_counter()
from dataclasses import replace
from rolewatch.audit import audit_roles
from rolewatch.baseline import load_baseline
from rolewatch.inventory.authz_file import read_account_json
from rolewatch.report import write_report
_imports = time.perf_counter() - _t

def _run():
    baseline = load_baseline(None)
    with open(FILE, encoding="utf-8") as f:
        value = json.loads(f.read())
    account = read_account_json(value, FILE)
    del value
    result = audit_roles(account.roles, baseline)
    result = replace(result, errors=tuple(account.errors) + result.errors, notes=tuple(account.notes) + result.notes)
    with open(OUT, "w", encoding="utf-8") as sink:
        write_report(result, "json", sink, sources=[FILE])
    return 2 if result.errors else 0

_extra = {"exit": _run(), "mode": "streamed"}
"""

# Cloudsplaining's `scan` minus the HTML report: its default exclusions file, the schema check, the
# full AuthorizationDetails analysis and `.results`, and the results data file written once (`scan`
# computes `.results` twice and writes two data files; doing it once favours Cloudsplaining).
CLOUDSPLAINING_BODY = """
_t = time.perf_counter()
from pathlib import Path
import yaml
from cloudsplaining.scan.authorization_details import AuthorizationDetails
from cloudsplaining.shared.constants import EXCLUSIONS_FILE
from cloudsplaining.shared.exclusions import Exclusions
from cloudsplaining.shared.utils import write_results_data_file
from cloudsplaining.shared.validation import check_authorization_details_schema
_imports = time.perf_counter() - _t
_cfg = json.loads(Path(FILE).read_text(encoding="utf-8"))
_exclusions = Exclusions(yaml.safe_load(Path(EXCLUSIONS_FILE).read_text(encoding="utf-8")))
if not check_authorization_details_schema(_cfg):
    raise SystemExit("cloudsplaining rejected the file's schema")
_results = AuthorizationDetails(_cfg, exclusions=_exclusions).results
write_results_data_file(_results, Path(OUT))
_extra = {"roles": len(_results["roles"])}
"""

# The rolewatch run under cProfile (not timed): prints the top functions, then the usual result line.
PROFILE_BODY = (
    ROLEWATCH_BODY.replace('_extra = {"exit": _run(), "mode": _mode}', "")
    + """
import cProfile, io, pstats
_profiler = cProfile.Profile()
_code = _profiler.runcall(_run)
for _order in ("cumulative", "tottime"):
    _text = io.StringIO()
    pstats.Stats(_profiler, stream=_text).strip_dirs().sort_stats(_order).print_stats(30)
    print(f"--- top 30 by {_order} ---")
    print(_text.getvalue())
_extra = {"exit": _code, "mode": _mode}
"""
)


@dataclass
class Measurement:
    tool: str
    wall: float | None = None  # seconds inside the child; None when it failed or timed out
    imports: float | None = None
    peak_rss_mb: float | None = None
    process_wall: float = 0.0  # seconds seen by the parent, interpreter start-up included
    timed_out_after: float | None = None
    failure: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    output: Path | None = None

    @property
    def ok(self) -> bool:
        return self.wall is not None


# ---- input files -------------------------------------------------------------------------------


def load_generator() -> ModuleType:
    """benchmarks/ is not a package: load generate_account.py from beside this file."""
    spec = importlib.util.spec_from_file_location("generate_account", BENCH_DIR / "generate_account.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ensure_account(roles: int, seed: int, directory: Path) -> Path:
    path = directory / f"account-{roles}-seed{seed}.json"
    if not _fresh(path, BENCH_DIR / "generate_account.py"):
        generator = load_generator()
        started = time.perf_counter()
        generator.write_account(generator.generate_account(roles, seed), path)
        print(f"generated {path} in {time.perf_counter() - started:.1f} s", flush=True)
    return path


def _fresh(path: Path, source: Path) -> bool:
    """Made after its source changed last: a file from an older generator is generated again."""
    return path.is_file() and path.stat().st_mtime >= source.stat().st_mtime


def decode_documents(value: Any) -> tuple[Any, int]:
    """A copy with every URL-encoded (or JSON-string) policy document turned into an object, and the count."""
    decoded = 0

    def walk(node: Any) -> Any:
        nonlocal decoded
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, item in node.items():
            if key in DOCUMENT_KEYS and isinstance(item, str):
                decoded += 1
                out[key] = json.loads(urllib.parse.unquote(item))
            else:
                out[key] = walk(item)
        return out

    return walk(value), decoded


def ensure_decoded_copy(path: Path) -> tuple[Path, int]:
    """Cloudsplaining 0.9.1 fails on URL-encoded documents ('str' object has no attribute 'get'), so it
    reads a copy with them decoded. The copy is made here, outside any timing; rolewatch reads the
    original file as it is."""
    decoded_path = path.with_suffix(".decoded.json")
    value, count = decode_documents(json.loads(path.read_text(encoding="utf-8")))
    if not _fresh(decoded_path, path):
        # Same indentation as the original, so both tools parse files of a comparable size.
        decoded_path.write_text(json.dumps(value, indent=4) + "\n", encoding="utf-8")
    return decoded_path, count


def describe_account(path: Path) -> str:
    account = json.loads(path.read_text(encoding="utf-8"))
    roles = account["RoleDetailList"]
    aws_managed = sum(":iam::aws:policy/" in p["Arn"] for p in account["Policies"])
    inline = sum(len(r.get("RolePolicyList", [])) for r in roles)
    size_mb = path.stat().st_size / 1e6
    return (
        f"{path.name}: {size_mb:.1f} MB, {len(roles)} roles, {inline} inline policies, "
        f"{len(account['Policies']) - aws_managed} customer-managed + {aws_managed} AWS managed policies"
    )


# ---- running one measurement -------------------------------------------------------------------


@dataclass(frozen=True)
class ChildSettings:
    python: str  # the interpreter of the measured runs
    timeout: float  # seconds before a run is stopped and reported as timed out


def run_child(tool: str, body: str, path: Path, settings: ChildSettings) -> Measurement:
    program = CHILD_PROLOGUE + body + CHILD_EPILOGUE
    with tempfile.TemporaryDirectory(prefix="rolewatch-bench-") as scratch:
        out = Path(scratch) / "output.json"
        started = time.perf_counter()
        try:
            completed = subprocess.run(
                [settings.python, "-c", program, str(path), str(out)],
                cwd=scratch,
                capture_output=True,
                text=True,
                timeout=settings.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return Measurement(tool, timed_out_after=settings.timeout, process_wall=time.perf_counter() - started)
        measurement = parse_child(tool, completed, time.perf_counter() - started)
        if measurement.ok and tool == "rolewatch":
            measurement.extra.update(summarise_rolewatch_output(out))
    return measurement


def parse_child(tool: str, completed: subprocess.CompletedProcess[str], process_wall: float) -> Measurement:
    lines = completed.stdout.splitlines()
    results = [line for line in lines if line.startswith(RESULT_MARKER)]
    if completed.returncode != 0 or not results:
        tail = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        return Measurement(tool, process_wall=process_wall, failure=f"exit {completed.returncode}: {tail}")
    report = json.loads(results[-1].removeprefix(RESULT_MARKER))
    other_output = "\n".join(line for line in lines if not line.startswith(RESULT_MARKER))
    return Measurement(
        tool,
        wall=report.pop("wall"),
        imports=report.pop("imports"),
        peak_rss_mb=report.pop("peak_rss_kb") / 1024,  # Linux reports kilobytes
        process_wall=process_wall,
        extra={**report, "stdout": other_output},
    )


def summarise_rolewatch_output(out: Path) -> dict[str, Any]:
    try:
        report = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return {"findings": None, "output_problem": str(exc)}
    return {"findings": len(report.get("findings", [])), "errors": len(report.get("errors", []))}


def measure(tool: str, body: str, path: Path, settings: ChildSettings, repeat: int = 1) -> Measurement:
    """The run with the median wall time; peak memory is the highest of all runs."""
    runs = []
    for _ in range(repeat):
        run = run_child(tool, body, path, settings)
        runs.append(run)
        if not run.ok:
            return run
    chosen = sorted(runs, key=lambda r: r.wall or 0.0)[len(runs) // 2]
    chosen.peak_rss_mb = max(r.peak_rss_mb or 0.0 for r in runs)
    if repeat > 1:
        chosen.extra["walls"] = [round(r.wall or 0.0, 3) for r in runs]
    return chosen


# ---- reporting ---------------------------------------------------------------------------------


def fmt_seconds(m: Measurement) -> str:
    if m.timed_out_after is not None:
        return f"> {m.timed_out_after:.0f} (timed out)"
    return f"{m.wall:.3f}" if m.wall is not None else "failed"


def ratio(numerator: Measurement, denominator: Measurement) -> str:
    if denominator.wall is None or denominator.wall <= 0:
        return "-"
    if numerator.timed_out_after is not None:
        return f"> {numerator.timed_out_after / denominator.wall:.1f}"
    return f"{numerator.wall / denominator.wall:.2f}" if numerator.wall is not None else "-"


def print_table(roles: int, floor: Measurement, rolewatch: Measurement, others: list[Measurement]) -> None:
    header = (
        f"{'roles':>6}  {'tool':<15} {'wall s':>20} {'imports s':>9} {'peak RSS MB':>11} "
        f"{'x floor':>8} {'x rolewatch':>11}"
    )
    print(header)
    print("-" * len(header))
    for m in (floor, rolewatch, *others):
        imports = f"{m.imports:.3f}" if m.imports is not None else "-"
        rss = f"{m.peak_rss_mb:.1f}" if m.peak_rss_mb is not None else "-"
        print(
            f"{roles:>6}  {m.tool:<15} {fmt_seconds(m):>20} {imports:>9} {rss:>11} "
            f"{ratio(m, floor):>8} {ratio(m, rolewatch):>11}"
        )
        if m.failure:
            print(f"{'':>8}{m.tool} failed: {m.failure}")


def verdicts(
    roles: int, floor: Measurement, rolewatch: Measurement, cloudsplaining: Measurement | None
) -> list[tuple[str, str]]:
    """One (verdict, explanation) per target: PASS, MISS, or UNKNOWN when a measurement is missing.
    The memory target is set at 5,000 roles; at other sizes it is printed for information."""
    lines: list[tuple[str, str]] = []
    if cloudsplaining is not None:
        if not rolewatch.ok or not (cloudsplaining.ok or cloudsplaining.timed_out_after):
            lines.append(("UNKNOWN", f">= {SPEEDUP_TARGET:.0f}x faster than Cloudsplaining: a run failed"))
        else:
            bound = cloudsplaining.wall if cloudsplaining.ok else cloudsplaining.timed_out_after
            speedup = (bound or 0.0) / (rolewatch.wall or 1.0)
            verdict = "PASS" if speedup >= SPEEDUP_TARGET else "MISS" if cloudsplaining.ok else "UNKNOWN"
            qualifier = "" if cloudsplaining.ok else "at least "
            lines.append((verdict, f">= {SPEEDUP_TARGET:.0f}x faster than Cloudsplaining: {qualifier}{speedup:.1f}x"))
    if rolewatch.ok and floor.ok:
        factor = (rolewatch.wall or 0.0) / (floor.wall or 1.0)
        verdict = "PASS" if factor <= FLOOR_TARGET else "MISS"
        lines.append((verdict, f"<= {FLOOR_TARGET:.0f}x the json.loads floor: {factor:.1f}x"))
    else:
        lines.append(("UNKNOWN", f"<= {FLOOR_TARGET:.0f}x the json.loads floor: a run failed"))
    if rolewatch.ok:
        verdict = "PASS" if (rolewatch.peak_rss_mb or 0.0) < MEMORY_TARGET_MB else "MISS"
        if roles != MEMORY_TARGET_ROLES:
            verdict = f"({verdict})"  # the target is set at 5,000 roles only
        lines.append((verdict, f"< {MEMORY_TARGET_MB:.0f} MB peak RSS: {rolewatch.peak_rss_mb:.1f} MB"))
    return lines


def print_environment(python: str) -> None:
    versions = []
    for package in ("rolewatch", "cloudsplaining", "policy_sentry"):
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    print(f"date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"load average {load} (other work on the machine skews the figures)"
    )
    print(f"python: {python} ({platform.python_version()}); {', '.join(versions)}")


# ---- the benchmark -----------------------------------------------------------------------------


def bench_one_size(roles: int, args: argparse.Namespace) -> list[tuple[str, str]]:
    path = ensure_account(roles, args.seed, args.out_dir)
    print(f"\n== {describe_account(path)}")
    settings = ChildSettings(python=args.python, timeout=args.timeout)
    floor = measure("json.loads", FLOOR_BODY, path, settings, args.repeat)
    rolewatch = measure("rolewatch", ROLEWATCH_BODY, path, settings, args.repeat)
    others = []
    if not args.skip_streamed:
        others.append(measure("rw streamed (i)", STREAMED_BODY, path, settings, args.repeat))
    cloudsplaining = None
    if not args.skip_cloudsplaining:
        decoded_path, decoded = ensure_decoded_copy(path)
        if decoded:
            print(
                f"cloudsplaining reads {decoded_path.name}: {decoded} URL-encoded documents decoded beforehand, untimed"
            )
        source = decoded_path if decoded else path
        cloudsplaining = measure("cloudsplaining", CLOUDSPLAINING_BODY, source, settings)
    print_table(roles, floor, rolewatch, others + ([cloudsplaining] if cloudsplaining else []))
    if rolewatch.ok:
        print(
            f"rolewatch ({rolewatch.extra.get('mode')}): {rolewatch.extra.get('findings')} findings, "
            f"{rolewatch.extra.get('errors')} input errors, exit status {rolewatch.extra.get('exit')}; "
            f"wall times of the runs: {rolewatch.extra.get('walls', [round(rolewatch.wall or 0.0, 3)])}"
        )
    lines = verdicts(roles, floor, rolewatch, cloudsplaining)
    for verdict, text in lines:
        print(f"  {verdict:<8} {text}")
    if args.profile:
        profile = run_child("rolewatch (profiled)", PROFILE_BODY, path, settings)
        print(profile.extra.get("stdout", "") if profile.ok else f"profiling failed: {profile.failure}")
    return [(verdict, f"{roles} roles: {text}") for verdict, text in lines]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--roles", type=int, nargs="+", default=list(DEFAULT_ROLES), help="account sizes (default 1000 5000)"
    )
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the floor and rolewatch; the median is kept")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help=f"seconds per run (default {DEFAULT_TIMEOUT:.0f})"
    )
    parser.add_argument("--skip-cloudsplaining", action="store_true", help="measure the floor and rolewatch only")
    parser.add_argument(
        "--skip-streamed", action="store_true", help="leave out the informational streamed-report rolewatch run"
    )
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one rolewatch run")
    parser.add_argument("--out-dir", type=Path, default=GENERATED_DIR, help="where account files are generated")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the measured runs")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print_environment(args.python)
    summary = []
    for roles in args.roles:
        summary.extend(bench_one_size(roles, args))
    print("\nsummary")
    for verdict, text in summary:
        print(f"  {verdict:<8} {text}")
    return 1 if any(verdict == "MISS" for verdict, _ in summary) else 0


if __name__ == "__main__":
    sys.exit(main())
