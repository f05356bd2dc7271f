"""Commands about the setup itself: stores, plugins, cache, migrate."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from secretstores.cli import Options, main, pass_options
from secretstores.errors import SecretStoresError, StoreError


def _check_all(configured: Any, names: list[str]) -> dict[str, tuple[bool, str]]:
    """Check every store at once (each within its own deadline): name -> (ok, detail)."""

    def check(name: str) -> tuple[bool, str]:
        try:
            return True, configured.check(name)
        except SecretStoresError as exc:
            reason = exc.reason if isinstance(exc, StoreError) else str(exc)
            return False, " ".join(reason.split())

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        return dict(zip(names, pool.map(check, names), strict=True))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@main.command()
@click.option("--check", is_flag=True,
              help="Prove each store works (authenticate, then a cheap authenticated call); "
                   "exit 1 if any fails.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def stores(options: Options, check: bool, as_json: bool) -> None:
    """List the configured stores (and with --check, whether each works)."""
    configured = options.stores()
    names = sorted(configured.stores)
    checked = _check_all(configured, names) if check else {}
    rows = []
    for name in names:
        spec = configured.stores[name]
        capabilities = sorted(c.value for c in configured.runtime(name).store_type.capabilities)
        row: dict[str, Any] = {"name": name, "type": spec.type, "mappings": len(spec.mappings),
                               "readOnly": spec.read_only, "capabilities": capabilities}
        if check:
            ok, detail = checked[name]
            row["status"], row["detail"] = ("ok" if ok else "error"), detail
        rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        header = ["NAME", "TYPE", "MODE", "MAPPINGS", "CAPABILITIES"] + (
            ["CHECK"] if check else [])
        table = [header] + [
            [row["name"], row["type"], "read-only" if row["readOnly"] else "read-write",
             _plural(row["mappings"], "mapping"), ",".join(row["capabilities"])]
            + ([f"{row['status']}: {row['detail']}"] if check else [])
            for row in rows]
        widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
        for line in table:
            click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths,
                                                                        strict=False))
                       + "  " + line[-1])
    failed = [row for row in rows if row.get("status") == "error"]
    if failed:
        click.echo(f"secretstores: error: {_plural(len(failed), 'store')} failed the check: "
                   + "; ".join(f"{row['name']}: {row['detail']}" for row in failed), err=True)
        sys.exit(1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins(as_json: bool) -> None:
    """List the loaded plugins: name, version, hooks, store types and their capabilities."""
    from secretstores.plugins import get_plugins

    loaded = get_plugins()
    infos = loaded.info()
    if as_json:
        click.echo(json.dumps([
            {"name": p.name, "version": p.version, "builtin": p.builtin,
             "distribution": p.distribution, "hooks": list(p.hooks),
             "storeTypes": list(p.store_types),
             "capabilities": {t.name: sorted(c.value for c in t.capabilities)
                              for t in p.types}} for p in infos
        ] + [{"name": f.name, "error": f.error} for f in loaded.failed], indent=2))
        return
    for info in infos:
        kind = "built-in" if info.builtin else (info.version or "unknown version")
        dist = f", {info.distribution}" if info.distribution and not info.builtin else ""
        click.echo(f"{info.name} ({kind}{dist})")
        for store_type in info.types:
            capabilities = ", ".join(sorted(c.value for c in store_type.capabilities))
            mode = "read-only" if not store_type.writable else (
                "read-only unless readOnly: false" if store_type.read_only_by_default
                else "read-write")
            click.echo(f"  store type {store_type.name}: {capabilities} ({mode})")
        if not info.types:
            click.echo("  store types: -")
        click.echo(f"  hooks: {', '.join(info.hooks)}")
    for failure in loaded.failed:
        click.echo(f"{failure.name} (failed to load: {failure.error})")


@main.group()
def cache() -> None:
    """Manage the encrypted cache of secret values."""


@cache.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def cache_stats(options: Options, as_json: bool) -> None:
    """Entries, size and hit ratios of the cache (every process of this user, together)."""
    found = options.stores().cache.stats()
    sources = ("memory", "disk", "negative", "shared", "stale", "store")
    hits = {source: int(found.get(source, 0)) for source in sources}
    answered = sum(hits.values())
    ratio = (answered - hits["store"]) / answered if answered else None
    report = {"entries": int(found.get("entries", 0)), "locks": int(found.get("locks", 0)),
              "bytes": int(found.get("bytes", 0)),
              "memory_entries": int(found.get("memory_entries", 0)),
              "hits": hits, "hit_ratio": ratio,
              "refreshed_ahead": int(found.get("refresh", 0))}
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"entries on disk     {report['entries']}")
    click.echo(f"size on disk        {report['bytes']} bytes")
    click.echo(f"fetch locks held    {report['locks']}")
    click.echo("answers by source   " + ", ".join(f"{k} {v}" for k, v in hits.items()))
    click.echo(f"refreshed ahead     {report['refreshed_ahead']} (in the background)")
    shown = f"{ratio:.1%}" if ratio is not None else "-"
    click.echo(f"hit ratio           {shown} (answered without asking a store)")


@cache.command("clear")
@click.option("--store", help="Only this store's secrets.")
@click.option("--ref", "reference", help="Only this secret (needs --store).")
@pass_options
def cache_clear(options: Options, store: str | None, reference: str | None) -> None:
    """Forget cached secrets: all of them, one store's, or one."""
    if reference and not store:
        raise click.UsageError("--ref needs --store")
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
    from secretstores.migrate import Outcome

    def label(outcome: Outcome) -> str:
        # a dry run writes nothing: say what a real run would do
        return "would copy" if dry_run and outcome is Outcome.COPIED else outcome.value

    for step in report.steps:
        shown = step.detail if not (dry_run and step.outcome is Outcome.COPIED) else ""
        detail = f" ({shown})" if shown else ""
        click.echo(f"{label(step.outcome)}\t{step.name}{detail}")
    def counted(outcome: Outcome) -> str:
        copied = dry_run and outcome is Outcome.COPIED
        return f"{report.count(outcome)} {'would be copied' if copied else outcome.name.lower()}"

    summary = ", ".join(counted(o) for o in Outcome)
    heading = " (dry run: nothing was written)" if dry_run else ""
    click.echo(f"{source} -> {destination}{heading}: {summary}", err=True)
    if not report.ok:
        sys.exit(1)
