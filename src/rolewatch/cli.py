"""The `rolewatch` command: the same audit pipeline as the Lambda functions, from a terminal.

    rolewatch check FILE... [--baseline FILE] [--format json|text|markdown|sarif|ocsf] [--fail-on SEVERITY]
    rolewatch audit [--role NAME ...] [--format text|json|markdown|sarif|ocsf|html] [--out DIR] [--baseline FILE]
                    [--fail-on SEVERITY] [--region REGION] [--no-access-analyzer]

`audit` reads the live account (AWS credentials as the AWS CLI finds them; any endpoint in
AWS_ENDPOINT_URL, such as the moto server of `make demo`) and audits every role, or the named ones.

Exit status: 0 clean (or nothing at or above --fail-on), 1 findings at or above --fail-on,
2 bad input (an unreadable file stops at once with one line; a malformed document inside a readable
file is listed in the report's errors while everything else is still audited).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from rolewatch.model import AuditResult, RoleSnapshot, Severity, SourceLocation

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2
FORMATS = ("text", "json", "markdown", "sarif", "ocsf")
AUDIT_FORMATS = (*FORMATS, "html")
FAIL_ON_HELP = f"exit 1 when a finding at or above this severity exists ({', '.join(s.value for s in Severity)})"


class InputError(Exception):
    """Input the command cannot use at all; the message is the one line the user sees."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rolewatch", description="Audit AWS IAM roles against least privilege.")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser(
        "check",
        help="audit roles offline: account JSON, a policy document, a CloudFormation/SAM template or a Terraform plan",
        description="Audit roles offline. FILE is the JSON printed by `aws iam get-account-authorization-details` "
        "(documents as objects or URL-encoded strings), a single policy document, a CloudFormation or SAM template "
        "(YAML or JSON), or a Terraform plan (`terraform show -json`). Use - for standard input (JSON).",
    )
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--baseline", metavar="FILE", help="baseline YAML (default: the shipped default baseline)")
    check.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    check.add_argument(
        "--fail-on",
        metavar="SEVERITY",
        type=_severity,
        help=FAIL_ON_HELP,
    )
    check.add_argument("--color", action="store_true", help="colour the text report")
    _add_audit_parser(sub)
    return parser


