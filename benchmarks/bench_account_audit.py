"""The whole-account audit (`rolewatch audit` / the weekly function) on a moto account of N roles.

    .venv/bin/python benchmarks/bench_account_audit.py                  # 1,000 and 5,000 roles
    .venv/bin/python benchmarks/bench_account_audit.py --roles 200      # quick look

The account is generate_account.py's realistic mix (the same generator as bench_check.py), loaded into
moto's IAM backend directly (`iam_backends[account]["global"]`: through boto3 it would take minutes),
with AWS-managed policies loaded as in real IAM and a few instances running with instance profiles in
two regions. moto runs as a server in one process (filled through its backend there); the audit runs in
another fresh process against it over HTTP (AWS_ENDPOINT_URL), as it would against AWS, so the memory
measured is the audit's own. Per size it prints:

- wall time of the read alone (GetAccountAuthorizationDetails + ListRoles + EC2 in every region), of the
  engine alone on what was read (no AWS), of the full audit (read + Access Analyzer + engine; the read
  runs a second time, against warm moto backends), and of rendering the JSON and HTML reports;
- API calls per operation;
- memory of the audit process: RSS after imports and the high-water mark (VmHWM) at the end;
- the GetAccountAuthorizationDetails pages production would need: ceil(entities / 1000) with
  MaxItems=1000. moto ignores MaxItems and always answers in one page, so the moto run shows 1.

Nothing is asserted: the figures are printed for the README and the closing note.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DEFAULT_ROLES = (1000, 5000)
ACCOUNT_ID = "111122223333"  # generate_account.py's account
INSTANCE_REGIONS = ("us-east-1", "eu-west-1")
INSTANCES_PER_REGION = 10
MARKER = "BENCH-RESULT "


def _document(value: Any) -> str:
    """moto takes JSON text; the generator writes objects or URL-encoded strings (as the API returns)."""
    if isinstance(value, str):
        return urllib.parse.unquote(value) if value.lstrip().startswith("%7B") else value
    return json.dumps(value)


def _proc_status(field: str) -> float:
    """A /proc/self/status figure in MB (VmRSS now, VmHWM the high-water mark)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fill_backend(account: dict[str, Any], account_id: str = ACCOUNT_ID) -> dict[str, int]:
    """Load the generated account into moto's IAM backend (of `account_id`, whose ids the account's ARNs
    must carry); returns what was loaded and skipped."""
    from moto.iam import models
    from moto.iam.models import iam_backends

    # The generator writes what an account export holds, including documents real IAM accepted long ago
    # but moto's validator refuses (e.g. an S3 ARN with a region): load them as they are.
    for validator in ("IAMPolicyDocumentValidator", "IAMTrustPolicyDocumentValidator"):
        if hasattr(models, validator):
            getattr(models, validator).validate = lambda self: None
    backend = iam_backends[account_id]["global"]
    counts: Counter[str] = Counter()
    known = set(backend.managed_policies)
    for policy in account["Policies"]:
        if ":iam::aws:policy/" in policy["Arn"]:
            continue  # AWS-managed: moto loads the real ones
        versions = sorted(policy["PolicyVersionList"], key=lambda v: v["VersionId"])
        path = policy.get("Path", "/")
        created = backend.create_policy("", path, _document(versions[0]["Document"]), policy["PolicyName"], [])
        for version in versions[1:]:
            backend.create_policy_version(created.arn, _document(version["Document"]), False)
        default = next((v["VersionId"] for v in versions if v.get("IsDefaultVersion")), versions[0]["VersionId"])
        backend.set_default_policy_version(created.arn, default)
        known.add(created.arn)
        counts["customer policies"] += 1
    for role in account["RoleDetailList"]:
        if role.get("Path", "/").startswith("/aws-service-role/"):
            counts["service-linked roles (left out: moto creates those itself)"] += 1
            continue
        boundary = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        created = backend.create_role(
            role["RoleName"],
            _document(role["AssumeRolePolicyDocument"]),
            role.get("Path", "/"),
            boundary if boundary in known else None,
            role.get("Description", ""),
            role.get("Tags", []),
            str(role.get("MaxSessionDuration", 3600)),
        )
        for inline in role.get("RolePolicyList", []):
            backend.put_role_policy(role["RoleName"], inline["PolicyName"], _document(inline["PolicyDocument"]))
        for attached in role.get("AttachedManagedPolicies", []):
            if attached["PolicyArn"] in known:
                backend.attach_role_policy(attached["PolicyArn"], role["RoleName"])
            else:
                counts["attachments of AWS-managed policies moto lacks (skipped)"] += 1
        for profile in role.get("InstanceProfileList", []):
            backend.create_instance_profile(
                profile["InstanceProfileName"], profile.get("Path", "/"), [role["RoleName"]]
            )
            counts["instance profiles"] += 1
        last = (role.get("RoleLastUsed") or {}).get("LastUsedDate")
        if last:
            created.last_used = datetime.fromisoformat(last.replace("Z", "+00:00"))
        counts["roles"] += 1
    return dict(counts)


def run_instances(profiles: list[str], endpoint: str | None = None) -> int:
    import boto3

    started = 0
    for region in INSTANCE_REGIONS:
        ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint)
        image = ec2.describe_images()["Images"][0]["ImageId"]
        for name in profiles[:INSTANCES_PER_REGION]:
            ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, IamInstanceProfile={"Name": name})
            started += 1
    return started


