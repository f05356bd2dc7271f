"""Watch mode: templates rendered to files again whenever what they render changes.

Each poll renders every ``TEMPLATE:OUT`` pair with values asked of the stores
(the watcher's cache is off, so a poll sees a rotated secret at once, and asks
each store once per poll, in one batch per template), compares the text with
what ``OUT`` holds, and only when it differs replaces ``OUT`` atomically and
runs the pair's ``on_change`` command. A pair that cannot be rendered (a store
is down) keeps its file as it is; the watcher says so once and tries again at
the next poll.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Callable, Iterable
from typing import Any

import attrs
import click

from secretstores.cli.files import (
    DEFAULT_MODE,
    parse_mode,
    read_current,
    read_template,
    write_atomic,
)
from secretstores.errors import SecretStoresError

logger = logging.getLogger("secretstores")

#: The shortest interval between two polls (seconds).
MIN_INTERVAL = 1.0
#: The interval when no store used has a cache TTL (seconds).
FALLBACK_INTERVAL = 60.0


@attrs.frozen
class Pair:
    """One template, the file it renders to, that file's mode, and the command run
    after the file changed."""

    template: str
    output: str
    mode: int = DEFAULT_MODE
    on_change: str | None = None


def parse_pair(text: str, *, mode: int, on_change: str | None) -> Pair:
    """``TEMPLATE:OUT`` or ``TEMPLATE:OUT:CMD`` (consul-template's form); ValueError
    when it is neither."""
    template, sep, rest = text.partition(":")
    output, _, command = rest.partition(":")
    if not sep or not template or not output or "-" in (template, output):
        raise ValueError(f"{text!r}: expected TEMPLATE:OUT or TEMPLATE:OUT:CMD")
    return Pair(template, output, mode, command or on_change)


def load_pairs(path: str) -> tuple[list[Pair], float | None]:
    """The pairs (and interval) of a watch configuration file, TOML or JSON::

        interval = 30
        [[template]]
        source = "nginx.conf.j2"              # relative to the file's directory
        destination = "/etc/nginx/app.conf"
        perms = "0640"                        # default 0600
        on_change = "nginx -s reload"

    Raise :class:`SecretStoresError` naming every problem.
    """
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise SecretStoresError(f"cannot read {path}: "
                                f"{exc.strerror or type(exc).__name__}") from None
    import tomllib

    try:
        data: Any = json.loads(raw) if path.endswith(".json") else tomllib.loads(raw.decode())
    except (ValueError, UnicodeDecodeError) as exc:
        kind = "JSON" if path.endswith(".json") else "TOML"
        raise SecretStoresError(f"{path}: not valid {kind} ({exc})") from None
    base = os.path.dirname(path)
    problems: list[str] = []
    if not isinstance(data, dict):
        raise SecretStoresError(f"{path}: expected a table with [[template]] entries")
    interval = data.get("interval")
    if interval is not None and (not isinstance(interval, int | float)
                                 or isinstance(interval, bool) or interval < MIN_INTERVAL):
        problems.append(f"interval: expected a number of seconds, at least {MIN_INTERVAL:g}")
        interval = None
    entries = data.get("template")
    if not isinstance(entries, list) or not entries:
        problems.append("expected at least one [[template]] with source and destination")
        entries = []
    pairs: list[Pair] = []
    for index, entry in enumerate(entries):
        where = f"template[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a table")
            continue
        unknown = sorted(set(entry) - {"source", "destination", "perms", "on_change"})
        if unknown:
            problems.append(f"{where}: unknown field {', '.join(map(repr, unknown))}")
        fields = {key: entry.get(key) for key in ("source", "destination", "perms", "on_change")}
        for key in ("source", "destination"):
            if not isinstance(fields[key], str) or not fields[key]:
                problems.append(f"{where}: {key} must be a path")
        for key in ("perms", "on_change"):
            if fields[key] is not None and not isinstance(fields[key], str):
                problems.append(f"{where}: {key} must be a string")
        mode = DEFAULT_MODE
        if isinstance(fields["perms"], str):
            try:
                mode = parse_mode(fields["perms"])
            except ValueError as exc:
                problems.append(f"{where}: perms: {exc}")
        if isinstance(fields["source"], str) and isinstance(fields["destination"], str):
            pairs.append(Pair(os.path.join(base, fields["source"]),
                              os.path.join(base, fields["destination"]), mode,
                              fields["on_change"] if isinstance(fields["on_change"], str)
                              else None))
    if problems:
        raise SecretStoresError(f"{path}: " + "; ".join(problems))
    return pairs, float(interval) if interval is not None else None


def default_interval(stores: Any, sources: Iterable[str]) -> float:
    """The shortest cache TTL of the stores the templates use (the fallback when none
    has one), at least :data:`MIN_INTERVAL`."""
    ttls = []
    for source in sources:
        try:
            references = stores.references(source)
        except SecretStoresError:
            continue
        for reference in references:
            try:
                ttls.append(stores.runtime(reference.store).ttl)
            except SecretStoresError:
                continue
    positive = [ttl for ttl in ttls if ttl > 0]
    return max(MIN_INTERVAL, min(positive) if positive else FALLBACK_INTERVAL)


def say(message: str) -> None:
    """A notice of the watcher on stderr (never a value)."""
    click.echo(f"secretstores: {message}", err=True)


def describe(exc: BaseException) -> str:
    """An error as one line (the CLI's own wording; a bug shows only its type)."""
    from secretstores.cli import _one_line

    if isinstance(exc, SecretStoresError):
        return _one_line(exc)
    return f"unexpected {type(exc).__name__}"


class Watcher:
    """Renders its pairs on each :meth:`poll`, writing only what changed."""

    def __init__(self, stores: Any, pairs: list[Pair], *, report: bool = True) -> None:
        self.stores = stores
        self.pairs = pairs
        #: Whether to say on stderr what each poll did (not for ``--once``).
        self.report = report
        #: The problem each failing pair last reported (to say it once).
        self.failing: dict[Pair, str] = {}

    def sources(self) -> list[str]:
        """The templates' texts, where they can be read."""
        texts = []
        for pair in self.pairs:
            try:
                texts.append(read_template(pair.template)[0])
            except SecretStoresError:
                continue
        return texts

    def poll(self) -> list[str]:
        """Render every pair, write those that changed, then run their commands (each
        distinct command once). Return the problems of the pairs that failed."""
        commands: dict[str, list[str]] = {}
        problems: list[str] = []
        for pair in self.pairs:
            try:
                changed = self._render(pair)
            except Exception as exc:  # a store down, a bad template: keep the last file
                message = describe(exc)
                problems.append(message)
                if self.failing.get(pair) != message and self.report:
                    self.failing[pair] = message
                    logger.warning("%s (keeping %s as it is; trying again at each poll)",
                                   message, pair.output)
                continue
            if self.failing.pop(pair, None) is not None:
                say(f"{pair.template}: rendered again")
            if changed and self.report:
                say(f"wrote {pair.output}")
            if changed and pair.on_change:
                commands.setdefault(pair.on_change, []).append(pair.output)
        for command, outputs in commands.items():
            self._run(command, outputs)
        return problems

    def _render(self, pair: Pair) -> bool:
        source, name = read_template(pair.template)
        data = self.stores.render_string(source, name=name).encode("utf-8")
        if read_current(pair.output) == (data, pair.mode):
            return False
        write_atomic(pair.output, data, pair.mode)
        return True

    @staticmethod
    def _run(command: str, outputs: list[str]) -> None:
        import subprocess  # here, not at start-up: --version and --help stay fast

        try:
            completed = subprocess.run(command, shell=True, check=False,
                                       stdin=subprocess.DEVNULL)
        except OSError as exc:
            logger.warning("on-change command for %s: cannot run: %s", ", ".join(outputs),
                           exc.strerror or type(exc).__name__)
            return
        if completed.returncode != 0:
            logger.warning("on-change command for %s exited %d", ", ".join(outputs),
                           completed.returncode)

    def run(self, interval: float) -> None:
        """Poll every ``interval`` seconds until SIGTERM or SIGINT."""
        stopping: list[int] = []

        def stop(signum: int, frame: Any) -> None:
            stopping.append(signum)

        previous = {signum: signal.signal(signum, stop)
                    for signum in (signal.SIGTERM, signal.SIGINT)}
        try:
            say(f"watching {len(self.pairs)} template{'s' if len(self.pairs) != 1 else ''}, "
                f"every {interval:g} s")
            while not stopping:
                started = time.monotonic()
                self.poll()
                _sleep_until(started + interval, lambda: bool(stopping))
            say("stopped")
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _sleep_until(deadline: float, stop: Callable[[], bool]) -> None:
    """Sleep until ``deadline`` (monotonic) or until ``stop()`` says so."""
    while not stop():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        time.sleep(min(remaining, 0.1))
