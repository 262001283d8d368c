"""Hypothesis strategies for generated event envelopes: CloudTrail via EventBridge, Access Analyzer
findings, direct invocations and arbitrary JSON, with watched call names and real field names mixed
with values of every JSON type (so the generated events reach every router and every field check)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

EVENTS = Path(__file__).resolve().parents[1] / "events"
REAL_EVENTS = [
    json.loads(path.read_text()) for path in sorted(EVENTS.glob("*.json")) if path.name != "weekly-audit.json"
]

json_scalar = st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.sampled_from(["", " ", "\ud800"])
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=8,
)
watched_name = st.sampled_from(
    ["CreateRole", "AttachRolePolicy", "PutRolePolicy", "CreatePolicyVersion", "AddRoleToInstanceProfile",
     "RunInstances", "ReplaceIamInstanceProfileAssociation", "DisassociateIamInstanceProfile", "DeleteRole"]
)  # fmt: skip
field_keys = st.sampled_from(
    ["roleName", "policyArn", "instanceProfileName", "iamInstanceProfile", "instancesSet", "items", "instanceId",
     "InstanceId", "IamInstanceProfile", "AssociationId", "setAsDefault", "arn", "name"]
)  # fmt: skip
params = st.dictionaries(field_keys, json_value | st.dictionaries(field_keys, json_value, max_size=3), max_size=4)
detail = st.fixed_dictionaries(
    {
        "eventName": watched_name | json_value,
        "eventSource": st.sampled_from(["iam.amazonaws.com", "ec2.amazonaws.com"]),
    },
    optional={
        "eventID": json_value,
        "errorCode": json_value,
        "userIdentity": json_value | st.fixed_dictionaries({}, optional={"arn": json_value, "type": json_value}),
        "requestParameters": params | json_value,
        "responseElements": params | json_value,
        "userAgent": json_value,
        "recipientAccountId": json_value | st.just("111122223333"),
        "awsRegion": json_value,
    },
)
cloudtrail_envelope = st.fixed_dictionaries(
    {"detail-type": st.just("AWS API Call via CloudTrail") | json_value, "detail": detail | json_value},
    optional={"id": json_value, "source": json_value, "account": json_value, "time": json_value},
)
analyzer_detail = st.fixed_dictionaries(
    {"resource": st.just("arn:aws:iam::111122223333:role/app") | json_value},
    optional={
        "resourceType": st.just("AWS::IAM::Role") | json_value,
        "status": st.just("ACTIVE") | json_value,
        "error": json_value,
        "id": json_value,
        "isDeleted": json_value,
    },
)
analyzer_envelope = st.fixed_dictionaries(
    {
        "source": st.just("aws.access-analyzer"),
        "detail-type": st.sampled_from(["Access Analyzer Finding", "Unused Access Finding for IAM entities"])
        | json_value,
        "detail": analyzer_detail | json_value,
    },
    optional={"resources": json_value, "account": json_value, "id": json_value, "region": json_value},
)
direct_payload = st.fixed_dictionaries(
    {},
    optional={"roles": json_value | st.lists(st.text(max_size=70), max_size=3), "instance_ids": json_value,
              "id": json_value, "account": json_value, "region": json_value, "mode": json_value},
)  # fmt: skip


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document (object keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*prefix, index))
    return found


@st.composite
def mutated_real_event(draw: st.DrawFn) -> Any:
    """One of the real sample events (events/), with one to three fields replaced or deleted."""
    event = copy.deepcopy(draw(st.sampled_from(REAL_EVENTS)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(event)
        if not paths:
            break
        *parent_path, last = draw(st.sampled_from(paths))
        parent = event
        for step in parent_path:
            parent = parent[step]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[last]
        else:
            parent[last] = draw(json_value)
    return event


any_event = mutated_real_event() | cloudtrail_envelope | analyzer_envelope | direct_payload | json_value
