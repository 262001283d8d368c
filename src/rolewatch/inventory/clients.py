"""A small boto3 client factory: clients are made on first use, never at import time.

Handlers create one `AwsClients` per cold start and pass it down, so tests (moto) need no patching
and a module import never touches AWS. The endpoint comes from botocore's standard configuration
(`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`), which is how `make demo` points everything at a
local moto server. Every client counts its API calls so benchmarks can report calls per event.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config

# Standard mode retries throttling and transient errors with jittered exponential backoff and a retry
# quota. botocore's "max_attempts" counts retries: up to 5 after the first try rides out IAM's low
# per-account request rate during bursts of CloudTrail events.
RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, user_agent_extra="rolewatch")


@dataclass
class CallCounter:
    """API calls made, keyed "service:Operation" (the IAM action name), plus HTTP attempts with retries."""

    calls: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)

    def total(self, service: str | None = None) -> int:
        return sum(n for key, n in self.calls.items() if service is None or key.startswith(f"{service}:"))

    def by_service(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for key, n in self.calls.items():
            out[key.split(":", 1)[0]] += n
        return dict(out)

    def operations(self) -> frozenset[str]:
        return frozenset(self.calls)

    def reset(self) -> None:
        self.calls.clear()
        self.attempts.clear()


class AwsClients:
    """Lazily created boto3 clients sharing one session, one retry config and one call counter."""

    def __init__(self, session: boto3.Session | None = None, region: str | None = None) -> None:
        self._session = session or boto3.Session()
        self._region = region
        self._clients: dict[str, BaseClient] = {}
        self.counter = CallCounter()

    @property
    def region(self) -> str | None:
        return self._region or self._session.region_name

    def client(self, service: str) -> BaseClient:
        if service not in self._clients:
            made = self._session.client(service, region_name=self._region, config=RETRY_CONFIG)
            self._count_calls(made)
            self._clients[service] = made
        return self._clients[service]

    def _count_calls(self, client: BaseClient) -> None:
        prefix = client.meta.service_model.signing_name

        # "before-call" fires once per API call, "before-send" once per HTTP attempt (retries included).
        def on_call(model: Any, **_: Any) -> None:
            self.counter.calls[f"{prefix}:{model.name}"] += 1

        def on_send(**_: Any) -> None:
            self.counter.attempts[prefix] += 1

        client.meta.events.register("before-call", on_call)
        client.meta.events.register("before-send", on_send)

    @property
    def iam(self) -> Any:
        return self.client("iam")

    @property
    def ec2(self) -> Any:
        return self.client("ec2")

    @property
    def sns(self) -> Any:
        return self.client("sns")

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @property
    def sts(self) -> Any:
        return self.client("sts")

    @property
    def accessanalyzer(self) -> Any:
        return self.client("accessanalyzer")


def make_clients(session: boto3.Session | None = None, region: str | None = None) -> AwsClients:
    """The clients for one Lambda container (or one CLI run); nothing is created until first use."""
    return AwsClients(session=session, region=region)
