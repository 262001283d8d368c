import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import SHARED_DATA

# rule_runs: the session fails unless the tests make every rule produce a finding (see its docstring).
pytest_plugins = ("rule_runs", "pytester")


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not present at {SHARED_DATA} (a fresh clone has none)")
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def _aws_managed_policies_in_the_aws_partition_only() -> Iterator[None]:
    """moto builds its ~1,300 AWS-managed policies in the IAM backend of each of the six partitions the
    first time a request's access key is looked up (moto.iam.models.get_account_id_from walks every
    partition): about 0.2 s each, for every account a test creates with the policies loaded. The tests
    use the `aws` partition only, so the other five are built without them; `aws` is unchanged.
    Where moto's internals differ from what this expects, nothing is patched (only slower)."""
    try:
        from moto.iam.models import IAMBackend
    except ImportError:
        yield
        return
    original = getattr(IAMBackend, "_init_aws_policies", None)
    if original is None:
        yield
        return

    def aws_partition_only(self: Any) -> Any:
        return original(self) if self.region_name == "aws" else []

    IAMBackend._init_aws_policies = aws_partition_only  # type: ignore[method-assign]
    try:
        yield
    finally:
        IAMBackend._init_aws_policies = original  # type: ignore[method-assign]


@pytest.fixture(scope="session", autouse=True)
def _one_botocore_model_loader() -> Iterator[None]:
    """Every boto3 session loads the service models (EC2's alone is megabytes of JSON) into a loader of
    its own, and the tests make many sessions: moto resets boto3's default one, and each handler cold
    start under test makes its clients afresh. Here all sessions share one loader per data path, which
    caches the models it has read; botocore already shares those read-only dicts between the clients of
    one session. Production code is untouched: a Lambda container keeps its one session."""
    import botocore.session

    original = botocore.session.create_loader
    shared: dict[str | None, Any] = {}

    def shared_loader(search_path_string: str | None = None) -> Any:
        if search_path_string not in shared:
            shared[search_path_string] = original(search_path_string)
        return shared[search_path_string]

    botocore.session.create_loader = shared_loader  # type: ignore[assignment]
    try:
        yield
    finally:
        botocore.session.create_loader = original
