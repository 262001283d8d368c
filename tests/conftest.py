import sys
from pathlib import Path

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
