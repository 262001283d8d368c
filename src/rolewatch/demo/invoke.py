"""Invoking a Lambda handler in this process the way the Lambda runtime does: event, context, environment.

The handler module is imported only after the function's environment is set, because it reads its
configuration at cold start. Its logs are routed into a buffer (shown with --verbose), so the reader
sees reports, not log lines.
"""

from __future__ import annotations

import importlib
import io
import logging
import time
import uuid
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[Any, Any], Any]


@dataclass
class LambdaContext:
    """The attributes of the Lambda runtime's context object that handlers and Powertools read."""

    function_name: str
    region: str
    account_id: str
    memory_limit_in_mb: int = 512
    timeout_seconds: float = 60.0
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"{time.strftime('%Y/%m/%d')}/[$LATEST]{self.aws_request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


def load_handler(dotted: str) -> Handler:
    """`package.module.function` as template.yaml's Handler names it."""
    module_name, _, function = dotted.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, function)  # type: ignore[no-any-return]


class LogSink:
    """Collects what the function logs; routes the service logger's handlers into it."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def capture(self, logger_name: str) -> None:
        for handler in logging.getLogger(logger_name).handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(self.buffer)

    def take(self) -> str:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text


@dataclass(frozen=True)
class Invocation:
    response: Any
    error: BaseException | None
    seconds: float
    output: str  # what the function printed or logged


def invoke(handler: Handler, event: Any, context: LambdaContext, sink: LogSink) -> Invocation:
    """One invocation; an exception is returned, as the runtime would report it, not raised."""
    printed = io.StringIO()
    started = time.perf_counter()
    response: Any = None
    error: BaseException | None = None
    with redirect_stdout(printed):
        try:
            response = handler(event, context)
        except Exception as exc:  # the runtime reports any error; the demo shows it and fails
            error = exc
    return Invocation(response, error, time.perf_counter() - started, sink.take() + printed.getvalue())
