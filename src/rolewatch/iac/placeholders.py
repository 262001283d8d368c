"""The values a template leaves open before deployment, and how they read in the audited roles.

Pseudo parameters become fixed, recognisable stand-ins (account 000000000000, region `region`, stack
`stack`) that still parse where IAM needs a shape (a 12-digit account in a principal ARN, the `aws`
partition). Anything else the template cannot tell (a parameter without a default, an attribute known
only once the resource exists, an imported value) becomes `UNRESOLVED(<what>)`: a literal that contains
no `*` or `?`, so it never widens a scoped resource into a wildcard, and keeps the text around it, so a
real `*` next to it (`arn:aws:s3:::UNRESOLVED(Ref.Bucket)/*`) is still audited as written.
"""

from __future__ import annotations

import re

ACCOUNT = "000000000000"
REGION = "region"
PARTITION = "aws"
STACK = "stack"
URL_SUFFIX = "amazonaws.com"

PSEUDO_PARAMETERS: dict[str, object] = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": PARTITION,
    "AWS::StackName": STACK,
    "AWS::StackId": f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/placeholder",
    "AWS::URLSuffix": URL_SUFFIX,
    "AWS::NotificationARNs": [],
}

PLACEHOLDER_PREFIX = "UNRESOLVED("
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def unresolved(what: str) -> str:
    """The placeholder for a value the template cannot tell; `what` says where it would come from."""
    return f"{PLACEHOLDER_PREFIX}{_UNSAFE.sub('_', what)})"


def has_placeholder(value: object) -> bool:
    return PLACEHOLDER_PREFIX in str(value)


def describe_pseudo() -> str:
    """One line for the report's notes: what the pseudo parameters stand for."""
    return (
        f"pseudo parameters stand for account {ACCOUNT}, region {REGION!r}, stack {STACK!r}; "
        f"values a template leaves open read {PLACEHOLDER_PREFIX}...) and never as a wildcard"
    )