def _add_audit_parser(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser(
        "audit",
        help="audit the live account: every role, or the named ones",
        description="Read the account in the fewest calls (GetAccountAuthorizationDetails, EC2 instance-profile "
        "associations in every enabled region, Access Analyzer findings) and audit it. Credentials and region as "
        "the AWS CLI finds them; AWS_ENDPOINT_URL points it at another endpoint (the moto demo).",
    )
    audit.add_argument(
        "--role", dest="roles", action="extend", nargs="+", default=[], metavar="NAME", help="audit only these roles"
    )
    audit.add_argument("--format", choices=AUDIT_FORMATS, default="text", help="output format (default: text)")
    audit.add_argument(
        "--out", metavar="DIR", help="write report.<format> and report.json to DIR instead of printing the report"
    )
    audit.add_argument("--baseline", metavar="FILE", help="baseline YAML (default: the shipped default baseline)")
    audit.add_argument(
        "--fail-on",
        metavar="SEVERITY",
        type=_severity,
        help=FAIL_ON_HELP,
    )
    audit.add_argument("--region", help="home region for EC2 and Access Analyzer (default: configured, else us-east-1)")
    audit.add_argument("--no-access-analyzer", action="store_true", help="do not read Access Analyzer findings")


def _severity(text: str) -> Severity:
    try:
        return Severity.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        return _check(args, out) if args.command == "check" else _audit(args, out)
    except InputError as exc:
        print(f"rolewatch: {exc}", file=err)
        return EXIT_BAD_INPUT


def _check(args: argparse.Namespace, out: TextIO) -> int:
    from rolewatch.audit import at_or_above, audit_roles
    from rolewatch.baseline import BaselineError, load_baseline
    from rolewatch.iac import IacInputError, iac_kind, read_iac
    from rolewatch.inventory.authz_file import NotAnAccountFile, read_account_json
    from rolewatch.report import write_report

    try:
        baseline = load_baseline(args.baseline)
    except BaselineError as exc:
        raise InputError(str(exc)) from None  # the message already names the file
    except OSError as exc:
        raise InputError(f"{args.baseline}: cannot read: {exc.strerror or exc}") from None

    roles: list[RoleSnapshot] = []
    file_errors = []
    notes: list[str] = []
    whole_accounts = True  # every file is an authorization-details file: no role of the account is missing
    locations: dict[str, SourceLocation] = {}  # where templates and plans write each role, for SARIF
    for name in args.files:
        kind = iac_kind(name)  # a YAML template by its extension, never parsed as JSON
        value = None if kind else _read_json(name)
        if kind := kind or iac_kind(name, value):
            try:
                account = read_iac(name, kind, text=json.dumps(value) if name == "-" else None)  # stdin: read once
            except IacInputError as exc:
                raise InputError(f"{name}: {exc}") from None
            locations.update(account.locations)
        else:
            try:
                account = read_account_json(value, name)
            except NotAnAccountFile as exc:
                raise InputError(f"{name}: {exc}") from None
        roles.extend(account.roles)
        whole_accounts = whole_accounts and account.kind == "authorization-details"
        file_errors.extend(account.errors)
        notes.extend(f"{name}: {n}" for n in account.notes)
        del value, account  # the parsed file is not needed once its roles are read (~50 MB at 5,000 roles)

    result: AuditResult = audit_roles(roles, baseline, now=datetime.now(UTC), complete=whole_accounts)
    result = replace(result, errors=tuple(file_errors) + result.errors, notes=tuple(notes) + result.notes)
    write_report(result, args.format, out, sources=list(args.files), color=args.color, locations=locations)
    if not out.isatty():
        out.flush()
    if result.errors:
        return EXIT_BAD_INPUT
    if args.fail_on is not None and at_or_above(result.findings, args.fail_on):
        return EXIT_FINDINGS
    return EXIT_OK


def _read_json(name: str) -> object:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not a JSON file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{name}: cannot read: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise InputError(f"{name}: not valid JSON: nested too deeply") from None


def _audit(args: argparse.Namespace, out: TextIO) -> int:
    import boto3

    from rolewatch.account_service import (
        AccountReadError,
        UnknownRolesError,
        audit_account,
        render_account_audit,
        write_rendered,
    )
    from rolewatch.audit import at_or_above
    from rolewatch.baseline import BaselineError, load_baseline
    from rolewatch.inventory.clients import make_clients

    try:
        baseline = load_baseline(args.baseline)
    except BaselineError as exc:
        raise InputError(str(exc)) from None
    except OSError as exc:
        raise InputError(f"{args.baseline}: cannot read: {exc.strerror or exc}") from None
    session = boto3.Session()
    clients = make_clients(session, region=args.region or session.region_name or "us-east-1")
    try:
        audit = audit_account(clients, baseline, role_names=args.roles, access_analyzer=not args.no_access_analyzer)
    except (AccountReadError, UnknownRolesError) as exc:
        raise InputError(str(exc)) from None
    if args.out:
        written = write_rendered(audit, args.out, [args.format, "json"])
        summary = audit.report()["summary"]
        out.write(
            f"rolewatch: account {audit.account_id}: {summary['roles']} roles audited, {summary['findings']} open "
            f"findings, {summary['errors']} errors; wrote {', '.join(str(p) for p in written.values())}\n"
        )
    else:
        out.write(render_account_audit(audit, args.format))
    out.flush()
    if audit.result.errors:
        return EXIT_BAD_INPUT
    if args.fail_on is not None and at_or_above(audit.result.findings, args.fail_on):
        return EXIT_FINDINGS
    return EXIT_OK
