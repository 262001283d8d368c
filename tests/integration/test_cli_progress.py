"""`rolewatch audit` on a terminal and off it: progress on standard error only when it is a terminal (a
pty here) and not --quiet; standard output, the report, is the same byte for byte; `--profile` reads the
AWS CLI's named profile (here one whose endpoint is a moto server, so only that profile reaches it)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    iam = boto3.client(
        "iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    for i in range(3):
        iam.create_role(RoleName=f"role-{i}", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="role-0", PolicyName="admin", PolicyDocument=json.dumps(ADMIN))
    iam.create_instance_profile(InstanceProfileName="web")  # with an instance profile, EC2 is read per region
    iam.add_role_to_instance_profile(InstanceProfileName="web", RoleName="role-1")
    yield url
    server.stop()


@pytest.fixture(scope="module")
def profile_env(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment where only the profile `audit` knows credentials, region and the endpoint."""
    folder = tmp_path_factory.mktemp("aws")
    (folder / "config").write_text(f"[profile audit]\nregion = us-east-1\nendpoint_url = {endpoint}\n")
    (folder / "credentials").write_text("[audit]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    keep = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {
        **keep,
        "AWS_CONFIG_FILE": str(folder / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(folder / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONPATH": str(ROOT / "src"),
        "COLUMNS": "100",
        "TERM": "xterm-256color",
    }


ARGS = ["audit", "--profile", "audit", "--format", "json", "--no-access-analyzer", "--region", "us-east-1"]


def run(env: dict[str, str], *extra: str, stderr_tty: bool) -> tuple[int, bytes, bytes]:
    """The command with stdout on a pipe and stderr on a pty (a terminal) or a pipe."""
    argv = [sys.executable, "-m", "rolewatch", *ARGS, *extra]
    if not stderr_tty:
        proc = subprocess.run(argv, env=env, capture_output=True, timeout=120, check=False)
        return proc.returncode, proc.stdout, proc.stderr
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    err = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        err += chunk
    out = proc.stdout.read() if proc.stdout else b""
    code = proc.wait(timeout=120)
    os.close(leader)
    return code, out, err


def report_without_time(out: bytes) -> dict:
    report = json.loads(out)
    report.pop("generated_at")
    return report


def test_progress_only_on_a_terminal_and_the_report_unchanged(profile_env: dict[str, str]) -> None:
    code_tty, out_tty, err_tty = run(profile_env, stderr_tty=True)
    code_pipe, out_pipe, err_pipe = run(profile_env, stderr_tty=False)
    code_quiet, out_quiet, err_quiet = run(profile_env, "--quiet", stderr_tty=True)

    assert code_tty == code_pipe == code_quiet == 0
    assert report_without_time(out_tty) == report_without_time(out_pipe) == report_without_time(out_quiet)
    # >= : the moto server shares the worker's in-process backends, where another test may have left a role.
    assert report_without_time(out_pipe)["summary"]["roles"] >= 3
    assert b"\x1b" not in out_tty  # nothing of the display leaks into the report
    shown = err_tty.decode("utf-8", "replace")
    assert "IAM pages read" in shown and "roles audited" in shown and "EC2 regions read (last: " in shown
    assert report_without_time(out_pipe)["account"]["regions"]  # the display counted real regional reads
    assert err_pipe == b""
    assert err_quiet == b""


def test_an_unknown_profile_is_bad_input(profile_env: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rolewatch", "audit", "--profile", "nope"],
        env=profile_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == "rolewatch: The config profile (nope) could not be found"
