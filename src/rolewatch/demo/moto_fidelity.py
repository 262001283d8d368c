"""Where moto 5.2 differs from AWS in a way the demo's story depends on, and the correction.

ReplaceIamInstanceProfileAssociation: AWS gives the instance a *new* association (new id) and keeps the
replaced one visible for a while in state "disassociated", still naming the old instance profile; that
is how an auditor learns which role the instance had before. moto reuses the association id and forgets
the old profile. The demo runs moto in this process, so after the real API call it puts the embedded
EC2's state where AWS would have it. Nothing else is touched.
"""

from __future__ import annotations

import copy
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
