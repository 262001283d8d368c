"""Import the privilege-escalation action sets into the package (src/rolewatch/rules/data/).

Source: the union of methods named by Cloudsplaining, Prowler, pathfinding.cloud, PMapper, Parliament,
Pacu and iam-vulnerable (../shared/data/privesc-methods.json). The rules need the sets at run time,
so the package carries a copy; tests/unit/test_rule_registry.py checks that it stays identical.

    python scripts/import_privesc_methods.py [SOURCE]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "privesc-methods.json"
OUTPUT = ROOT / "src" / "rolewatch" / "rules" / "data" / "privesc-methods.json"


def main() -> int:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE
    data = json.loads(source.read_text())
    out = {
        "source": "union of Cloudsplaining, Prowler, pathfinding.cloud, PMapper, Parliament, Pacu, iam-vulnerable",
        "legend": data["legend"],
        "note": data["note"],
        "methods": [{"actions": m["actions"], "known_as": m["known_as"]} for m in data["methods"]],
    }
    OUTPUT.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(out['methods'])} methods to {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
