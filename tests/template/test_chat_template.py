"""The optional chat topic in template.yaml: off by default; when given, both functions may publish to
that topic and nothing else, and receive it as CHAT_TOPIC_ARN."""

from __future__ import annotations

import re

import pytest
from cfn_template import Resolver, function_role, load, role_statements

CHAT = "arn:aws:sns:us-east-1:123456789012:team-security-chat"
FUNCTIONS = ("EventAuditFunction", "AccountAuditFunction", "OrgAuditFunction")


@pytest.fixture(scope="module")
def template() -> dict:
    return load()


def chat_statements(template: dict, function: str, parameters: dict[str, str] | None = None) -> list[dict]:
    return [
        s
        for s in role_statements(template, function_role(template, function), parameters)
        if s.get("Sid") == "ChatTopic"
    ]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_chat_permission_by_default(template: dict, function: str) -> None:
    assert chat_statements(template, function) == []
    env = Resolver(template).value(template["Globals"]["Function"]["Environment"]["Variables"])
    assert env["CHAT_TOPIC_ARN"] == ""


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_chat_topic_is_published_to_and_nothing_else(template: dict, function: str) -> None:
    [statement] = chat_statements(template, function, {"ChatTopicArn": CHAT})
    assert (statement["Effect"], statement["Action"], statement["Resource"]) == ("Allow", ["sns:Publish"], CHAT)
    env = Resolver(template, {"ChatTopicArn": CHAT}).value(template["Globals"]["Function"]["Environment"]["Variables"])
    assert env["CHAT_TOPIC_ARN"] == CHAT


def test_the_parameter_accepts_only_a_topic_arn(template: dict) -> None:
    pattern = re.compile(template["Parameters"]["ChatTopicArn"]["AllowedPattern"])
    assert pattern.match("") and pattern.match(CHAT)
    assert not pattern.match("https://hooks.slack.com/services/T000/B000/XXX")
