"""`python -m rolewatch.demo --serve` (`make demo-serve`): the embedded AWS kept running for `sam local invoke`.

The demo's moto server, listening where SAM's Docker containers can reach it (all interfaces, a fixed
port), holds the stack's resources (KMS key, topic, bucket, idempotency table, a subscribed queue) and the
sample account. env.json is written as `rolewatch local-env` writes it for a deployed stack
(rolewatch.local_env, the same resolution of template.yaml), from this stack, with two overrides of declared
variables: AWS_ENDPOINT_URL, the server as a container sees it (`http://host.docker.internal:<port>` by
default), and ACCESS_ANALYZER=off (moto has no IAM Access Analyzer). samconfig.toml points `sam local
invoke` at env.json, so every event of events/ runs as the README shows, until Ctrl-C stops the server.

Credentials are not in env.json: SAM passes a container the invoking shell's credentials (or "defaultkey"
when there are none), never a value from --env-vars for them, and moto accepts any. The printed command
sets dummy ones so a real account's keys never reach the container.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from rolewatch.demo.account import REPO_ROOT, SeededAccount, load_sample, seed_account
from rolewatch.demo.console import Console
from rolewatch.demo.embedded_aws import EmbeddedAws, embedded_aws
from rolewatch.demo.resources import STACK, DemoResources, create_resources
from rolewatch.local_env import local_environments, write_env_file
from rolewatch.sam_template import StackResource, StackView, load_template

TEMPLATE = REPO_ROOT / "template.yaml"
DEFAULT_PORT = 5050
DEFAULT_BIND = "0.0.0.0"  # a container reaches the host through the Docker bridge, not its loopback
DEFAULT_HOST = "host.docker.internal"
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"
# Declared variables the embedded AWS needs changed, and why.
SERVE_OVERRIDES = {"ACCESS_ANALYZER": "off"}  # moto has no IAM Access Analyzer: its endpoint answers HTTP 500
# The permissions boundary events/iam-put-role-permissions-boundary.json names: it exists in the account
# that call was made in, so the account the events are replayed against has it too.
EVENT_BOUNDARY = (
    "workload-boundary",
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "s3:List*", "logs:*"],'
    ' "Resource": "*"}]}',
)
DUMMY_CREDENTIALS = "AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_SESSION_TOKEN="


@dataclass(frozen=True)
class Served:
    aws: EmbeddedAws
    resources: DemoResources
    account: SeededAccount
    env_file: Path
    container_endpoint: str
    environments: dict[str, dict[str, str]]


def embedded_stack(resources: DemoResources, template: dict[str, Any]) -> StackView:
    """The embedded resources as the stack they stand for: logical id -> type (from the template), physical id."""
    declared = template.get("Resources") or {}
    refs = {logical: ids["Ref"] for logical, ids in resources.physical_ids().items() if logical in declared}
    return StackView(
        name=STACK,
        region=resources.region,
        account_id=resources.account_id,
        resources={logical: StackResource(declared[logical]["Type"], ref) for logical, ref in refs.items()},
    )


@contextmanager
def serving(
    env_file: Path,
    *,
    port: int = DEFAULT_PORT,
    bind: str = DEFAULT_BIND,
    host: str = DEFAULT_HOST,
    template_path: Path = TEMPLATE,
) -> Iterator[Served]:
    """The seeded embedded AWS and env.json written for it, until the block ends (then the server stops)."""
    template = load_template(template_path)
    with embedded_aws(bind=bind, port=port) as aws:
        resources = create_resources(aws.region)
        account = seed_account(aws.region, load_sample())
        name, document = EVENT_BOUNDARY
        boto3.client("iam", region_name=aws.region).create_policy(PolicyName=name, PolicyDocument=document)
        container_endpoint = f"http://{host}:{aws.endpoint_url.rsplit(':', 1)[1]}"
        environments = local_environments(
            template,
            embedded_stack(resources, template),
            overrides={ENDPOINT_VARIABLE: container_endpoint, **SERVE_OVERRIDES},
        )
        write_env_file(env_file, environments)
        yield Served(aws, resources, account, env_file, container_endpoint, environments)


def serve(console: Console, env_file: Path, *, port: int, bind: str, host: str, stop: threading.Event) -> None:
    """Serve until `stop` is set or Ctrl-C."""
    with serving(env_file, port=port, bind=bind, host=host) as served:
        show(console, served, bind)
        with suppress(KeyboardInterrupt):
            stop.wait()
        console.line("rolewatch demo: embedded AWS stopped (its state was in memory only)")


def show(console: Console, served: Served, bind: str) -> None:
    local = served.aws.endpoint_url
    port = local.rsplit(":", 1)[1]
    console.title("rolewatch embedded AWS for `sam local invoke` (moto); Ctrl-C stops it")
    console.table(
        ("", ""),
        [
            ("listening on", f"{bind}:{port}"),
            ("from this machine", local),
            ("from SAM's containers", served.container_endpoint),
            ("account", f"{served.account.account_id}: the {len(served.account.roles)} roles of the sample account"),
            ("ReportTopic", served.resources.topic_arn),
            ("ReportBucket", served.resources.bucket),
            ("IdempotencyTable", served.resources.table),
            ("reports arrive in", served.resources.queue_url),
        ],
    )
    functions = ", ".join(served.environments)
    console.line()
    console.wrapped(f"Wrote {served.env_file} for {functions}; samconfig.toml makes `sam local invoke` read it.")
    console.line()
    console.line("In another terminal (Docker running):")
    console.line("  sam build")
    console.line(f"  {DUMMY_CREDENTIALS} sam local invoke EventAuditFunction -e events/iam-attach-role-policy.json")
    console.line(f"  {DUMMY_CREDENTIALS} sam local invoke AccountAuditFunction -e events/weekly-audit.json")
    console.line(
        f"  {DUMMY_CREDENTIALS} AWS_DEFAULT_REGION={served.resources.region} aws --endpoint-url {local} "
        f"sqs receive-message --queue-url {served.resources.queue_url}"
    )
    console.line()
    console.wrapped(
        "On Linux add `--add-host host.docker.internal:host-gateway` to `sam local invoke` (Docker 20.10+), or "
        "restart with `--host 172.17.0.1` (the docker0 bridge address)."
    )
