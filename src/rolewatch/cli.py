"""The `rolewatch` command: the same audit pipeline as the Lambda functions, from a terminal.

    rolewatch check FILE... [--baseline FILE] [--format json|text|markdown|sarif|ocsf|asff] [--fail-on SEVERITY]
                    [--region REGION]
    rolewatch audit [--role NAME ...] [--format text|json|markdown|sarif|ocsf|asff|html] [--out DIR] [--baseline FILE]
                    [--fail-on SEVERITY] [--region REGION] [--profile NAME] [--quiet] [--no-access-analyzer]
    rolewatch local-env [--stack-name NAME] [--region REGION] [--profile NAME] [--out env.json]

`audit` reads the live account (AWS credentials as the AWS CLI finds them; any endpoint in
AWS_ENDPOINT_URL, such as the moto server of `make demo`) and audits every role, or the named ones.
On a terminal it shows its progress on standard error (nothing with --quiet or when redirected).

Exit status: 0 clean (or nothing at or above --fail-on), 1 findings at or above --fail-on,
2 bad input (an unreadable file stops at once with one line; a malformed document inside a readable
file is listed in the report's errors while everything else is still audited).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from rolewatch.model import AuditResult, RoleSnapshot, Severity, SourceLocation

if TYPE_CHECKING:
    from rolewatch.account_service import AccountAudit

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2
FORMATS = ("text", "json", "markdown", "sarif", "ocsf", "asff")
FAIL_ON_HELP = f"exit 1 when a finding at or above this severity exists ({', '.join(s.value for s in Severity)})"


class InputError(Exception):
    """Input the command cannot use at all; the message is the one line the user sees."""


@dataclass(frozen=True)
class Command:
    """One subcommand: how it adds its arguments, and what runs it (exit status)."""

    add_parser: Callable[[argparse._SubParsersAction], argparse.ArgumentParser]
    run: Callable[[argparse.Namespace, TextIO], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rolewatch", description="Audit AWS IAM roles against least privilege.")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS.values():
        command.add_parser(sub)
    return parser


def _add_check_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
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
    check.add_argument("--region", help="Security Hub region of --format asff (default: configured, else us-east-1)")
    check.add_argument(
        "--fail-on",
        metavar="SEVERITY",
        type=_severity,
        help=FAIL_ON_HELP,
    )
    check.add_argument("--color", action="store_true", help="colour the text report")
    return check


def _add_audit_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
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
    audit.add_argument("--format", choices=tuple(ACCOUNT_FORMATS), default="text", help="output format (default: text)")
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
    audit.add_argument("--profile", help="use this named profile of the AWS CLI's config and credentials files")
    audit.add_argument(
        "--quiet", action="store_true", help="no progress on standard error (shown only when it is a terminal)"
    )
    return audit


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
        args.stderr = err  # where `audit` shows its progress
        return COMMANDS[args.command].run(args, out)
    except InputError as exc:
        print(f"rolewatch: {exc}", file=err)
        return EXIT_BAD_INPUT


def _add_local_env_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from rolewatch import local_env

    return local_env.add_parser(sub)


def _local_env(args: argparse.Namespace, out: TextIO) -> int:
    from rolewatch.local_env import LocalEnvError, run

    try:
        return run(args, out)
    except LocalEnvError as exc:
        raise InputError(str(exc)) from None


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

    with _long_lived_frozen():
        result: AuditResult = audit_roles(roles, baseline, now=datetime.now(UTC), complete=whole_accounts)
        result = replace(result, errors=tuple(file_errors) + result.errors, notes=tuple(notes) + result.notes)
        if args.format == "asff":
            out.write(_asff(result, args.region or _configured_region(), datetime.now(UTC), roles))
        else:
            write_report(result, args.format, out, sources=list(args.files), color=args.color, locations=locations)
    if not out.isatty():
        out.flush()
    if result.errors:
        return EXIT_BAD_INPUT
    if args.fail_on is not None and at_or_above(result.findings, args.fail_on):
        return EXIT_FINDINGS
    return EXIT_OK


@contextmanager
def _long_lived_frozen() -> Iterator[None]:
    """Keep the cyclic garbage collector's full passes off what lives for the whole run.

    The roles read, the action catalogue and the modules live until the audit ends; every full pass of
    the collector would walk them again (eight passes, some 20 % of a 5,000-role check). Frozen, they
    are skipped; they are still freed as usual when nothing refers to them, and unfrozen afterwards,
    so a caller that runs the CLI in-process (the tests) keeps its collector as it was."""
    from rolewatch.policy.catalogue import catalogue

    catalogue()  # loaded now, frozen with the rest
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _read_json(name: str) -> object:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not a JSON file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{name}: cannot read: {exc}") from None
    collecting = gc.isenabled()
    gc.disable()  # parsed JSON holds no reference cycles: a collection during the parse finds nothing
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise InputError(f"{name}: not valid JSON: nested too deeply") from None
    finally:
        if collecting:
            gc.enable()


def _audit(args: argparse.Namespace, out: TextIO) -> int:
    import boto3
    from botocore.exceptions import ProfileNotFound

    from rolewatch.account_service import AccountReadError, UnknownRolesError, audit_account
    from rolewatch.audit import at_or_above
    from rolewatch.baseline import BaselineError, load_baseline
    from rolewatch.inventory.clients import make_clients
    from rolewatch.progress import progress_for

    try:
        baseline = load_baseline(args.baseline)
    except BaselineError as exc:
        raise InputError(str(exc)) from None
    except OSError as exc:
        raise InputError(f"{args.baseline}: cannot read: {exc.strerror or exc}") from None
    try:
        session = boto3.Session(profile_name=args.profile)
    except ProfileNotFound as exc:
        raise InputError(str(exc)) from None
    # Registered on the session before any client exists, so every client (each region's) reports to it.
    progress = progress_for(session, getattr(args, "stderr", sys.stderr), quiet=args.quiet)
    clients = make_clients(session, region=args.region or session.region_name or "us-east-1")
    try:
        with progress:
            audit = audit_account(
                clients,
                baseline,
                role_names=args.roles,
                access_analyzer=not args.no_access_analyzer,
                progress=progress,
            )
    except (AccountReadError, UnknownRolesError) as exc:
        raise InputError(str(exc)) from None
    if args.out:
        written = write_account_reports(audit, args.out, [args.format, "json"])
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


# -- the account audit's reports: one entry per format --------------------------------------------------


@dataclass(frozen=True)
class AccountFormat:
    """A format of `rolewatch audit`: the file `--out` writes, and the renderer."""

    file_name: str
    render: Callable[[AccountAudit], str]


def _account_json(audit: AccountAudit) -> str:
    """rolewatch.report/v1 with the account section and api_calls."""
    return json.dumps(audit.report(), indent=2, ensure_ascii=False) + "\n"


def _account_html(audit: AccountAudit) -> str:
    from rolewatch.report.render_html import HtmlContext, render_html

    context = HtmlContext(
        title="rolewatch account audit",
        account_id=audit.account_id,
        generated_at=audit.generated_at,
        not_read=audit.not_read,
        api_calls=audit.api_calls,
    )
    return render_html(audit.result, context)


def _asff(result: AuditResult, region: str | None, now: datetime, roles: Sequence[RoleSnapshot]) -> str:
    """`--format asff`: the open findings as BatchImportFindings' `{"Findings": [...]}`."""
    from rolewatch.report.render_asff import render_asff

    return render_asff(result.findings, region=region or "us-east-1", now=now, roles={r.arn: r for r in roles})


