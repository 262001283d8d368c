"""Infrastructure as code into role snapshots: `rolewatch check` on a template before the role exists.

A CloudFormation or SAM template (YAML or JSON) or a Terraform plan (`terraform show -json`) becomes the
`RoleSnapshot`s its roles would have once deployed, audited by the same engine as an account file. Each
role keeps where it is written (file, logical id or Terraform address, line) for SARIF annotations.

Pure: no AWS call. SAM runs through AWS's translator offline; AWS managed policies come from a dated
snapshot in the package. What the input cannot tell before deployment is a visible placeholder
(placeholders.py). Input that cannot be read at all raises `IacInputError` (one line); a part that cannot
be read (a policy with an unknown intrinsic, a macro Transform) is an error in the result while every
other role is still audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rolewatch.iac.result import IacFile, IacInputError

TEMPLATE_SUFFIXES = (".yaml", ".yml", ".template", ".cfn")


def iac_kind(name: str, value: Any = None) -> str | None:
    """ "cloudformation" or "terraform-plan" when the input is infrastructure as code, else None.

    By extension first (a YAML file is a template: it is never read as JSON), then, for parsed JSON,
    by content: a plan has `terraform_version` and planned values; a template has `Resources` or
    `AWSTemplateFormatVersion` (authorization details and policy documents have neither)."""
    if Path(name).suffix.lower() in TEMPLATE_SUFFIXES:
        return "cloudformation"
    if not isinstance(value, dict):
        return None
    if "terraform_version" in value or ("format_version" in value and "resource_changes" in value):
        return "terraform-plan"
    if "AWSTemplateFormatVersion" in value or isinstance(value.get("Resources"), dict):
        return "cloudformation"
    return None


def read_iac(name: str, kind: str, text: str | None = None, parameters: Mapping[str, Any] | None = None) -> IacFile:
    """Read one template or plan (`text`, or the file `name`); raises IacInputError for unusable input.
    `parameters` overrides a template's parameter values (as a deployment would pass them)."""
    if text is None:
        text = _read_text(name)
    if kind == "terraform-plan":
        from rolewatch.iac.terraform import read_plan

        return read_plan(text, name)
    from rolewatch.iac.cloudformation import read_template

    return read_template(text, name, parameters)


def _read_text(name: str) -> str:
    try:
        return Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise IacInputError("no such file") from None
    except IsADirectoryError:
        raise IacInputError("is a directory, not a template") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IacInputError(f"cannot read: {exc}") from None


__all__ = ["IacFile", "IacInputError", "iac_kind", "read_iac"]
