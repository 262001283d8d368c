"""Chat messages: the documented custom-notification format of Amazon Q Developer in chat applications,
concise, and with every untrusted value kept inside an inert code span."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from helpers import NOW
from test_hostile_content import HOSTILE, role_with
from test_report import ADMIN_ROLE, CI_ROLE, WEB_ROLE, audit_result, finding, mixed_result  # noqa: F401

from rolewatch.audit import audit_roles
from rolewatch.baseline import load_baseline
from rolewatch.model import AuditResult, Remediation
from rolewatch.report.chat import ChatContext, code, compose_chat

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[1] / "schemas" / "chat-custom-notification.schema.json").read_text()
)
LINK = "https://s3.console.aws.amazon.com/s3/object/rolewatch-reports?prefix=reports/events/2026/11/22/e1.json"
CODE_SPAN = re.compile(r"`[^`]*`")
INERT_INSIDE = ("<", ">", "@here", "@channel", "@everyone", "\n")


def context(**overrides: Any) -> ChatContext:
    fields: dict[str, Any] = {
        "event_type": "rolewatch-event-audit",
        "headline": "AttachRolePolicy",
        "account": "111122223333",
        "roles": ["break-glass"],
        "who": "arn:aws:sts::111122223333:assumed-role/ci-deployer/session",
        "changed": ["role break-glass: attached AdministratorAccess", "  NEW: full administrator access"],
        "link": LINK,
        "event_id": "e1",
    }
    fields.update(overrides)
    return ChatContext(**fields)


def texts(message: dict[str, Any]) -> list[str]:
    content = message["content"]
    return [content["title"], content["description"], *content["nextSteps"]]


def outside_code(text: str) -> str:
    return CODE_SPAN.sub("`…`", text)


def test_the_message_follows_the_documented_schema_and_says_what_a_channel_needs(
    mixed_result: AuditResult,  # noqa: F811
) -> None:
    message = compose_chat(mixed_result, context())

    jsonschema.validate(message, SCHEMA)
    content = message["content"]
    assert (message["version"], message["source"], content["textType"]) == ("1.0", "custom", "client-markdown")
    assert content["title"].startswith(":rotating_light: rolewatch CRITICAL: AttachRolePolicy on `break-glass`")
    description = content["description"]
    assert "*Severity:* CRITICAL · 6 findings (1 critical, 1 high, 1 medium, 3 low)" in description
    assert "*What changed:* `role break-glass: attached AdministratorAccess`" in description
    assert "*Who:* `arn:aws:sts::111122223333:assumed-role/ci-deployer/session`" in description
    top = [line for line in description.splitlines() if line.startswith("• *")]
    assert len(top) == 3 and top[0].startswith("• *CRITICAL* ")
    assert "and 3 more in the full report" in description
    assert description.endswith(f"*Full report:* {LINK}")
    assert content["nextSteps"] == [
        "Fix first: `aws iam detach-role-policy --role-name break-glass "
        "--policy-arn arn:aws:iam::aws:policy/AdministratorAccess`",
        f"Read the full report: {LINK}",
    ]
    assert content["keywords"][:2] == ["rolewatch", "critical"]
    assert message["metadata"]["threadId"] == "rolewatch-111122223333-break-glass"
    assert message["id"] == "e1"


def test_suppressed_findings_are_not_shown() -> None:
    result = audit_result(finding("data-exfiltration", WEB_ROLE, suppressed_by="reviewed (until 2099-12-31)"))
    message = compose_chat(result, context(roles=[]))
    assert "NO FINDINGS" in message["content"]["title"] and "Top findings" not in message["content"]["description"]
    jsonschema.validate(message, SCHEMA)


def test_the_weekly_message_has_no_actor_line(mixed_result: AuditResult) -> None:  # noqa: F811
    message = compose_chat(
        mixed_result, context(event_type="rolewatch-weekly-audit", headline="Weekly audit", roles=[], who=None)
    )
    assert "*Who:*" not in message["content"]["description"]
    assert "on `break-glass` (+2 more)" in message["content"]["title"]  # the three roles with open findings
    jsonschema.validate(message, SCHEMA)


def test_an_unverified_actor_is_marked() -> None:
    message = compose_chat(audit_result(finding("admin-access", ADMIN_ROLE)), context(who_verified=False))
    assert "(on demand, actor not verified)" in message["content"]["description"]


def test_a_fix_command_that_would_change_in_a_code_span_is_replaced_by_the_sentence() -> None:
    command = "aws iam tag-role --role-name r --tags Key=a,Value='`rm -rf` @here'"
    result = audit_result(
        finding("admin-access", ADMIN_ROLE, remediation=Remediation(summary="Detach it.", cli=(command,)))
    )
    steps = compose_chat(result, context())["content"]["nextSteps"]
    assert steps[0] == "Fix first: `Detach it.`"


def test_a_huge_audit_stays_within_the_budgets() -> None:
    many = audit_result(
        *(finding("service-wildcard", f"arn:aws:iam::111122223333:role/r{i:04d}-{'x' * 50}") for i in range(2000))
    )
    message = compose_chat(many, context(roles=[f"r{i}" for i in range(2000)], changed=["c" * 5000] * 10))
    jsonschema.validate(message, SCHEMA)
    assert len(json.dumps(message).encode()) < 16_000


@pytest.mark.parametrize("kind", sorted(HOSTILE))
@pytest.mark.parametrize("place", ["role", "who", "changed", "notice", "title"])
def test_hostile_text_stays_inside_inert_code_spans(kind: str, place: str) -> None:
    value = HOSTILE[kind]
    benign = "x"

    def message_with(text: str) -> dict[str, Any]:
        result = audit_result(
            finding("admin-access", CI_ROLE, title=text if place == "title" else "Administrator access")
        )
        return compose_chat(
            result,
            context(
                roles=[text if place == "role" else "ci-deploy"],
                who=text if place == "who" else "arn:aws:iam::111122223333:user/alice",
                changed=[text if place == "changed" else "role ci-deploy: attached X"],
                notice=text if place == "notice" else None,
            ),
        )

    hostile, plain = message_with(value), message_with(benign)
    jsonschema.validate(hostile, SCHEMA)
    # Our own words and markup are the same whatever the value: the value lives only in code spans.
    assert [outside_code(t) for t in texts(hostile)] == [outside_code(t) for t in texts(plain)]
    for text in texts(hostile):
        assert text.isprintable() or "\n" in text
        for span in CODE_SPAN.findall(text):
            assert not any(bad in span for bad in INERT_INSIDE), span
            assert span.isprintable()


@pytest.mark.parametrize("where", ["role-name", "path", "tag", "policy-name", "condition-value"])
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_role_content_from_a_real_audit(kind: str, where: str) -> None:
    result = audit_roles([role_with(where, HOSTILE[kind])], load_baseline(), now=NOW)
    message = compose_chat(result, context(roles=[r.rsplit("/", 1)[-1] for r in {f.resource for f in result.findings}]))
    jsonschema.validate(message, SCHEMA)
    for text in texts(message):
        rest = outside_code(text)
        assert not any(bad in rest for bad in ("<", "@here", "@everyone", "](", "\x1b")), rest
        for span in CODE_SPAN.findall(text):
            assert not any(bad in span for bad in INERT_INSIDE), span


def test_code_never_yields_an_empty_or_broken_span() -> None:
    assert code("") == "`-`"
    assert code("a`b<c>d") == "`a\u02cbb\u2039c\u203ad`"
