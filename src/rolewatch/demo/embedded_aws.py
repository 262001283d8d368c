"""An embedded AWS for the demo: a moto server in this process, on a free loopback port.

boto3 is pointed at it through the standard `AWS_ENDPOINT_URL` with fake credentials, so every client
the Lambda handler creates talks to moto without any patching. AWS-managed policies are loaded, as in
a real account; moto reads `MOTO_IAM_LOAD_MANAGED_POLICIES` when it creates an account's IAM backend, so
the variable is set first and the server's state is reset before the first request (a backend created
earlier in this process would lack them), and the result is checked.
"""

from __future__ import annotations

import logging
import os
import socket
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import boto3
from botocore.exceptions import ClientError

REGION = "us-east-1"  # IAM's CloudTrail events reach EventBridge only here
ACCOUNT_ID = "123456789012"  # moto's default account, the one examples/sample-account.json describes
LOOPBACK = "127.0.0.1"
PROBE_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"

# What boto3 needs to talk to the embedded server and nothing else: fake credentials, a fixed region,
# no shared config or profile that could send a call to a real account.
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "demo",
    "AWS_SECRET_ACCESS_KEY": "demo",
    "AWS_SESSION_TOKEN": "demo",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
_UNSET = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")
MOTO_SETTINGS = {
    # AWS-managed policies exist in every real account; the demo attaches them.
    "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
    # moto loads ~1,300 public AMIs into each region's EC2 backend as it is first used; the weekly audit
    # reads every region, and the demo launches from a fixed image id, so skipping them saves seconds.
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}


class EmbeddedAwsError(RuntimeError):
    """The embedded AWS could not be started or is not what the demo needs."""


@dataclass(frozen=True)
class EmbeddedAws:
    endpoint_url: str
    region: str = REGION
    account_id: str = ACCOUNT_ID


@contextmanager
def environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) environment variables for the duration, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def quiet_server_logs() -> None:
    """The server logs one line per request; the demo's reader wants none of them."""
    for name in ("werkzeug", "moto", "botocore.credentials"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextmanager
def embedded_aws(*, bind: str = LOOPBACK, port: int = 0) -> Iterator[EmbeddedAws]:
    """A running moto server with AWS-managed policies, and boto3 pointed at it, until the block ends.

    `bind` and `port` are where the server listens (default: a free loopback port); this process always
    reaches it on the loopback address. `--serve` binds wider so that SAM's containers reach it too.
    """
    if port:
        _check_free(bind, port)
    with environment(MOTO_SETTINGS):
        from moto.server import ThreadedMotoServer  # dev dependency: imported only when the demo runs

        quiet_server_logs()
        server = ThreadedMotoServer(ip_address=bind, port=port, verbose=False)
        server.start()
        try:
            _, bound = server.get_host_and_port()
            aws = EmbeddedAws(endpoint_url=f"http://{LOOPBACK}:{bound}")
            _reset(aws.endpoint_url)
            pointed = {
                "AWS_ENDPOINT_URL": aws.endpoint_url,
                **_FAKE_CREDENTIALS,
                **dict.fromkeys(_UNSET),
                # A proxy configured for the internet must not carry calls to a loopback server.
                "NO_PROXY": _no_proxy(os.environ.get("NO_PROXY")),
                "no_proxy": _no_proxy(os.environ.get("no_proxy")),
            }
            with environment(pointed):
                verify_managed_policies()
                yield aws
        finally:
            server.stop()


def _check_free(bind: str, port: int) -> None:
    """moto's server thread would wait forever for a port it cannot bind: refuse a busy one first."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((bind, port))
        except OSError as exc:
            reason = exc.strerror or exc
            raise EmbeddedAwsError(f"cannot listen on {bind}:{port}: {reason} (choose another --port)") from None


def _no_proxy(current: str | None) -> str:
    return ",".join(filter(None, [current, "127.0.0.1", "localhost"]))


def _reset(endpoint_url: str) -> None:
    """Drop every backend, so the IAM backend is created anew with the managed-policy flag set."""
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST", data=b"")
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    with direct.open(request, timeout=10) as response:
        if response.status != 200:
            raise EmbeddedAwsError(f"resetting the embedded AWS failed: HTTP {response.status}")


def verify_managed_policies() -> None:
    """AWS-managed policies must exist, as in a real account: the demo attaches them."""
    try:
        boto3.client("iam").get_policy(PolicyArn=PROBE_POLICY_ARN)
    except ClientError as exc:
        raise EmbeddedAwsError(
            f"the embedded IAM has no AWS-managed policies ({PROBE_POLICY_ARN}: {exc}); "
            "MOTO_IAM_LOAD_MANAGED_POLICIES=true was not in effect when the IAM backend was created"
        ) from exc
