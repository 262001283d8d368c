"""Parse the package's YAML data (rule metadata, baselines, OIDC providers) with libyaml when it is there.

PyYAML's pure-Python parser costs about 5 ms a file; the rule metadata alone is some thirty files read at
every cold start. `CSafeLoader` builds the same plain data (dicts, lists, strings, numbers, booleans) and
refuses the same arbitrary-object tags as `SafeLoader`; the pure loader remains the fallback where PyYAML
was built without libyaml.
"""

from __future__ import annotations

from typing import Any

import yaml

_SafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """The plain data of one YAML document (yaml.safe_load's result); YAMLError when it is not YAML."""
    return yaml.load(text, Loader=_SafeLoader)
