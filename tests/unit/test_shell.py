"""The one quoting helper, and every fix command of every report going through it (hostile names and paths)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from typing import Any

import pytest
from helpers import ACCOUNT, NOW, allow, make_role, policy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rolewatch.audit import audit_roles
from rolewatch.baseline import load_baseline
from rolewatch.model import AttachedPolicy, RoleSnapshot
from rolewatch.shell import command, quote

# A word as the helper writes it: safe characters, a single-quoted run, an escaped quote, or ANSI-C $'...'.
_WORD = r"(?:[\w@%+=:,./-]+|'[^']*'|\"'\"|\$'(?:[^'\\]|\\.)*')+"
QUOTED_COMMAND = re.compile(rf"{_WORD}(?: {_WORD})*", re.ASCII)

SHELL_META = [*"$`;&|<>(){}[]*?~!#\"'\\ \t\n\r", "\x1b", "\x07", "\x1b]0;owned\x07", "\u202e", "$(id)", "`id`"]
hostile_text = st.lists(st.sampled_from(SHELL_META) | st.text(min_size=1, max_size=3), min_size=1, max_size=8).map(
    "".join
)


def is_quoted_command(line: str) -> bool:
    return QUOTED_COMMAND.fullmatch(line) is not None


@given(hostile_text)
@settings(max_examples=300)
def test_a_printable_word_comes_back_as_exactly_one_word(word: str) -> None:
    line = command("aws", "iam", "get-role", "--role-name", word)
    assert line.isprintable() and "\n" not in line
    if word.isprintable():
        assert shlex.split(line)[-1] == word and len(shlex.split(line)) == 5
    assert is_quoted_command(line)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize(
    "word",
    ["a b", "$(touch /tmp/x)", "x';id;'", "line\nbreak", "\x1b]0;title\x07", "tab\there", "back\\slash'q", "\u202egpj"],
)
def test_bash_receives_each_word_exactly_as_given(word: str) -> None:
    script = command("printf", "%s", word)
    out = subprocess.run(["bash", "-c", script], capture_output=True, check=True).stdout
    assert out == word.encode()
    assert script.isprintable()


def test_safe_words_are_left_alone_and_placeholders_are_quoted() -> None:
    assert quote("arn:aws:iam::111122223333:role/app/S3AccessRole") == "arn:aws:iam::111122223333:role/app/S3AccessRole"
    assert quote("<default-version-id>") == "'<default-version-id>'"
    assert quote("") == "''"


# -- every command in every report ----------------------------------------------------------------

hostile_name = st.text(
    alphabet=st.sampled_from(list("ab$`;&|<>(){}*?~!#\"' \n\x1b\u202e@=+,.-_")), min_size=1, max_size=12
)
hostile_path = hostile_name.map(lambda name: f"/{name}/")


def chain_account(name: str, path: str, policy_name: str) -> list[RoleSnapshot]:
    """Every rule family with a fix command fires on these roles, whose names, paths and policy names are hostile."""
    managed_arn = f"arn:aws:iam::{ACCOUNT}:policy{path}{policy_name}"
    admin = policy(allow("*"))
    start = make_role(f"start{name}", trust={"Version": "2012-10-17", "Statement": []})
    hostile = make_role(name, admin, managed=[(managed_arn, policy(allow("iam:*")))], path=path)
    hostile = RoleSnapshot(
        **{
            **hostile.__dict__,
            "arn": f"arn:aws:iam::{ACCOUNT}:role{path}{name}",
            "inline_policies": (AttachedPolicy(name=policy_name, document=admin),),
            "trust_policy": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": start.arn}, "Action": "sts:AssumeRole"}],
            },
        }
    )
    return [hostile, start]


def every_command(roles: list[RoleSnapshot]) -> list[str]:
    result = audit_roles(roles, load_baseline(), now=NOW)
    return [line for finding in result.findings for line in finding.remediation.cli]


@given(hostile_name, hostile_path, hostile_name)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_fix_command_quotes_hostile_names_paths_and_policy_names(name: str, path: str, policy_name: str) -> None:
    commands = every_command(chain_account(name, path, policy_name))
    assert len(commands) >= 4
    for line in commands:
        assert is_quoted_command(line), line
        assert line.isprintable(), line


def test_the_commands_of_the_permission_and_escalation_rules_name_the_role_as_one_word() -> None:
    name = "x;touch$(id)"
    roles = chain_account(name, "/p a/", "pol `id`")
    result = audit_roles(roles, load_baseline(), now=NOW)
    by_rule: dict[str, list[str]] = {}
    for finding in result.findings:
        by_rule.setdefault(finding.rule, []).extend(finding.remediation.cli)
    chain = by_rule.get("role-chain-escalation", [])
    admin = [c for rule, lines in by_rule.items() if rule.startswith("admin") for c in lines]
    assert chain and admin, sorted(by_rule)
    for line in chain + admin:
        assert is_quoted_command(line), line
        words: list[Any] = shlex.split(line)
        assert name in words or "pol `id`" in words, line
