"""Where moto 5.2 differs from AWS in a way the demo's story depends on, and the correction.

ReplaceIamInstanceProfileAssociation: AWS gives the instance a *new* association (new id) and keeps the
replaced one visible for a while in state "disassociated", still naming the old instance profile; that
is how an auditor learns which role the instance had before. moto reuses the association id and forgets
the old profile. The demo runs moto in this process, so after the real API call it puts the embedded
EC2's state where AWS would have it. Nothing else is touched.

The organization demo adds two: inline policies of roles made by CloudFormation, and AssumeRole of a
role that does not exist (store_inline_policies_as_text and assume_role_needs_the_role below).
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _ec2_backend(account_id: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends  # the embedded server's own state (same process)

    return ec2_backends[account_id][region]


def snapshot_association(account_id: str, region: str, instance_id: str) -> Any:
    """The instance's current association object, copied before a replace changes it."""
    return copy.copy(_ec2_backend(account_id, region).iam_instance_profile_associations[instance_id])


def settle_replacement(account_id: str, region: str, instance_id: str, replaced: Any) -> str:
    """After a replace: a fresh id for the live association, the replaced one kept as disassociated.

    Returns the new association id (what AWS returns in the call's response).
    """
    from moto.ec2.utils import random_iam_instance_profile_association_id

    backend = _ec2_backend(account_id, region)
    live = backend.iam_instance_profile_associations[instance_id]
    live.association_id = random_iam_instance_profile_association_id()
    backend.modify_instance_attribute(
        instance_id, "iam_instance_profile", {"Arn": live.iam_instance_profile.arn, "Id": live.association_id}
    )
    replaced.state = "disassociated"
    # Keyed apart from the instance id: moto keeps one live association per instance under that key.
    backend.iam_instance_profile_associations[f"{instance_id}/{replaced.association_id}"] = replaced
    return str(live.association_id)


def store_inline_policies_as_text(account_id: str) -> int:
    """moto 5.2's CloudFormation keeps a role's inline policy as an object where IAM keeps JSON text;
    its own GetAccountAuthorizationDetails then fails (HTTP 500: it URL-quotes the document) and
    GetRolePolicy returns a Python repr. The same documents, as JSON text. Returns how many."""
    from moto.iam.models import iam_backends

    fixed = 0
    for role in iam_backends[account_id]["aws"].roles.values():
        for name, document in list(role.policies.items()):
            if not isinstance(document, str):
                role.policies[name] = json.dumps(document)
                fixed += 1
    return fixed


# AssumeRole: AWS refuses to assume a role that does not exist (AccessDenied: it does not say whether the
# role is missing or its trust policy refuses the caller). moto 5.2 admits any role ARN, even of a deleted
# role ("the role does not need to exist"), so the organization demo's deleted reader role would still
# be read. While the organization demo runs, the embedded STS refuses a role its account does not hold,
# with AWS's wording for the caller.
@contextmanager
def assume_role_needs_the_role(caller_arn: str) -> Iterator[None]:
    from moto.iam.models import iam_backends
    from moto.sts.exceptions import STSClientError  # moto serialises its errors by the service's module
    from moto.sts.models import STSBackend

    original = STSBackend.assume_role

    def assume_role(self: Any, region_name: str, role_session_name: str, role_arn: str, *args: Any, **kw: Any) -> Any:
        parts = role_arn.split(":")
        partition, account_id = (parts[1], parts[4]) if len(parts) > 5 else ("aws", "")
        if not any(role.arn == role_arn for role in iam_backends[account_id][partition].get_roles()):
            raise STSClientError(
                "AccessDenied",
                f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            )
        return original(self, region_name, role_session_name, role_arn, *args, **kw)

    STSBackend.assume_role = assume_role  # type: ignore[method-assign]
    try:
        with warnings.catch_warnings():
            # moto's serializer notes that STS's model declares no AccessDenied shape (AWS sends it anyway).
            warnings.filterwarnings("ignore", message=r".*does not match an error shape", category=UserWarning)
            yield
    finally:
        STSBackend.assume_role = original  # type: ignore[method-assign]
