"""Progress of `rolewatch audit` on a terminal: IAM pages read, regions read, Access Analyzer calls, roles
audited. A large account reads for tens of seconds; without this the command says nothing until the end.

Shown with rich's live progress display on standard error, and only when standard error is a terminal
and `--quiet` is not given: a pipe, a file or a CI log gets nothing, and standard output (the report)
is the same byte for byte either way. The counts come from botocore's own events on the session
(`after-call`), registered before any client is made, so the readers that call AWS know nothing of it.
Imports nothing of rolewatch; rich is imported only when progress is shown (never in Lambda).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Protocol, TextIO


class Progress(Protocol):
    """What the audit reports as it goes."""

    def role_audited(self) -> None: ...

    def roles_total(self, total: int) -> None: ...


class Silent:
    """No progress: not a terminal, or --quiet."""

    def __enter__(self) -> Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def role_audited(self) -> None:
        return None

    def roles_total(self, total: int) -> None:
        return None


class TerminalProgress(AbstractContextManager["TerminalProgress"]):
    """Live counters on a terminal, fed by botocore events of `session` and by the audit itself."""

    def __init__(self, session: Any, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(file=stream, stderr=True),
            transient=True,
        )
        self._pages = self._bar.add_task("IAM pages read", total=None)
        self._regions = self._bar.add_task("EC2 regions read", total=None)
        self._analyzer = self._bar.add_task("Access Analyzer calls", total=None)
        self._roles = self._bar.add_task("roles audited", total=None)
        self._seen_regions: set[str] = set()
        session.events.register("after-call.iam.GetAccountAuthorizationDetails", self._on_page)
        session.events.register("after-call.ec2.DescribeIamInstanceProfileAssociations", self._on_region)
        session.events.register("after-call.accessanalyzer", self._on_analyzer)

    def __enter__(self) -> TerminalProgress:
        self._bar.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._bar.stop()

    def _on_page(self, **_: Any) -> None:
        self._bar.advance(self._pages)

    def _on_region(self, context: dict[str, Any] | None = None, **_: Any) -> None:
        region = str((context or {}).get("client_region") or "?")
        if region not in self._seen_regions:
            self._seen_regions.add(region)
            self._bar.advance(self._regions)
            self._bar.update(self._regions, description=f"EC2 regions read (last: {region})")

    def _on_analyzer(self, **_: Any) -> None:
        self._bar.advance(self._analyzer)

    def roles_total(self, total: int) -> None:
        self._bar.update(self._roles, total=total)

    def role_audited(self) -> None:
        self._bar.advance(self._roles)


def progress_for(session: Any, stream: TextIO, *, quiet: bool) -> Silent | TerminalProgress:
    """Progress on `stream` when it is a terminal and not `quiet`; otherwise nothing at all."""
    if quiet or not _is_terminal(stream):
        return Silent()
    return TerminalProgress(session, stream)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
