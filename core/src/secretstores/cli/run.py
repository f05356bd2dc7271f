"""The run command: a program with secrets in its environment."""

from __future__ import annotations

import os
import subprocess
import sys

import click

from secretstores.cli import Options, main, pass_options
from secretstores.cli.files import read_template
from secretstores.errors import SecretStoresError


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--env-file", metavar="TEMPLATE",
              help="A dotenv template (KEY=value lines); each becomes a variable.")
@click.option("-e", "--env", "variables", multiple=True, metavar="NAME=TEMPLATE",
              help="One variable whose value is a template (repeatable).")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@pass_options
def run(options: Options, env_file: str | None, variables: tuple[str, ...],
        command: tuple[str, ...]) -> None:
    """Run COMMAND with secrets in its environment (the child's only).

        secretstores run --env-file app.env.j2 -- ./server --port 8080
    """
    stores = options.stores()
    environment = dict(os.environ)
    if env_file:
        source, name = read_template(env_file)
        environment.update(stores.render_env(source, name=name))
    if variables:
        templates: dict[str, str] = {}
        for item in variables:
            key, sep, value = item.partition("=")
            if not sep or not key.isidentifier():
                raise SecretStoresError(f"--env {key!r}: expected NAME=TEMPLATE")
            templates[key] = value
        environment.update(stores.render_data(templates, name="--env"))
    try:
        completed = subprocess.run(list(command), env=environment, check=False)
    except OSError as exc:
        raise SecretStoresError(f"cannot run {command[0]}: {exc.strerror}") from None
    sys.exit(completed.returncode)