def _configured_region() -> str:
    """The region the AWS CLI v2 would use (AWS_REGION, AWS_DEFAULT_REGION, the profile's config), else
    us-east-1. Offline."""
    import botocore.session
    from botocore.exceptions import ProfileNotFound

    try:
        return os.environ.get("AWS_REGION") or botocore.session.Session().get_config_variable("region") or "us-east-1"
    except ProfileNotFound as exc:
        raise InputError(f"--format asff needs a region: {exc}; give --region") from None


def _account_asff(audit: AccountAudit) -> str:
    """The open findings as Security Hub imports them, for the region the audit ran from."""
    return _asff(audit.result, audit.region, audit.generated_at, audit.inventory.roles)


def _account_report(audit: AccountAudit, fmt: str) -> str:
    """Any format of rolewatch.report.render, the account as its source."""
    from rolewatch.account_service import SOURCE
    from rolewatch.report import render

    return render(audit.result, fmt, sources=[f"{SOURCE}:{audit.account_id}"], generated_at=audit.generated_at)


ACCOUNT_FORMATS: dict[str, AccountFormat] = {
    "text": AccountFormat("report.txt", partial(_account_report, fmt="text")),
    "json": AccountFormat("report.json", _account_json),
    "markdown": AccountFormat("report.md", partial(_account_report, fmt="markdown")),
    "sarif": AccountFormat("report.sarif", partial(_account_report, fmt="sarif")),
    "ocsf": AccountFormat("report.ocsf.json", partial(_account_report, fmt="ocsf")),
    "asff": AccountFormat("report.asff.json", _account_asff),
    "html": AccountFormat("report.html", _account_html),
}


def render_account_audit(audit: AccountAudit, fmt: str) -> str:
    """The account audit in one of `ACCOUNT_FORMATS` (the benchmark renders through this too)."""
    return ACCOUNT_FORMATS[fmt].render(audit)


def write_account_reports(audit: AccountAudit, out_dir: str | Path, formats: Sequence[str]) -> dict[str, Path]:
    """Each format once, as its file in `out_dir` (created); returns {format: path}."""
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for fmt in dict.fromkeys(formats):
        path = directory / ACCOUNT_FORMATS[fmt].file_name
        path.write_text(render_account_audit(audit, fmt), encoding="utf-8")
        written[fmt] = path
    return written


# Each subcommand once; a new subcommand is one entry here and its two functions above.
COMMANDS: dict[str, Command] = {
    "check": Command(_add_check_parser, _check),
    "audit": Command(_add_audit_parser, _audit),
    "local-env": Command(_add_local_env_parser, _local_env),
}
