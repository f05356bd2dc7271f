"""Commands about the setup itself: stores, plugins, cache, migrate."""

from __future__ import annotations

import json
import sys

import click

from secretstores.cli import Options, main, pass_options
from secretstores.errors import SecretStoresError


@main.command()
@click.option("--check", is_flag=True, help="Authenticate to each store and report.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def stores(options: Options, check: bool, as_json: bool) -> None:
    """List the configured stores (and with --check, whether each authenticates)."""
    configured = options.stores()
    rows = []
    failed = False
    for name, spec in sorted(configured.stores.items()):
        row = {"name": name, "type": spec.type, "mappings": len(spec.mappings),
               "readOnly": spec.read_only}
        if check:
            try:
                configured.check(name)
                row["status"] = "ok"
            except SecretStoresError as exc:
                failed = True
                row["status"] = f"error: {str(exc).removeprefix(f'store {name!r}: ')}"
        rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        for row in rows:
            mode = "read-only" if row["readOnly"] else "read-write"
            line = f"{row['name']}\t{row['type']}\t{mode}\t{row['mappings']} mappings"
            if check:
                line += f"\t{row['status']}"
            click.echo(line)
    if failed:
        sys.exit(1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins(as_json: bool) -> None:
    """List the loaded plugins: name, version, hooks, store types."""
    from secretstores.plugins import get_plugins

    loaded = get_plugins()
    infos = loaded.info()
    if as_json:
        click.echo(json.dumps([
            {"name": p.name, "version": p.version, "builtin": p.builtin,
             "hooks": list(p.hooks), "storeTypes": list(p.store_types)} for p in infos
        ] + [{"name": f.name, "error": f.error} for f in loaded.failed], indent=2))
        return
    for info in infos:
        kind = "built-in" if info.builtin else (info.version or "unknown version")
        click.echo(f"{info.name} ({kind})")
        click.echo(f"  store types: {', '.join(info.store_types) or '-'}")
        click.echo(f"  hooks: {', '.join(info.hooks)}")
    for failure in loaded.failed:
        click.echo(f"{failure.name} (failed to load: {failure.error})")


@main.group()
def cache() -> None:
    """Manage the encrypted cache of secret values."""


@cache.command("clear")
@click.option("--store", help="Only this store's secrets.")
@click.option("--ref", "reference", help="Only this secret (needs --store).")
@pass_options
def cache_clear(options: Options, store: str | None, reference: str | None) -> None:
    """Forget cached secrets: all of them, one store's, or one."""
    if reference and not store:
        raise SecretStoresError("--ref needs --store")
    removed = options.stores().invalidate(store, reference)
    click.echo(f"removed {removed} cached entr{'y' if removed == 1 else 'ies'}", err=True)


@main.command()
@click.option("--from", "source", required=True, metavar="STORE", help="Store to read.")
@click.option("--to", "destination", required=True, metavar="STORE", help="Store to write.")
@click.option("--overwrite", is_flag=True, help="Replace secrets whose value differs.")
@click.option("--dry-run", is_flag=True, help="Say what would happen; write nothing.")
@pass_options
def migrate(options: Options, source: str, destination: str, overwrite: bool,
            dry_run: bool) -> None:
    """Copy every secret of one store into another, verifying each copy.

    Safe to run again: identical secrets are skipped.
    """
    from secretstores.migrate import Step
    from secretstores.migrate import migrate as run_migration

    interactive = sys.stderr.isatty()

    def progress(step: Step, done: int, total: int) -> None:
        if interactive:
            click.echo(f"\r[{done}/{total}] {step.name[:50]:<50}", err=True, nl=False)

    report = run_migration(options.stores(), source, destination, overwrite=overwrite,
                           dry_run=dry_run, progress=progress)
    if interactive and report.steps:
        click.echo("", err=True)
    for step in report.steps:
        detail = f" ({step.detail})" if step.detail else ""
        click.echo(f"{step.outcome.value}\t{step.name}{detail}")
    from secretstores.migrate import Outcome

    summary = ", ".join(f"{report.count(o)} {o.name.lower()}" for o in Outcome)
    click.echo(f"{source} -> {destination}: {summary}", err=True)
    if not report.ok:
        sys.exit(1)
