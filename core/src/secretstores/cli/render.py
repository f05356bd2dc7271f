"""The render command: a template to stdout or a file, or (``--watch``) templates to
files, rendered again whenever what they render changes."""

from __future__ import annotations

import click

from secretstores.cli import Options, main, pass_options
from secretstores.cli.files import DEFAULT_MODE, parse_mode, read_template, write_output
from secretstores.cli.watch import (
    MIN_INTERVAL,
    Pair,
    Watcher,
    default_interval,
    load_pairs,
    parse_pair,
)
from secretstores.errors import SecretStoresError


def _mode(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_mode(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command()
@click.argument("templates", nargs=-1, metavar="TEMPLATE | TEMPLATE:OUT[:CMD]...")
@click.option("-o", "--output", default="-", metavar="OUT",
              help="Write here (atomically, mode 0600 or --perms) instead of stdout ('-').")
@click.option("--perms", metavar="MODE", callback=_mode,
              help="Mode of the files written, in octal (default 0600).")
@click.option("--watch", is_flag=True,
              help="Render TEMPLATE:OUT pairs again whenever what they render changes.")
@click.option("--once", is_flag=True,
              help="Render the TEMPLATE:OUT pairs once, as --watch would, and exit.")
@click.option("--interval", type=click.FloatRange(min=MIN_INTERVAL), metavar="SECONDS",
              help="Seconds between polls (default: the shortest cache TTL of the stores "
                   "the templates use).")
@click.option("--on-change", metavar="CMD",
              help="Shell command run after a pair's file changed (for pairs without "
                   "their own :CMD).")
@click.option("--watch-config", metavar="FILE",
              help="A TOML or JSON file of [[template]] pairs (source, destination, perms, "
                   "on_change) and an interval.")
@pass_options
def render(options: Options, templates: tuple[str, ...], output: str, perms: int | None,
           watch: bool, once: bool, interval: float | None, on_change: str | None,
           watch_config: str | None) -> None:
    """Render TEMPLATE ('-' for stdin) with its secrets, to stdout or -o OUT.

    With --watch (or --once), render each TEMPLATE:OUT pair to its file, and again
    whenever the output would change; CMD runs after its file changed:

    \b
        secretstores render --watch app.j2:/etc/app.conf:'systemctl reload app'
    """
    mode = perms if perms is not None else DEFAULT_MODE
    if not (watch or once):
        if watch_config or interval is not None or on_change:
            raise click.UsageError("--watch-config, --interval and --on-change need "
                                   "--watch or --once")
        if len(templates) != 1:
            raise click.UsageError("expected one TEMPLATE (TEMPLATE:OUT pairs need --watch "
                                   "or --once)")
        source, name = read_template(templates[0])
        write_output(options.stores().render_string(source, name=name), output, mode)
        return
    if output != "-":
        raise click.UsageError("with --watch or --once, give TEMPLATE:OUT pairs instead of -o")
    pairs: list[Pair] = []
    for text in templates:
        try:
            pairs.append(parse_pair(text, mode=mode, on_change=on_change))
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    if watch_config:
        loaded, configured = load_pairs(watch_config)
        pairs.extend(loaded)
        interval = interval if interval is not None else configured
    if not pairs:
        raise click.UsageError("expected TEMPLATE:OUT pairs or --watch-config FILE")
    outputs = [pair.output for pair in pairs]
    if len(set(outputs)) != len(outputs):
        raise click.UsageError("two pairs write the same file")
    # Each poll must see rotated values: the watcher asks the stores, not the cache
    # (once per poll and store, in one batch per template).
    options.no_cache = True
    watcher = Watcher(options.stores(), pairs, report=not once)
    if once:
        problems = watcher.poll()
        if problems:
            raise SecretStoresError(problems[0] if len(problems) == 1 else
                                    f"{len(problems)} templates failed: " + "; ".join(problems))
        return
    watcher.run(interval if interval is not None
                else default_interval(watcher.stores, watcher.sources()))
