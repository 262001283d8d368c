"""A pytest plugin: the test run must make every rule of the catalogue produce a finding.

A catalogue id counts as exercised when, during some test, rolewatch's own code built a finding with
that id (the engine's and the live checks' ids included); a registered rule function must also have
been called (it is wrapped in the registry and in its module at start-up, so tests that import the
function directly count too). A test that only names a rule id, or builds a `Finding` itself,
exercises nothing.

The check runs at the end of a session that selected every test under tests/unit except those marked
`slow` (so `pytest`, `make unit`, `make test`), and only when everything else passed: a run of one
file or a `-k` selection is not asked to cover every rule. Under pytest-xdist each worker counts what
its tests ran and sends the counts to the controller (`workeroutput`), which adds them up and checks.
"""

from __future__ import annotations

import functools
import json
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

WORKER_KEY = "rolewatch_rule_runs"
UNIT_TESTS = ("tests", "unit")


class RuleRuns:
    """Counts, per rule id: calls of the registered function, and findings rolewatch's code built."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.findings: Counter[str] = Counter()
        self.complete_selection = False
        self.sources: list[str] = []  # under xdist: what each worker reported (printed with the verdict)
        self.reported: set[str] = set()  # workers whose counts arrived

    def observe(self, rule_id: str, fn: Callable[[Any], Iterable[Any]]) -> Callable[[Any], Iterable[Any]]:
        @functools.wraps(fn)
        def observed(ctx: Any) -> Iterable[Any]:
            produced = fn(ctx)
            self.calls[rule_id] += 1
            return produced

        return observed

    def to_dict(self) -> dict[str, Any]:
        return {"calls": dict(self.calls), "findings": dict(self.findings), "complete": self.complete_selection}

    def add(self, other: Mapping[str, Any]) -> None:
        self.calls.update(other.get("calls", {}))
        self.findings.update(other.get("findings", {}))
        self.complete_selection = self.complete_selection or bool(other.get("complete"))


def unexercised(registered: Iterable[str], catalogue: Iterable[str], runs: RuleRuns) -> dict[str, str]:
    """Each catalogue id no test exercised, with what is missing: the call or the finding."""
    rules = set(registered)
    missing: dict[str, str] = {}
    for rule_id in sorted(set(catalogue) | rules):
        if rule_id in rules and not runs.calls[rule_id]:
            missing[rule_id] = "never called"
        elif not runs.findings[rule_id]:
            missing[rule_id] = "called, never produced a finding" if rule_id in rules else "never produced"
    return missing


def _install(runs: RuleRuns) -> None:
    from rolewatch import model
    from rolewatch.rules import registry

    table = registry._REGISTRY  # the registry has no public setter: the plugin swaps entries in place
    for rule_id, fn in registry.registered_rules().items():
        observed = runs.observe(rule_id, fn)
        table[rule_id] = observed
        module = sys.modules[fn.__module__]
        if getattr(module, fn.__name__, None) is fn:
            setattr(module, fn.__name__, observed)

    built = model.Finding.__init__

    @functools.wraps(built)
    def counted_init(self: Any, *args: Any, **kwargs: Any) -> None:
        built(self, *args, **kwargs)
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller == "rolewatch" or caller.startswith("rolewatch."):
            runs.findings[self.rule] += 1

    model.Finding.__init__ = counted_init  # type: ignore[method-assign]


RUNS = pytest.StashKey[RuleRuns]()
MISSING = pytest.StashKey[dict[str, str]]()
CHECKED = pytest.StashKey[int]()


COUNTS_DIR = pytest.StashKey[Path]()
DIR_KEY = "rolewatch_rule_runs_dir"


def pytest_configure(config: pytest.Config) -> None:
    runs = RuleRuns()
    config.stash[RUNS] = runs
    _install(runs)  # in an xdist controller too, where no test runs and the counts stay empty
    if not hasattr(config, "workerinput") and getattr(config.option, "numprocesses", None):
        # A second channel beside `workeroutput`: each worker also writes its counts to a file here, and
        # the controller reads the file of any worker whose message did not reach it.
        config.stash[COUNTS_DIR] = Path(tempfile.mkdtemp(prefix="rule-runs-"))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    folder = node.config.stash.get(COUNTS_DIR, None)
    if folder is not None:
        node.workerinput[DIR_KEY] = str(folder)


# Outermost (tryfirst): it sees the items before any plugin deselects and after every one has.
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Iterator[None]:
    unit = config.rootpath.joinpath(*UNIT_TESTS)
    fast = {item.nodeid for item in items if _under(item, unit) and not item.get_closest_marker("slow")}
    collected_files = {item.path for item in items if _under(item, unit)}
    every_file = set(unit.glob("test_*.py"))
    yield
    selected = {item.nodeid for item in items if _under(item, unit)}
    config.stash[RUNS].complete_selection = bool(every_file) and every_file <= collected_files and fast <= selected


def _under(item: pytest.Item, folder: Path) -> bool:
    return item.path.is_relative_to(folder)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    counts = getattr(node, "workeroutput", {}).get(WORKER_KEY)
    runs = node.config.stash[RUNS]
    name = getattr(getattr(node, "gateway", None), "id", "worker")
    if counts:
        runs.add(counts)
        runs.reported.add(name)
        runs.sources.append(f"{name}: {sum(counts.get('findings', {}).values())} findings counted")
    else:
        runs.sources.append(f"{name}: no counts ({'crashed: ' + str(error) if error else 'none sent'})")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    runs = config.stash[RUNS]
    if hasattr(config, "workerinput"):
        counts = runs.to_dict()
        config.workeroutput[WORKER_KEY] = counts  # type: ignore[attr-defined]
        folder = config.workerinput.get(DIR_KEY)  # type: ignore[attr-defined]
        if folder:
            Path(folder, f"{config.workerinput['workerid']}.json").write_text(json.dumps(counts))  # type: ignore[attr-defined]
        return
    _read_unreported(config, runs)
    ran_tests = not any(getattr(config.option, name, False) for name in ("collectonly", "setuponly", "setupplan"))
    if exitstatus != pytest.ExitCode.OK or not ran_tests or not runs.complete_selection:
        return
    from rolewatch.rule_metadata import rule_catalogue
    from rolewatch.rules.registry import registered_rules

    ids = set(registered_rules()) | set(rule_catalogue())
    missing = unexercised(registered_rules(), ids, runs)
    config.stash[MISSING] = missing
    config.stash[CHECKED] = len(ids)
    if missing:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _read_unreported(config: pytest.Config, runs: RuleRuns) -> None:
    folder = config.stash.get(COUNTS_DIR, None)
    if folder is None:
        return
    for path in sorted(folder.glob("*.json")):
        if path.stem not in runs.reported:
            counts = json.loads(path.read_text())
            runs.add(counts)
            runs.reported.add(path.stem)
            runs.sources.append(f"{path.stem}: {sum(counts.get('findings', {}).values())} findings, from its file")
    shutil.rmtree(folder, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if MISSING not in config.stash:
        return
    missing = config.stash[MISSING]
    sources = config.stash[RUNS].sources
    if not missing:
        terminalreporter.write_line(
            f"rule_runs: the tests exercised all {config.stash[CHECKED]} rules and finding ids"
            + (f" ({'; '.join(sources)})" if sources else "")
        )
    else:
        terminalreporter.section("rules no test exercised", sep="=", red=True, bold=True)
        for rule_id, what in missing.items():
            terminalreporter.write_line(f"{rule_id}: {what}")
        if sources:
            terminalreporter.write_line("counts from the workers: " + "; ".join(sources))
