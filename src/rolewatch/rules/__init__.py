"""Rules: pure functions over a RuleContext, one module per rule (or tight family), a package per concern.

    trust/  permissions/  escalation/  baseline/  instance_profile/  validation/  usage/

Importing this package imports every module below it once, in sorted order; each `@rule` function
registers itself (rolewatch.rules.registry) and its metadata sits beside its module in
`<module>.metadata.yaml` (rolewatch.rule_metadata). No list names the rule modules: adding a rule is
adding its module, its metadata file and its tests. The registry hands rules out sorted by id, so the
engine runs them in the same order whatever order the modules were imported in.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from types import ModuleType


def module_names(folder: str, package: str) -> Iterator[str]:
    """Every module and package below `folder` (the package `package`), depth first, sorted by name.

    A directory without __init__.py is not a package of rules and is not entered (the meta-test
    tests/unit/test_rule_registry.py fails on any .py file this walk leaves out). A plain directory
    listing, not pkgutil: cheaper at cold start, and the order is ours."""
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_dir() and os.path.isfile(os.path.join(entry.path, "__init__.py")):
            yield f"{package}.{entry.name}"
            yield from module_names(entry.path, f"{package}.{entry.name}")
        elif entry.is_file() and entry.name.endswith(".py") and entry.name != "__init__.py":
            yield f"{package}.{entry.name[:-3]}"


def _discover() -> tuple[ModuleType, ...]:
    return tuple(importlib.import_module(name) for name in module_names(__path__[0], __name__))


RULE_MODULES: tuple[ModuleType, ...] = _discover()
