"""The ``secretstores`` command.

Global options go before the command::

    secretstores --config c.json --env-prefix ARCHESTRA render t.j2

Errors are one line on stderr and a non-zero exit code; ``--debug`` adds the
traceback. No message ever holds a secret value.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import attrs
import click

from secretstores.errors import ConfigError, SecretStoresError, TemplateError

logger = logging.getLogger("secretstores")


@attrs.define
class Options:
    """The global options, resolved into a :class:`SecretStores` on first use."""

    config: str | None
    env_prefix: str
    strict_manager: bool | None
    debug: bool
    no_cache: bool = False
    verbose: bool = False
    _stores: Any = None

    def stores(self) -> Any:
        """The configured stores (built once per command)."""
        if self._stores is None:
            from secretstores.api import SecretStores

            options: dict[str, Any] = {}
            if self.no_cache:
                from secretstores.cache import SecretCache

                options["cache"] = SecretCache(enabled=False)
            if self.verbose:
                from secretstores.cli.report import Reporter
                from secretstores.plugins import get_plugins

                get_plugins().register(Reporter(), name="secretstores.cli.report")
            self._stores = SecretStores.discover(
                self.config, env_prefix=self.env_prefix, strict_manager=self.strict_manager,
                **options)
        return self._stores

    def close(self) -> None:
        """Close the stores (flushing the cache's hit counters)."""
        if self._stores is not None:
            self._stores.close()


class _StderrFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"secretstores: {record.levelname.lower()}: {record.getMessage()}"


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, ConfigError | TemplateError) and len(exc.problems) > 1:
        head = str(exc).splitlines()[0].rstrip(":")
        return f"{head}: " + "; ".join(exc.problems)
    return " ".join(str(exc).split("\n"))


class Group(click.Group):
    """A click group that turns secretstores errors into one line on stderr."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SecretStoresError as exc:
            options = ctx.find_object(Options)
            if options is not None and options.debug:
                raise
            click.echo(f"secretstores: error: {_one_line(exc)}", err=True)
            ctx.exit(1)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:  # a bug: its text may hold anything, so only its type
            options = ctx.find_object(Options)
            if options is not None and options.debug:
                raise
            click.echo(f"secretstores: error: unexpected {type(exc).__name__} (run with "
                       f"--debug for the traceback)", err=True)
            ctx.exit(1)


def _version() -> str:
    from secretstores import __version__

    return __version__


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), prog_name="secretstores")
@click.option("--config", "-c", metavar="FILE",
              help="Configuration file (default: $SECRETSTORES_CONFIG, then "
                   "./secretstores.toml or ./secretstores.json).")
@click.option("--env-prefix", default="SECRETSTORES", show_default=True,
              help="Prefix of <PREFIX>_SECRETS_MANAGER and its variables.")
@click.option("--strict-manager/--no-strict-manager", default=None,
              help="Refuse instead of falling back to database storage when the "
                   "secrets manager's variables are incomplete.")
@click.option("--no-cache", is_flag=True,
              help="Neither read nor write cached values for this command: ask the "
                   "stores (a write still drops the store's cached values).")
@click.option("-v", "--verbose", is_flag=True,
              help="Report on stderr where each secret came from (memory, disk, store, "
                   "stale...) and how long each store took; never a value.")
@click.option("--debug", is_flag=True,
              help="Show tracebacks and debug logging (and what --verbose shows).")
@click.pass_context
def main(ctx: click.Context, config: str | None, env_prefix: str,
         strict_manager: bool | None, no_cache: bool, verbose: bool, debug: bool) -> None:
    """Use secrets from external secret stores in configuration templates."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_StderrFormatter())
    logger.handlers[:] = [handler]
    tracing = bool(os.environ.get("SECRETSTORES_TRACE_HOOKS"))
    logger.setLevel(logging.DEBUG if debug else logging.INFO if tracing else logging.WARNING)
    logger.propagate = False
    ctx.obj = Options(config, env_prefix, strict_manager, debug, no_cache, verbose or debug)
    ctx.call_on_close(ctx.obj.close)


pass_options: Callable[..., Any] = click.make_pass_decorator(Options)


# commands register on `main` when their modules are imported
from secretstores.cli import admin, export, render, run, secrets  # noqa: E402

__all__ = ["Options", "admin", "export", "main", "pass_options", "render", "run", "secrets"]
