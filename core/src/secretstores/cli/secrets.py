"""Commands that read, write and render secrets: render, get, put, delete, list, refs, run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import click

from secretstores.cli import Options, main, pass_options
from secretstores.errors import SecretStoresError


def _read_template(path: str) -> tuple[str, str]:
    if path == "-":
        data, name = sys.stdin.buffer.read(), "<stdin>"
    else:
        try:
            with open(path, "rb") as handle:
                data, name = handle.read(), path
        except OSError as exc:
            raise SecretStoresError(f"cannot read template {path}: "
                                    f"{exc.strerror or type(exc).__name__}") from None
    try:
        return data.decode("utf-8"), name
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 text (byte {exc.start})"
    raise SecretStoresError(f"cannot read template {name}: {reason}")


def _write(text: str, output: str) -> None:
    if output == "-":
        click.echo(text, nl=False)
        return
    # the rendered file holds secrets: create it readable by its owner only
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
    else:
        return
    raise SecretStoresError(f"cannot write {output}: {reason}")


@main.command()
@click.argument("template")
@click.option("-o", "--output", default="-", metavar="OUT",
              help="Write here (mode 0600) instead of stdout ('-').")
@pass_options
def render(options: Options, template: str, output: str) -> None:
    """Render TEMPLATE ('-' for stdin) with its secrets."""
    source, name = _read_template(template)
    _write(options.stores().render_string(source, name=name), output)


@main.command()
@click.argument("store")
@click.argument("reference")
@pass_options
def get(options: Options, store: str, reference: str) -> None:
    """Print one secret: a mapping name or an identifier of STORE."""
    click.echo(options.stores().get(store, reference))


@main.command()
@click.argument("store")
@click.argument("name")
@pass_options
def put(options: Options, store: str, name: str) -> None:
    """Write secret NAME to STORE; the value comes from stdin or a hidden prompt.

    Values are never taken from the command line, where other users can see them.
    """
    if sys.stdin.isatty():
        value = click.prompt(f"Value for {store}/{name}", hide_input=True,
                             confirmation_prompt=True, err=True)
    else:
        value = sys.stdin.read()
        if value.endswith("\n"):
            value = value[:-1]
            if value.endswith("\r"):
                value = value[:-1]
    options.stores().put(store, name, value)
    click.echo(f"stored {name} in {store}", err=True)


@main.command()
@click.argument("store")
@click.argument("name")
@pass_options
def delete(options: Options, store: str, name: str) -> None:
    """Delete secret NAME from STORE."""
    if not options.stores().delete(store, name):
        raise SecretStoresError(f"store '{store}': no secret named '{name}'")
    click.echo(f"deleted {name} from {store}", err=True)


@main.command("list")
@click.argument("store")
@pass_options
def list_(options: Options, store: str) -> None:
    """List the names of the secrets in STORE (never their values)."""
    for name in options.stores().list_names(store):
        click.echo(name)


@main.command()
@click.argument("template")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def refs(options: Options, template: str, as_json: bool) -> None:
    """List the secret references of TEMPLATE without fetching anything."""
    source, name = _read_template(template)
    references = options.stores().references(source, name=name)
    if as_json:
        click.echo(json.dumps([
            {"store": r.store, "key": r.key, "path": list(r.path), "line": r.lineno}
            for r in references], indent=2))
        return
    for ref in references:
        click.echo(f"{name}:{ref.lineno}: {ref}")


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
        source, name = _read_template(env_file)
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
