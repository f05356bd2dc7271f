"""``--verbose``: where each secret came from and how long each store took, on stderr.

A plugin observing store events (``secretstores_event``), registered by the CLI
when asked: one line per identifier of a fetch (``memory``, ``disk``, ``store``,
``shared``, ``stale``, ``negative``), one per other operation. Events carry no
value, so neither does the report.
"""

from __future__ import annotations

import click

from secretstores import StoreEvent, hookimpl


class Reporter:
    """Prints store events to stderr."""

    @hookimpl
    def secretstores_event(self, event: StoreEvent) -> None:
        took = f"{event.duration * 1000:.1f} ms"
        prefix = f"secretstores: store '{event.store}':"
        if event.operation != "fetch":
            outcome = f"failed: {event.error}" if event.error else "ok"
            click.echo(f"{prefix} {event.operation} {outcome} ({took})", err=True)
            return
        for identifier in event.identifiers:
            source = event.sources.get(identifier, "store")
            status = event.outcomes.get(identifier)
            shown = "" if status is None or status.value == "found" else f", {status.value}"
            background = " in the background" if event.background else ""
            click.echo(f"{prefix} {identifier}: {source}{shown}{background} ({took})",
                       err=True)
