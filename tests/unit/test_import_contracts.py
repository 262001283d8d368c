"""The import graph of rolewatch stays layered and acyclic, so `pytest` alone catches a new cycle.

The contracts live in pyproject.toml ([tool.importlinter]) and also run in `make lint`. Each run here
names the source tree explicitly (PYTHONPATH), so it checks this checkout's code, not an installed copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(src: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache", "--no-logo"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_the_import_contracts_hold() -> None:
    run = _lint_imports(ROOT / "src", ROOT / "pyproject.toml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


# Each cycle this layout removed, put back the way it was written (a function-level import included):
# the contracts must reject it. (file, text appended, a contract the output must name as broken)
REINTRODUCED_CYCLES = {
    "baseline-reads-the-rule-registry": (
        "baseline.py",
        "\n\ndef _known_rules() -> object:\n    from rolewatch.rules.registry import registered_rules\n\n"
        "    return registered_rules()\n",
        "Layers: entry points > services",
    ),
    "analyzer-package-re-exports-its-check": (
        "analyzer/__init__.py",
        "\nfrom rolewatch.analyzer.check import AccessAnalyzerCheck  # noqa: F401\n",
        "The analyzer package imports none of its modules",
    ),
    "policy-reads-the-baseline": (
        "policy/document.py",
        "\nfrom rolewatch.baseline import Baseline  # noqa: F401\n",
        "No cycles between the modules or packages",
    ),
}


@pytest.mark.parametrize("case", sorted(REINTRODUCED_CYCLES))
def test_the_contracts_reject_a_reintroduced_cycle(case: str, tmp_path: Path) -> None:
    relative, appended, contract = REINTRODUCED_CYCLES[case]
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "rolewatch", src / "rolewatch", ignore=shutil.ignore_patterns("__pycache__"))
    with (src / "rolewatch" / relative).open("a") as module:
        module.write(appended)

    run = _lint_imports(src, ROOT / "pyproject.toml")

    assert run.returncode == 1, run.stdout + run.stderr
    broken = [line for line in run.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(line.startswith(contract) for line in broken), run.stdout


def import_cycle(graph: grimp.ImportGraph) -> list[str] | None:
    """One cycle of direct imports between modules (a package counts as its __init__), or None."""
    done: set[str] = set()
    for start in sorted(graph.modules):
        if start in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, list[str]]] = [(start, sorted(graph.find_modules_directly_imported_by(start)))]
        path.append(start)
        on_path.add(start)
        while stack:
            module, pending = stack[-1]
            if not pending:
                stack.pop()
                path.pop()
                on_path.discard(module)
                done.add(module)
                continue
            imported = pending.pop()
            if imported in on_path:
                return [*path[path.index(imported) :], imported]
            if imported not in done:
                stack.append((imported, sorted(graph.find_modules_directly_imported_by(imported))))
                path.append(imported)
                on_path.add(imported)
    return None


def test_no_module_takes_part_in_an_import_cycle() -> None:
    """Finer than the contracts: also a module importing its own package's __init__, which imports it."""
    graph = grimp.build_graph("rolewatch", cache_dir=None)
    assert import_cycle(graph) is None


def test_import_cycle_finds_a_cycle_through_a_package_init() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [
        ("pkg.audit", "pkg.rules.registry"),
        ("pkg.rules", "pkg.rules.trust"),
        ("pkg.rules.trust", "pkg.rules.registry"),
        ("pkg.rules.registry", "pkg.rules"),
    ]:
        graph.add_import(importer=importer, imported=imported)
    cycle = import_cycle(graph)
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {"pkg.rules", "pkg.rules.trust", "pkg.rules.registry"}
    assert all(imported in graph.find_modules_directly_imported_by(importer) for importer, imported in pairwise(cycle))

    graph.remove_import(importer="pkg.rules.registry", imported="pkg.rules")
    assert import_cycle(graph) is None
