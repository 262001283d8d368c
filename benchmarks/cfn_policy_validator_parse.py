"""cfn-policy-validator's template parser, offline: its library `parse()` with the account given.

The CLI (`cfn-policy-validator parse`) first asks STS for the account; the library takes it as an argument,
so this runs the same parser without calling AWS (it still calls IAM when a template attaches an AWS
managed policy, and fails without credentials). Run it in a throwaway venv, never in .venv:

    python -m venv /tmp/cfnpv && /tmp/cfnpv/bin/pip install cfn-policy-validator
    /tmp/cfnpv/bin/python benchmarks/cfn_policy_validator_parse.py TEMPLATE [Name=Value ...]
"""

from __future__ import annotations

import json
import sys

import cfn_policy_validator  # type: ignore[import-not-found]


def main() -> int:
    path, *pairs = sys.argv[1:]
    parameters = dict(pair.split("=", 1) for pair in pairs)
    try:
        with open(path, encoding="utf-8") as template:
            parsed = cfn_policy_validator.parse(template.read(), "us-east-1", "123456789012", "aws", parameters)
    except Exception as exc:  # the comparison reports what stopped it
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 1
    print(json.dumps(parsed, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
