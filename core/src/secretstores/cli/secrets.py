"""Commands that read and write secrets: get, put, delete, list, refs."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from secretstores.cli import Options, main, pass_options
from secretstores.cli.files import read_template
from secretstores.cli.lookup import (
    as_json,
    as_text,
    check_store,
    fetch_all,
    parse_json,
    plan,
    value_of,
)
from secretstores.errors import SecretStoresError, WriteConflictError
from secretstores.model import FetchResult, Status, StoreSpec


@main.command()
@click.argument("store")
@click.argument("reference")
@click.option("--json", "json_output", is_flag=True,
              help="Print the value as JSON: a JSON secret as its object, text as a string.")
@click.option("-n", "no_newline", is_flag=True, help="Do not print a trailing newline.")
@pass_options
def get(options: Options, store: str, reference: str, json_output: bool,
        no_newline: bool) -> None:
    """Print one secret of STORE: a mapping name or an identifier, and optionally a
    path into a JSON secret (``app.password``, ``hosts[0]``)."""
    configured = options.stores()
    spec = check_store(configured, store)
    lookup = plan(spec, reference)
    value, whole = value_of(spec, lookup, fetch_all(configured, store, [lookup]))
    text = json.dumps(as_json(value, whole=whole), ensure_ascii=False) if json_output \
        else as_text(value)
    click.echo(text, nl=not no_newline)


# -- put -------------------------------------------------------------------------


def _target(spec: StoreSpec, name: str) -> tuple[str, str | None]:
    """The identifier ``put`` writes and the JSON key it sets (None: the whole secret).

    ``NAME#KEY`` sets one key; a mapping name writes the mapping's target (whose own
    ``#KEY``, as in a Vault mapping ``myapp/config#password``, is a key too).
    """
    base, has_key, key = name.partition("#")
    if not base or (has_key and not key):
        raise click.UsageError(f"'{name}': write NAME or NAME#KEY (a non-empty name and key)")
    target = spec.mappings.get(base, base)
    mapped, mapped_has_key, mapped_key = target.partition("#")
    if mapped_has_key:
        if has_key:
            raise click.UsageError(
                f"'{base}' is a mapping to one key ({target}): write '{base}' without #KEY")
        return mapped, mapped_key
    return target, key if has_key else None


def _read_input(store: str, name: str) -> str:
    """The value to write: stdin (one trailing newline dropped) or a hidden prompt."""
    if sys.stdin.isatty():
        value: str = click.prompt(f"Value for {store}/{name}", hide_input=True,
                                  confirmation_prompt=True, err=True, default="",
                                  show_default=False)
        return value
    value = sys.stdin.read()
    if value.endswith("\n"):
        value = value[:-1]
        if value.endswith("\r"):
            value = value[:-1]
    return value


def _current(runtime: Any, identifier: str, *, needed: bool, force: bool) -> FetchResult:
    """The secret's value now, asked of the store (never the cache).

    A value that cannot be read (denied, unavailable) is an error when the write
    needs it (setting one key) or when it cannot be checked without ``--force``.
    """
    result: FetchResult = runtime.fetch_uncached([identifier])[identifier]
    if result.status in (Status.FOUND, Status.NOT_FOUND):
        return result
    what = "access denied" if result.status is Status.DENIED else "store unavailable"
    if needed:
        raise SecretStoresError(f"store '{runtime.name}': cannot read '{identifier}' to set "
                                f"one key of it ({what}: {result.message}); nothing was "
                                "written")
    if not force:
        raise SecretStoresError(f"store '{runtime.name}': cannot read '{identifier}' to check "
                                f"what it holds ({what}: {result.message}); nothing was "
                                "written (--force writes without checking)")
    return result


def _describe_kind(text: str) -> str:
    data = parse_json(text)
    if data is None:
        return "a plain value"
    return "a JSON object" if isinstance(data, dict) else "a JSON array"


def _new_text(store: str, identifier: str, key: str | None, value: str,
              current: FetchResult, force: bool) -> str:
    """What to write: the value, or the current JSON object with ``key`` set to it.

    A JSON object is written in one form (``json.dumps``), the one a Vault store
    reads back, so it is stored as the secret's keys there.

    Replacing a JSON secret with a plain value or the reverse loses its keys or its
    text: refused unless ``force``.
    """
    found = current.status is Status.FOUND and current.value is not None
    old = current.value if found else None
    where = f"store '{store}': '{identifier}'"
    if key is None:
        parsed = parse_json(value)
        if isinstance(parsed, dict):  # one form, the one stores read back (Vault: its data)
            value = json.dumps(parsed)
        if old is None or force:
            return value
        before, after = _describe_kind(old), _describe_kind(value)
        if (before == "a plain value") != (after == "a plain value"):
            hint = f"; to set one key, write '{identifier}#KEY'" if before != \
                "a plain value" else ""
            invalid = ""
            if after == "a plain value" and value.lstrip().startswith(("{", "[")):
                invalid = " (the input starts like JSON but is not valid JSON)"
            raise SecretStoresError(f"{where} holds {before}; the input is {after}{invalid}, "
                                    f"which would replace it whole{hint}. Nothing was written; "
                                    "pass --force to replace it")
        return value
    data: dict[str, Any] = {}
    if old is not None:
        parsed = parse_json(old)
        if isinstance(parsed, dict):
            data = parsed
        elif not force:
            raise SecretStoresError(f"{where} holds {_describe_kind(old)}, not a JSON object, "
                                    f"so it has no key '{key}' to set. Nothing was written; "
                                    f"pass --force to replace it with {{\"{key}\": ...}}")
    data[key] = value
    return json.dumps(data)


@main.command()
@click.argument("store")
@click.argument("name")
@click.option("--force", is_flag=True,
              help="Write even when a JSON secret would be replaced by a plain value (or the "
                   "reverse), or when the current value cannot be read to check.")
@click.option("--allow-empty", is_flag=True, help="Accept an empty value.")
@pass_options
def put(options: Options, store: str, name: str, force: bool, allow_empty: bool) -> None:
    """Write secret NAME to STORE; the value comes from stdin or a hidden prompt.

    NAME#KEY sets one key of a JSON secret and keeps the others. A mapping name
    writes the mapping's target. Values are never taken from the command line,
    where other users can see them.
    """
    configured = options.stores()
    spec = check_store(configured, store)
    identifier, key = _target(spec, name)
    runtime = configured.runtime(store)
    runtime.check_writable("store a secret")
    before = _current(runtime, identifier, needed=key is not None, force=force)
    value = _read_input(store, name)
    if value == "" and not allow_empty:
        raise SecretStoresError(f"store '{store}': the value for '{name}' is empty; nothing "
                                "was written (--allow-empty stores an empty value)")
    text = _new_text(store, identifier, key, value, before, force)
    if before.status in (Status.FOUND, Status.NOT_FOUND):
        # check, then set: the value must still be the one the new text was built from
        now = runtime.fetch_uncached([identifier])[identifier]
        if (now.status, now.value) != (before.status, before.value):
            raise WriteConflictError(f"'{identifier}' changed while this write was prepared "
                                     "(another writer); nothing was written: run it again",
                                     store=store)
    configured.put(store, identifier, text)
    field = f"#{key}" if key is not None else ""
    shown = f" ({identifier}{field})" if f"{identifier}{field}" != name else ""
    click.echo(f"stored {name}{shown} in {store}", err=True)


# -- delete, list, refs ------------------------------------------------------------


@main.command()
@click.argument("store")
@click.argument("name")
@pass_options
def delete(options: Options, store: str, name: str) -> None:
    """Delete secret NAME from STORE (a mapping name deletes the mapping's target)."""
    configured = options.stores()
    spec = check_store(configured, store)
    identifier = spec.mappings.get(name, name)
    if not configured.delete(store, identifier):
        raise SecretStoresError(f"store '{store}': no secret named '{name}'")
    click.echo(f"deleted {name} from {store}", err=True)


@main.command("list")
@click.argument("store")
@click.option("--json", "json_output", is_flag=True, help="Print a JSON array of names.")
@pass_options
def list_(options: Options, store: str, json_output: bool) -> None:
    """List the names of the secrets in STORE (never their values).

    A store with ``allowDirectAccess: false`` lists its mapping names only: the
    secrets it lets templates use.
    """
    configured = options.stores()
    spec = check_store(configured, store)
    names = configured.list_names(store) if spec.allow_direct_access else sorted(spec.mappings)
    if json_output:
        click.echo(json.dumps(names, indent=2, ensure_ascii=False))
        return
    for name in names:
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
