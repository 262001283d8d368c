"""Generate the dated snapshot of AWS managed policies that `rolewatch check` audits templates with.

A template attaches AWS managed policies by ARN (`ManagedPolicyArns`, SAM `Policies: [Name]`, Terraform
`policy_arn`); their documents live in AWS, not in the template. The snapshot keeps, for each policy,
its path and default-version document (statement ids dropped: the engine does not read them), gzipped
into the package, so the audit needs no AWS call and CI needs no ../shared. Policy names are unique
among AWS managed policies whatever their path, so the name is the key; a policy the corpus gives
without an ARN keeps a null path (found by name, its ARN unknown).

Source: a corpus of `{name: {arn, document}}` (../shared/data/aws-managed-policies.json). The snapshot's
date is the corpus file's date, unless --date says otherwise; --check rebuilds with the shipped date and
fails if the shipped file differs.

    python scripts/build_managed_policy_snapshot.py [--source FILE] [--date YYYY-MM-DD] [--check]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "src/rolewatch/iac/data/aws-managed-policies.json.gz"
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "aws-managed-policies.json"
ARN_PREFIX = "arn:aws:iam::aws:policy"


def _without_sids(document: Any) -> Any:
    if not isinstance(document, dict):
        return document
    statements = document.get("Statement")
    if isinstance(statements, list):
        statements = [{k: v for k, v in s.items() if k != "Sid"} if isinstance(s, dict) else s for s in statements]
    elif isinstance(statements, dict):
        statements = {k: v for k, v in statements.items() if k != "Sid"}
    return {**document, "Statement": statements}


def build(source: Path, date: str) -> bytes:
    corpus = json.loads(source.read_text(encoding="utf-8"))
    policies: dict[str, list[Any]] = {}  # name -> [path or None, document]
    for name in sorted(corpus):
        arn = corpus[name].get("arn")
        if arn is not None and not str(arn).startswith(ARN_PREFIX + "/"):
            raise SystemExit(f"{name}: not an AWS managed policy ARN: {arn}")
        path = arn[len(ARN_PREFIX) :].rsplit("/", 1)[0] + "/" if arn else None
        policies[name] = [path, _without_sids(corpus[name]["document"])]
    snapshot = {
        "snapshot_date": date,
        "source": f"{source.name} ({len(policies)} policies, default versions)",
        "generator": "scripts/build_managed_policy_snapshot.py",
        "policies": policies,
    }
    raw = json.dumps(snapshot, separators=(",", ":"), sort_keys=True).encode()
    return gzip.compress(raw, compresslevel=9, mtime=0)


def _file_date(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).date().isoformat()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="corpus {name: {arn, document}}")
    parser.add_argument("--date", help="the snapshot's date (default: the source file's date)")
    parser.add_argument("--check", action="store_true", help="fail if the shipped file is stale")
    args = parser.parse_args()
    if not args.source.is_file():
        print(f"{args.source}: no such file (the corpus lives in ../shared/data)", file=sys.stderr)
        return 2
    if args.check:
        shipped = json.loads(gzip.decompress(OUTPUT.read_bytes())) if OUTPUT.exists() else {}
        fresh = build(args.source, args.date or shipped.get("snapshot_date", ""))
        if not OUTPUT.exists() or gzip.decompress(OUTPUT.read_bytes()) != gzip.decompress(fresh):
            print(f"{OUTPUT} is stale: run python scripts/build_managed_policy_snapshot.py", file=sys.stderr)
            return 1
        print(f"{OUTPUT} is up to date")
        return 0
    fresh = build(args.source, args.date or _file_date(args.source))
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_bytes(fresh)
    print(f"wrote {OUTPUT} ({len(fresh):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
