"""``secretstores export``: several secrets as dotenv, JSON, YAML or shell lines.

Each value is escaped by the template filter of its format
(:mod:`secretstores.templating.filters`), so ``export`` and a template writing
``{{ secrets.s.k | dotenv }}`` give the same text.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import click

from secretstores.cli import Options, main, pass_options
from secretstores.cli.files import read_template
from secretstores.errors import SecretStoresError

if TYPE_CHECKING:
    from secretstores.cli.lookup import Lookup

#: A variable name in every format: what POSIX shells accept.
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

FORMATS = ("dotenv", "json", "yaml", "shell")


def _derived_name(key: str, path: tuple[str | int, ...] = ()) -> str:
    """``DB_CREDS_PASSWORD`` for ``db_creds.password``: upper case, other characters ``_``."""
    text = "_".join([key, *map(str, path)])
    name = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()
    return f"_{name}" if name[:1].isdigit() else name


def _parse(item: str) -> tuple[str | None, str, str]:
    """``[NAME=]STORE.REFERENCE`` -> (NAME or None, STORE, REFERENCE)."""
    name: str | None = None
    head, equals, rest = item.partition("=")
    if equals and head and "." not in head:  # NAME= (checked with the other problems)
        name, item = head, rest
    store, dot, reference = item.partition(".")
    if not dot or not store or not reference:
        raise click.UsageError(f"'{item}': write STORE.REFERENCE or NAME=STORE.REFERENCE "
                               "(e.g. DB_PASSWORD=vault.db_creds.password)")
    return name, store, reference


def _format(variables: list[tuple[str, str]], output: str) -> str:
    from secretstores.templating.filters import (
        dotenv_filter,
        json_filter,
        shell_filter,
        yaml_filter,
    )

    if output == "json":
        if not variables:
            return "{}\n"
        body = ",\n".join(f"  {json_filter(n)}: {json_filter(v)}" for n, v in variables)
        return "{\n" + body + "\n}\n"
    if output == "yaml":
        return "".join(f"{yaml_filter(n)}: {yaml_filter(v)}\n" for n, v in variables) or "{}\n"
    if output == "shell":
        return "".join(f"export {n}={shell_filter(v)}\n" for n, v in variables)
    return "".join(f"{n}={dotenv_filter(v)}\n" for n, v in variables)


@main.command()
@click.argument("references", nargs=-1, metavar="[NAME=]STORE.REFERENCE...")
@click.option("-f", "--format", "output", type=click.Choice(FORMATS), default="dotenv",
              show_default=True, help="Output format.")
@click.option("-t", "--template", "templates", multiple=True, metavar="TEMPLATE",
              help="Also export every secret TEMPLATE uses (repeatable).")
@pass_options
def export(options: Options, references: tuple[str, ...], output: str,
           templates: tuple[str, ...]) -> None:
    """Print secrets as variables: for eval, CI systems and .env files.

    Each reference is STORE.REFERENCE as `get` takes it (a mapping, an identifier,
    a path into a JSON secret), named by NAME= or after the reference
    (vault.db_creds.password is DB_CREDS_PASSWORD). Values are escaped for the
    format: dotenv (NAME="..."), shell (export NAME='...'), json, yaml.
    """
    from secretstores.cli.lookup import as_text, check_store, fetch_all, plan, value_of

    configured = options.stores()
    wanted: list[tuple[str, str, str]] = []  # (variable, store, reference)
    for item in references:
        name, store, reference = _parse(item)
        wanted.append((name or _derived_name(reference), store, reference))
    for template in templates:
        source, template_name = read_template(template)
        for ref in configured.references(source, name=template_name):
            if ref.key is None:
                continue  # a key computed at run time: not known before rendering
            path = "".join(f".{p}" if p.replace("_", "a").isalnum() else f"[{json.dumps(p)}]"
                           for p in ref.path)
            wanted.append((_derived_name(ref.key, ref.path), ref.store, ref.key + path))
    if not wanted:
        raise click.UsageError("name at least one STORE.REFERENCE or --template")

    problems: list[str] = []
    seen: dict[str, tuple[str, str]] = {}
    unique: list[tuple[str, str, str]] = []
    for variable, store, reference in wanted:
        if not _NAME.match(variable):
            problems.append(f"{store}.{reference}: '{variable}' is not a variable name; "
                            "choose one with NAME=STORE.REFERENCE")
        elif variable in seen and seen[variable] != (store, reference):
            first = ".".join(seen[variable])
            problems.append(f"{store}.{reference}: the variable {variable} is also "
                            f"{first}; choose another with NAME=STORE.REFERENCE")
        elif variable not in seen:
            seen[variable] = (store, reference)
            unique.append((variable, store, reference))
    by_store: dict[str, list[tuple[str, str]]] = {}
    for variable, store, reference in unique:
        by_store.setdefault(store, []).append((variable, reference))
    values: dict[str, str] = {}
    for store, items in by_store.items():
        try:
            spec = check_store(configured, store)
        except SecretStoresError as exc:
            problems.append(str(exc))
            continue
        planned: list[tuple[str, Lookup]] = []
        for variable, reference in items:
            try:
                planned.append((variable, plan(spec, reference)))
            except SecretStoresError as exc:
                problems.append(str(exc))
        results = fetch_all(configured, store, [lookup for _, lookup in planned])
        for variable, lookup in planned:
            try:
                values[variable] = as_text(value_of(spec, lookup, results)[0])
            except SecretStoresError as exc:
                problems.append(str(exc))
    if problems:
        raise SecretStoresError(f"{len(problems)} problem{'s' if len(problems) > 1 else ''}: "
                                + "; ".join(problems))
    click.echo(_format([(v, values[v]) for v, _, _ in unique], output), nl=False)
