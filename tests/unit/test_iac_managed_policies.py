"""The shipped AWS managed-policy snapshot: dated, complete enough to audit with, and fresh against its source."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import SHARED_DATA

from rolewatch.iac.managed_policies import is_aws_managed, snapshot

ROOT = Path(__file__).resolve().parents[2]


def test_the_snapshot_is_dated_and_holds_the_policies_templates_attach():
    shipped = snapshot()
    assert len(shipped.date) == 10 and shipped.date.startswith("20")
    admin = shipped.document("arn:aws:iam::aws:policy/AdministratorAccess")
    assert admin["Statement"][0] == {"Effect": "Allow", "Action": "*", "Resource": "*"}
    basic = shipped.document("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    assert basic is not None and "logs:PutLogEvents" in str(basic)
    assert shipped.name_to_arn()["AWSLambdaBasicExecutionRole"] == (
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    )
    assert len(shipped.policies) > 1000


@pytest.mark.parametrize(
    "arn, managed",
    [
        ("arn:aws:iam::aws:policy/ReadOnlyAccess", True),
        ("arn:aws-cn:iam::aws:policy/ReadOnlyAccess", True),
        ("arn:aws:iam::123456789012:policy/ReadOnlyAccess", False),
        ("ReadOnlyAccess", False),
    ],
)
def test_only_aws_managed_arns_are_looked_up(arn, managed):
    assert is_aws_managed(arn) is managed
    assert (snapshot().document(arn) is not None) is managed


@pytest.mark.corpus
def test_the_shipped_snapshot_matches_its_source():
    source = SHARED_DATA / "aws-managed-policies.json"
    if not source.is_file():
        pytest.skip(f"shared test data not present at {SHARED_DATA}")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/build_managed_policy_snapshot.py"), "--check", "--source", str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
