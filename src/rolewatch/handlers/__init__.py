"""Lambda entry points, one module per trigger kind. They parse, call the service layer and return.

Shared here: the Tracer, created only where traces can be sent. Powertools' Tracer imports the X-Ray
SDK (about 0.2 s here, up to 0.5 s on a cold Lambda) even when tracing is disabled; outside Lambda
(tests, the CLI, the demo) or with POWERTOOLS_TRACE_DISABLED=true, no Tracer is made at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_TRUE = {"1", "true", "yes", "on"}


def tracing_wanted(environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    if env.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in _TRUE:
        return False
    # AWS_SAM_LOCAL: `sam local invoke` has no X-Ray daemon, Powertools would disable itself there anyway.
    return bool(env.get("AWS_LAMBDA_FUNCTION_NAME")) and not env.get("AWS_SAM_LOCAL")


def traced_handler(handler: F) -> F:
    """The handler wrapped by Powertools' Tracer when tracing is wanted, else unchanged."""
    if not tracing_wanted():
        return handler
    from aws_lambda_powertools import Tracer  # deferred: the X-Ray SDK import is the expensive part

    return Tracer().capture_lambda_handler(handler)
