"""The SAM transform, run offline with AWS's own translator (aws-sam-translator).

SAM writes a function's role from its `Policies` (managed policy names or ARNs, SAM policy templates
such as `S3CrudPolicy`, inline statements); only the translator knows what each template expands to,
so it runs here exactly as CloudFormation's transform would. It is kept from AWS: the region comes from
a stand-in session (placeholders.REGION; the translator would otherwise ask boto3), and managed policy
names resolve from the shipped snapshot instead of `iam:ListPolicies`. Local code paths (`CodeUri: src/`)
are rewritten to the S3 URIs `sam package` would give, which the translator insists on and IAM ignores.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

from rolewatch.iac.managed_policies import snapshot
from rolewatch.iac.placeholders import PSEUDO_PARAMETERS, REGION

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"


class SamError(ValueError):
    """The translator rejected the template; `messages` lists each reason it gave."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


class _OfflineSession:
    """All the translator reads of a boto3 session: its region."""

    region_name = REGION


def translate(template: dict[str, Any], parameters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The CloudFormation template the SAM transform gives; raises SamError with the translator's reasons."""
    from samtranslator.model.exceptions import InvalidDocumentException, InvalidResourceException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    managed = snapshot().name_to_arn()
    # The translator records metrics for a publisher that sends nothing, then warns at exit that they were
    # never sent: that warning would be the only line on stderr, so its logger keeps to errors.
    logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)
    translator = Translator(
        managed_policy_map=None,
        sam_parser=Parser(),
        boto_session=_OfflineSession(),  # type: ignore[arg-type]
    )
    values = {k: v for k, v in PSEUDO_PARAMETERS.items() if isinstance(v, str)} | dict(parameters or {})
    try:
        return translator.translate(_packaged(template), values, get_managed_policy_map=lambda: managed)
    except InvalidDocumentException as exc:
        raise SamError([str(cause.message) for cause in exc.causes] or [str(exc)]) from None
    except InvalidResourceException as exc:
        raise SamError([str(exc.message)]) from None


# (resource type, property) whose local path `sam package` uploads and replaces by an S3 URI.
_PACKAGED = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::Api": "DefinitionUri",
    "AWS::Serverless::HttpApi": "DefinitionUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
}


def _packaged(template: dict[str, Any]) -> dict[str, Any]:
    packaged = copy.deepcopy(template)
    places = [
        (r.get("Type"), r.get("Properties")) for r in (packaged.get("Resources") or {}).values() if isinstance(r, dict)
    ]
    globals_ = packaged.get("Globals")
    if isinstance(globals_, dict):
        places.append(("AWS::Serverless::Function", globals_.get("Function")))
    for rtype, props in places:
        prop = _PACKAGED.get(str(rtype))
        if prop and isinstance(props, dict) and isinstance(props.get(prop), str) and "://" not in props[prop]:
            props[prop] = f"s3://packaged/{props[prop].strip('/') or 'code'}"
    return packaged
