"""Commands that read and write secrets: get, put, delete, list, refs."""

from __future__ import annotations

import json
import sys

import click

from secretstores.cli import Options, main, pass_options
from secretstores.cli.files import read_template
from secretstores.errors import SecretStoresError


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
    source, name = read_template(template)
    references = options.stores().references(source, name=name)
    if as_json:
        click.echo(json.dumps([
            {"store": r.store, "key": r.key, "path": list(r.path), "line": r.lineno}
            for r in references], indent=2))
        return
    for ref in references:
        click.echo(f"{name}:{ref.lineno}: {ref}")
