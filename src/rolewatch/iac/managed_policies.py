"""AWS managed policies as a dated snapshot shipped in the package (data/aws-managed-policies.json.gz).

A template attaches them by ARN; their documents live in AWS. The snapshot (built by
scripts/build_managed_policy_snapshot.py) gives each policy's path and default-version document, so a
template is audited with what the policy really grants, offline. Names are unique among AWS managed
policies whatever their path, so an ARN is found by its last segment. Loaded once, on first use
(~0.1 s); a template that attaches none never loads it.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

AWS_MANAGED_PREFIX = "arn:aws:iam::aws:policy/"


@dataclass(frozen=True)
class ManagedPolicySnapshot:
    date: str
    policies: dict[str, tuple[str | None, Any]]  # name -> (path or None, document)

    def document(self, arn: str) -> Any | None:
        """The default-version document of an AWS managed policy ARN, or None if it is not one we know."""
        if not is_aws_managed(arn):
            return None
        entry = self.policies.get(arn.rsplit("/", 1)[-1])
        return entry[1] if entry else None

    def name_to_arn(self) -> dict[str, str]:
        """SAM's `Policies: [Name]` map: each name to its ARN (path "/" where the snapshot has none)."""
        return {
            name: f"{AWS_MANAGED_PREFIX.rstrip('/')}{path or '/'}{name}" for name, (path, _) in self.policies.items()
        }


def is_aws_managed(arn: str) -> bool:
    # Any partition: arn:aws-cn:iam::aws:policy/... names the same policy.
    parts = arn.split(":", 5)
    return (
        len(parts) == 6
        and parts[0] == "arn"
        and parts[2] == "iam"
        and parts[4] == "aws"
        and parts[5].startswith("policy/")
    )


@cache
def snapshot() -> ManagedPolicySnapshot:
    raw = files("rolewatch.iac").joinpath("data/aws-managed-policies.json.gz").read_bytes()
    data = json.loads(gzip.decompress(raw))
    return ManagedPolicySnapshot(
        date=str(data["snapshot_date"]),
        policies={name: (entry[0], entry[1]) for name, entry in data["policies"].items()},
    )
