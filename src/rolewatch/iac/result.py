"""What reading one template or plan gives, and the error for input that cannot be used at all."""

from __future__ import annotations

from dataclasses import dataclass, field

from rolewatch.model import AuditError, RoleSnapshot, SourceLocation


class IacInputError(ValueError):
    """Input that is not usable at all; the message is the one line the user sees (without the file name)."""


@dataclass
class IacFile:
    """The roles of one template or plan, the errors with their locations, notes for the report, and where
    each role (and each error's resource) is written."""

    roles: list[RoleSnapshot] = field(default_factory=list)
    errors: list[AuditError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    locations: dict[str, SourceLocation] = field(default_factory=dict)
    kind: str = "cloudformation"  # or "terraform-plan"


def roles_read(read: IacFile, most: int = 10) -> str:
    """The report note that says where each audited role is written: `name (line N)`, in file order."""
    placed = sorted(
        (read.locations[r.arn] for r in read.roles if r.arn in read.locations), key=lambda loc: (loc.line, loc.name)
    )
    shown = ", ".join(f"{loc.name} (line {loc.line})" for loc in placed[:most])
    more = f" and {len(placed) - most} more" if len(placed) > most else ""
    return f"{len(read.roles)} role(s) read: {shown}{more}"
