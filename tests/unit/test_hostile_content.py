"""Hostile content through every output format: untrusted text stays text.

Each case puts one hostile string (HTML, chat markup, terminal control sequences, forged lines, a lone
surrogate, a bidi override, a very long string) in one place an attacker controls (a role name, its
path, a tag, a policy name, a condition value, a CloudTrail payload field) and renders the audit in
every format: text (plain and coloured), Markdown, JSON, SARIF, HTML and the SNS notification with
its event header. The checks are the format's own promise: JSON and SARIF round-trip the exact value;
text, Markdown and SNS show one printable line per value with no markup a chat or browser would act
on; HTML escapes it; nothing fails to encode.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from helpers import ACCOUNT, NOW, allow, make_role, policy

from rolewatch.audit import audit_roles
from rolewatch.baseline import load_baseline
from rolewatch.event.triggers import AuditRequest, parse_event
from rolewatch.model import AuditResult, RoleSnapshot
from rolewatch.report import render
from rolewatch.report.event_context import event_header
from rolewatch.report.notification import compose
from rolewatch.report.render_html import render_html

HOSTILE = {
    "html": "<script>alert(1)</script><img src=x onerror=alert(1)>",
    "chat": "<!channel> <@U024BE7LH> @here @everyone <https://evil.example|click to fix>",
    "terminal": "\x1b[2J\x1b]0;owned\x07\x1b[31mFAKE\x1b[0m\x1bP+q\x1b\\",
    "forged-lines": "x\nFix: aws iam delete-role --role-name prod\n[CRITICAL] forged\r\nWho: root",
    "controls": "nul\x00bel\x07del\x7fc1\x9b31m",
    "bidi": "invoice\u202egpj.exe\u2066\u2069",
    "separators": "a\u2028b\u2029c\x85d",
    "surrogate": "lone\ud800surrogate\udfff",
    "markdown": "**bold** `tick` ``` [x](javascript:alert(1)) | a | b |\n# heading",
    "long": "A" * 20_000 + "<!channel>\n",
}
FORGED_LINE = re.compile(r"^(Fix: aws iam delete-role|\[CRITICAL\] forged|Who: root|# heading)", re.MULTILINE)
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")
OUR_SGR = re.compile(r"\x1b\[[0-9;]*m")
RAW_MARKUP = ("<script", "<img", "<!channel", "<@U", "<https://", "@here", "@everyone")


def role_with(where: str, value: str) -> RoleSnapshot:
    """A role with admin access (so every format has findings and fix commands) and `value` in `where`."""
    name, path, tags = "app-role", "/", (("owner", "team"),)
    inline_name, condition = "inline-0", "o-1234567"
    if where == "role-name":
        name = value
    elif where == "path":
        path = f"/{value}/"
    elif where == "tag":
        tags = (("owner", value), (value, "x"))
    elif where == "policy-name":
        inline_name = value
    elif where == "condition-value":
        condition = value
    role = make_role(name, policy(allow("*"), allow("s3:GetObject", Condition={"StringEquals": {"aws:x": condition}})))
    inline = role.inline_policies[0]
    return RoleSnapshot(
        **{
            **role.__dict__,
            "arn": f"arn:aws:iam::{ACCOUNT}:role{path}{name}",
            "path": path,
            "tags": tags,
            "inline_policies": (type(inline)(name=inline_name, document=inline.document),),
        }
    )


def cloudtrail_event(field: str, value: str) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "eventVersion": "1.08",
        "eventID": "8f5a1c2e-0d47-4b1e-9a3f-6c2d1e0b9a77",
        "eventTime": "2026-12-04T06:00:00Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "AttachRolePolicy",
        "awsRegion": "us-east-1",
        "recipientAccountId": ACCOUNT,
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15",
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/alice", "accountId": ACCOUNT},
        "requestParameters": {"roleName": "app-role", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
    }
    if field == "user-agent":
        detail["userAgent"] = value
    elif field == "source-ip":
        detail["sourceIPAddress"] = value
    elif field == "actor-arn":
        detail["userIdentity"]["arn"] = value
    return {"version": "0", "id": "1", "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam",
            "account": ACCOUNT, "time": "2026-12-04T06:00:00Z", "region": "us-east-1", "detail": detail}  # fmt: skip


def assert_shown_as_text(output: str, fmt: str) -> None:
    """Text, Markdown, SNS: every line printable, no forged line, no markup a chat or browser acts on."""
    for line in output.split("\n"):
        assert line.isprintable(), (fmt, line[:200])
    assert not FORGED_LINE.search(output), fmt
    lowered = output.lower()
    for markup in RAW_MARKUP:
        if fmt == "markdown" and markup.startswith("<"):
            # Outside code, Markdown shows `<` escaped as `\<`; inside a code span or fence it is literal text.
            prose = outside_code(output).lower().replace(f"\\{markup}", "")
            assert markup not in prose, (fmt, markup)
            continue
        if fmt in ("text", "sns") and markup.startswith("<"):
            # Only a fix command, where the name is a single-quoted shell word, may hold `<`.
            assert all("$ aws " in line for line in _lines_with(output, markup)), (fmt, markup)
            continue
        assert markup not in lowered, (fmt, markup)


def outside_code(markdown: str) -> str:
    """The Markdown without its fenced blocks and code spans (CommonMark: a span closes on a run of
    backticks as long as the one that opened it)."""
    kept, fenced = [], False
    for line in markdown.split("\n"):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            kept.append(CODE_SPAN.sub("", line))
    return "\n".join(kept)


def _lines_with(output: str, needle: str) -> list[str]:
    return [line.strip() for line in output.lower().split("\n") if needle in line]


def assert_round_trips(output: str, value: str, fmt: str) -> None:
    assert all(line.isprintable() for line in output.split("\n")), fmt
    parsed = json.loads(output)
    flat = json.dumps(parsed, ensure_ascii=False)
    assert json.dumps(value, ensure_ascii=False)[1:-1][:200] in flat, fmt  # the exact value, escaped as JSON


def all_formats(result: AuditResult, header: list[str] | None = None) -> dict[str, str]:
    notification = compose(result, account=ACCOUNT, header=header or [])
    assert notification is not None
    assert notification.size_in_bytes() > 0  # sizing encodes the message: it must be valid UTF-8
    return {
        "text": render(result, "text"),
        "text-color": render(result, "text", color=True),
        "markdown": render(result, "markdown"),
        "json": render(result, "json"),
        "sarif": render(result, "sarif"),
        "html": render_html(result),
        "sns": notification.message,
        "sns-subject": notification.subject,
    }


CHECKS: dict[str, Callable[[str, str], None]] = {}

ROLE_PLACES = ("role-name", "path", "tag", "policy-name", "condition-value")
PAYLOAD_FIELDS = ("user-agent", "source-ip", "actor-arn")


def check_every_format(outputs: dict[str, str], value: str, *, in_report: bool) -> None:
    for fmt in ("text", "markdown", "sns"):
        assert_shown_as_text(outputs[fmt], fmt)
    assert "\x1b" not in OUR_SGR.sub("", outputs["text-color"])
    assert outputs["sns-subject"].isascii() and outputs["sns-subject"].isprintable()
    assert len(outputs["sns-subject"]) < 100
    outputs["html"].encode("utf-8")
    assert "<script" not in outputs["html"] and "<img" not in outputs["html"]
    assert all(line.isprintable() for line in outputs["html"].split("\n"))
    for fmt in ("json", "sarif"):
        if in_report and fmt == "json":
            assert_round_trips(outputs[fmt], value, fmt)
        else:
            json.loads(outputs[fmt])
            assert all(line.isprintable() for line in outputs[fmt].split("\n")), fmt


@pytest.mark.parametrize("where", ROLE_PLACES)
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_role_content_stays_text_in_every_format(kind: str, where: str) -> None:
    value = HOSTILE[kind]
    result = audit_roles([role_with(where, value)], load_baseline(), now=NOW)
    assert result.findings  # the role is audited whatever its names hold
    in_report = where in ("role-name", "path", "policy-name")  # values a finding quotes in the JSON report
    check_every_format(all_formats(result), value, in_report=in_report)


@pytest.mark.parametrize("field", PAYLOAD_FIELDS)
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_payload_fields_stay_text_in_the_sns_report(kind: str, field: str) -> None:
    value = HOSTILE[kind]
    request = parse_event(cloudtrail_event(field, value))
    assert isinstance(request, AuditRequest)
    result = audit_roles([role_with("tag", "x")], load_baseline(), now=NOW)
    header = event_header(request, roles=["app-role"], deleted=[], deltas=[])
    outputs = all_formats(result, header)
    check_every_format(outputs, value, in_report=False)
    assert any(line.startswith("Who: ") for line in outputs["sns"].split("\n"))
    assert max(len(line) for line in header) < 400  # a 20,000-character field is shortened in the message


@pytest.mark.parametrize("fmt", ["text", "markdown", "json", "sarif"])
def test_rolewatch_check_prints_no_control_sequence_from_a_policy_file(tmp_path: Any, fmt: str) -> None:
    """A policy file in a pull request is attacker-controlled: the terminal gets no raw ESC, BEL or OSC."""
    from io import StringIO

    from rolewatch.cli import main

    hostile = HOSTILE["terminal"] + HOSTILE["forged-lines"] + HOSTILE["surrogate"]
    document = {"Version": "2012-10-17", "Statement": [{"Sid": "x", "Effect": "Allow", "Action": "*",
                "Resource": "*", "Condition": {"StringEquals": {"aws:userAgent": hostile}}}]}  # fmt: skip
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(document), encoding="utf-8")  # \\ud800 written as a JSON escape, as an attacker would
    out, err = StringIO(), StringIO()

    main(["check", str(path), "--format", fmt], stdout=out, stderr=err)

    printed = out.getvalue() + err.getvalue()
    printed.encode("utf-8")  # a lone surrogate would not even reach the terminal
    assert all(line.isprintable() for line in printed.split("\n")), fmt
    assert not FORGED_LINE.search(printed)