def _fake_credentials() -> None:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "MOTO_ACCOUNT_ID": ACCOUNT_ID,
            "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
        }
    )
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)


def serve(roles: int, seed: int, port: int) -> None:
    """The moto server process: filled through its own backend, then serving until killed."""
    _fake_credentials()
    sys.path.insert(0, str(BENCH_DIR))
    from generate_account import generate_account
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    boto3.client("iam", endpoint_url=endpoint).list_roles(MaxItems=1)  # loads the AWS-managed policies
    account = generate_account(roles, seed)
    started = time.perf_counter()
    loaded = fill_backend(account)
    profiles = [p["InstanceProfileName"] for r in account["RoleDetailList"] for p in r.get("InstanceProfileList", [])]
    loaded["instances"] = run_instances(profiles, endpoint)
    entities = len(account["RoleDetailList"]) + len(account["Policies"])
    info = {"loaded": loaded, "fill_seconds": round(time.perf_counter() - started, 1), "entities": entities}
    print(MARKER + json.dumps(info), flush=True)
    while True:
        time.sleep(3600)


def audit_child(endpoint: str) -> dict[str, Any]:
    """The audit process: rolewatch only, talking HTTP to the moto server as it would to AWS."""
    _fake_credentials()
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    from rolewatch.account_service import audit_account
    from rolewatch.audit import audit_roles
    from rolewatch.baseline import load_baseline
    from rolewatch.cli import render_account_audit
    from rolewatch.inventory.account_reader import read_account
    from rolewatch.inventory.clients import make_clients

    rss_start = _proc_status("VmRSS")
    clients = make_clients(region="us-east-1")
    started = time.perf_counter()
    inventory = read_account(clients)
    read_seconds = time.perf_counter() - started
    clients.counter.reset()
    started = time.perf_counter()
    audit_roles(inventory.roles, load_baseline())
    engine_seconds = time.perf_counter() - started
    del inventory

    started = time.perf_counter()
    audit = audit_account(clients)
    audit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    report_json = render_account_audit(audit, "json")
    report_html = render_account_audit(audit, "html")
    render_seconds = time.perf_counter() - started
    summary = audit.report()["summary"]
    return {
        "read_seconds": round(read_seconds, 2),
        "engine_seconds": round(engine_seconds, 2),
        "audit_seconds": round(audit_seconds, 2),
        "render_seconds": round(render_seconds, 2),
        "audit_calls": audit.operations,
        "regions": len(audit.inventory.regions),
        "roles_audited": summary["roles"],
        "findings": summary["findings"],
        "by_severity": summary["by_severity"],
        "not_read": audit.not_read,
        "json_mb": round(len(report_json.encode()) / 2**20, 1),
        "html_mb": round(len(report_html.encode()) / 2**20, 1),
        "rss_start_mb": round(rss_start),
        "peak_mb": round(_proc_status("VmHWM")),
        "gaad_pages_moto": audit.inventory.iam_pages,
    }


def _marked(line_source: Any) -> dict[str, Any] | None:
    for line in line_source:
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    return None


def bench_one(roles: int, seed: int, port: int) -> dict[str, Any] | None:
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(roles), "--seed", str(seed), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        info = _marked(server.stdout)  # type: ignore[arg-type]
        if info is None:
            return None
        done = subprocess.run(
            [sys.executable, __file__, "--audit", f"http://127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        result = _marked(done.stdout.splitlines())
        if result is None:
            print(done.stderr[-3000:])
            return None
        return {
            "roles": roles,
            **info,
            **result,
            "gaad_pages_production": math.ceil(info["entities"] / 1000),
        }
    finally:
        server.kill()
        server.wait()


def print_result(r: dict[str, Any]) -> None:
    print(f"\n== {r['roles']:,} roles (moto filled in {r['fill_seconds']} s: {r['loaded']})")
    print(f"  read alone: {r['read_seconds']} s   engine alone: {r['engine_seconds']} s", end="")
    print(f"   full audit: {r['audit_seconds']} s   render JSON+HTML: {r['render_seconds']} s")
    print(f"  roles audited {r['roles_audited']:,}, open findings {r['findings']:,} {r['by_severity']}")
    print(f"  report sizes: JSON {r['json_mb']} MB, HTML {r['html_mb']} MB; regions read: {r['regions']}")
    print(f"  memory of the audit process (moto in its own process): {r['rss_start_mb']} MB after imports, ", end="")
    print(f"peak (VmHWM) {r['peak_mb']} MB")
    print("  API calls of the full audit:")
    for op, n in sorted(r["audit_calls"].items()):
        print(f"    {op:<55} {n}")
    print(f"  GetAccountAuthorizationDetails pages: moto {r['gaad_pages_moto']} (moto ignores MaxItems); ", end="")
    print(f"production ceil({r['entities']:,} entities / 1000) = {r['gaad_pages_production']}")
    if r["not_read"]:
        print(f"  not read: {r['not_read']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", type=int, nargs="+", default=list(DEFAULT_ROLES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=5077, help="port of the benchmark's moto server")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--audit", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.serve, args.seed, args.port)
        return 0
    if args.audit is not None:
        print(MARKER + json.dumps(audit_child(args.audit)))
        return 0
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; moto server in its own process")
    for roles in args.roles:
        result = bench_one(roles, args.seed, args.port)
        if result is None:
            print(f"\n== {roles:,} roles: FAILED")
            return 1
        print_result(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
