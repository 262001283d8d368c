"""Run by .venv-sam/bin/python: the environment `sam local invoke` gives each function, by SAM CLI's own code.

    python sam_resolved_environment.py PROJECT_DIR [--no-env-vars]

Prints JSON {"samconfig_env_vars": samconfig's env_vars, "env_vars": the file used or null,
"functions": {logical id: {variable: value}}}. The steps are
InvokeContext's (samcli/commands/local/cli_common/invoke_context.py) up to the container, which needs
Docker: the `local_invoke` section of PROJECT_DIR/samconfig.toml gives --env-vars and the region as the
command reads them; SamLocalStackProvider reads template.yaml (parameters to defaults, the region as the
global override); SamFunctionProvider resolves each function (Globals merged, intrinsics to SAM's
placeholders); InvokeContext._get_env_vars_value reads the file; LocalLambdaRunner._make_env_vars and
EnvironmentVariables.resolve give what the container's environment holds (the shell's credentials, the
template's variables, env.json's overrides of them). --no-env-vars leaves the file out, as a run without
samconfig's env_vars or --env-vars would.

Imports nothing of rolewatch: it runs in SAM CLI's virtualenv, with its own boto3.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from samcli.commands.local.cli_common.invoke_context import InvokeContext
from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
from samcli.lib.config.samconfig import SamConfig
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider


def main(argv: list[str]) -> int:
    project = Path(argv[0])
    parameters = SamConfig(str(project), "samconfig.toml").get_all(["local", "invoke"], "parameters", "default")
    region = parameters.get("region")
    configured = parameters.get("env_vars")
    env_vars = None if "--no-env-vars" in argv else configured
    env_file = str(project / env_vars) if env_vars else None
    stacks, _ = SamLocalStackProvider.get_stacks(
        str(project / "template.yaml"),
        parameter_overrides=None,
        global_parameter_overrides={"AWS::Region": region} if region else None,
    )
    provider = SamFunctionProvider(stacks)
    runner = LocalLambdaRunner(
        local_runtime=None,  # the container runtime (Docker): not needed to compute the environment
        function_provider=provider,
        cwd=str(project),
        real_path=str(project),
        aws_region=region,
        env_vars_values=InvokeContext._get_env_vars_value(env_file),
    )
    functions = {function.name: runner._make_env_vars(function).resolve() for function in provider.get_all()}
    print(json.dumps({"samconfig_env_vars": configured, "env_vars": env_vars, "functions": functions}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
