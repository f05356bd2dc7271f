"""The run command: a program with secrets in its environment, supervised.

The wrapper forwards signals to the child, exits with the child's status
(128+N when a signal N ended it), masks secret values in the child's output,
and with ``--watch`` restarts or signals the child when its secrets change.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Any

import click

from secretstores.cli import Options, main, pass_options
from secretstores.cli.files import read_template
from secretstores.cli.masking import Masker, secret_texts
from secretstores.cli.supervise import Supervisor, block_signals, pending_signal, supervise
from secretstores.cli.watch import MIN_INTERVAL, default_interval, describe

logger = logging.getLogger("secretstores")


def _variables(ctx: click.Context, param: click.Parameter,
               value: tuple[str, ...]) -> dict[str, str]:
    templates: dict[str, str] = {}
    for item in value:
        key, sep, template = item.partition("=")
        if not sep or not key.isidentifier():
            raise click.BadParameter(f"{key!r}: expected NAME=TEMPLATE")
        templates[key] = template
    return templates


def _signal(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    name = value.upper()
    if name.isdigit():
        number = int(name)
        if number in set(signal.Signals):
            return number
    else:
        found = getattr(signal.Signals, name if name.startswith("SIG") else "SIG" + name, None)
        if found is not None:
            return int(found)
    raise click.BadParameter(f"{value!r} is not a signal (HUP, USR1, ...)")


class _Environment:
    """Renders the child's environment: the env files in order, then the ``-e``s."""

    def __init__(self, stores: Any, env_files: tuple[str, ...],
                 variables: dict[str, str]) -> None:
        self.stores = stores
        self.files = [read_template(path) for path in env_files]
        self.variables = variables

    @property
    def sources(self) -> list[str]:
        """Every template the environment is rendered from."""
        return [source for source, _ in self.files] + list(self.variables.values())

    def render(self) -> dict[str, str]:
        """The variables to add to ours (later files and ``-e`` override earlier)."""
        rendered: dict[str, str] = {}
        for source, name in self.files:
            rendered.update(self.stores.render_env(source, name=name))
        if self.variables:
            rendered.update(self.stores.render_data(self.variables, name="--env"))
        return rendered


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--env-file", "env_files", multiple=True, metavar="TEMPLATE",
              help="A dotenv template (KEY=value lines); each becomes a variable. "
                   "Repeatable: later files override earlier ones.")
@click.option("-e", "--env", "variables", multiple=True, metavar="NAME=TEMPLATE",
              callback=_variables,
              help="One variable whose value is a template (repeatable; overrides the "
                   "env files).")
@click.option("--no-masking", is_flag=True,
              help="Let the child's output through as it is (by default every secret "
                   "value in it is replaced with <concealed by secretstores>).")
@click.option("--watch", is_flag=True,
              help="Render the environment again every --interval; when it changed, "
                   "restart the child (or send it --signal).")
@click.option("--interval", type=click.FloatRange(min=MIN_INTERVAL), metavar="SECONDS",
              help="Seconds between polls with --watch (default: the shortest cache TTL "
                   "of the stores used).")
@click.option("--restart", is_flag=True,
              help="With --watch, restart the child when its secrets change (the default).")
@click.option("--signal", "reload_signal", callback=_signal, metavar="SIG",
              help="With --watch, send SIG (HUP, USR1, ...) instead of restarting.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@pass_options
def run(options: Options, env_files: tuple[str, ...], variables: dict[str, str],
        no_masking: bool, watch: bool, interval: float | None, restart: bool,
        reload_signal: int | None, command: tuple[str, ...]) -> None:
    """Run COMMAND with secrets in its environment (the child's only), as its supervisor.

        secretstores run --env-file app.env.j2 -- ./server --port 8080
    """
    # Before any thread starts (the stores start workers): every thread then blocks
    # the forwarded signals, and only the supervisor's loop takes them.
    mask = block_signals()
    if restart and reload_signal is not None:
        raise click.UsageError("--restart and --signal exclude each other")
    if (restart or reload_signal is not None or interval is not None) and not watch:
        raise click.UsageError("--restart, --signal and --interval need --watch")
    if watch:
        options.no_cache = True  # each poll asks the stores (see render --watch)
    environment = _Environment(options.stores(), env_files, variables)
    rendered = environment.render()
    masker = None
    if not no_masking:
        values = secret_texts(environment.stores, environment.sources)
        if values or watch:
            masker = Masker(values)
    arrived = pending_signal() if mask is not None else None
    if arrived is not None:  # it was meant for us, before there was a child
        sys.exit(128 + arrived)

    poll = None
    if watch:
        last = dict(rendered)
        failing: list[str] = []

        def poll() -> dict[str, str] | None:
            nonlocal last
            try:
                again = environment.render()
                if again != last and masker is not None:  # the new values are masked too
                    masker.add(secret_texts(environment.stores, environment.sources))
            except Exception as exc:  # a store down: keep the child as it is
                message = describe(exc)
                if failing != [message]:
                    failing[:] = [message]
                    logger.warning("%s (the child keeps running; trying again at each poll)",
                                   message)
                return None
            if failing:
                failing.clear()
                click.echo("secretstores: environment rendered again", err=True)
            if again == last:
                return None
            last = again
            what = (f"sending {signal.Signals(reload_signal).name} to" if reload_signal
                    else "restarting")
            click.echo(f"secretstores: secrets changed: {what} {command[0]}", err=True)
            return {**os.environ, **again}

    supervisor = Supervisor(command, mask=mask, masker=masker)
    status = supervise(
        supervisor, {**os.environ, **rendered}, poll=poll,
        interval=interval if interval is not None
        else default_interval(environment.stores, environment.sources),
        reload_signal=reload_signal)
    sys.exit(status)
