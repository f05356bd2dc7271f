"""Scenario 8: a host under steady load across TTL boundaries.

One host thread renders the 100-reference template of scenario 3 (five stores,
real servers behind 20 ms proxies) continuously for several TTL periods of a
short TTL, in a tight loop (the hardest case for the background refreshes, which
compete with it for the GIL). Reported: the median and p99 render time (beside
plain Jinja2's spread in the same loop) and how many renders waited on a store
after warm-up (the cache's counters: answers from a store or another process,
refreshes ahead excluded). Target: p99 at most 2x the median; no render waited. """

from __future__ import annotations

import os
import statistics
import tempfile
import time
from typing import Any

from _util import report

#: The short TTL of scenario 8, in seconds (a twelfth of the default), and how many
#: periods it runs.
TTL, PERIODS = 5.0, 3


def steady() -> None:
    import jinja2
    from cold import Setup

    from secretstores import SecretStores

    with tempfile.TemporaryDirectory() as home:
        os.environ["SECRETSTORES_HOME"] = home
        setup = Setup(home)
        try:
            # The same loop with a TTL that does not end during the run: the spread of
            # a warm render alone, without any refresh.
            unexpiring = SecretStores.from_dict(dict(setup.config, cache={"ttl": 3600}))
            unexpiring.render_string(setup.template)
            quiet = _loop(lambda: unexpiring.render_string(setup.template), 5.0)
            unexpiring.close()
            stores = SecretStores.from_dict(dict(setup.config, cache={"ttl": TTL}))
            stores.render_string(setup.template)  # warm-up: authenticate and fill the cache
            before = stores.cache.stats()
            times = _loop(lambda: stores.render_string(setup.template), TTL * PERIODS)
            after = stores.cache.stats()
            stores.close()
        finally:
            setup.close()
    # The same loop over plain Jinja2: how much a render time varies on this machine.
    plain = jinja2.Environment().from_string(
        "\n".join(f"h{i}: {{{{ v{i} }}}}" for i in range(100)))
    context = {f"v{i}": f"value-{i}" for i in range(100)}
    plain_times = _loop(lambda: plain.render(context), 5.0)
    waited = sum(after.get(k, 0) - before.get(k, 0) for k in ("store", "shared", "stale"))
    refreshed = after.get("refresh", 0) - before.get("refresh", 0)
    median, p99 = statistics.median(times), statistics.quantiles(times, n=100)[98]
    report("steady", f"render 100 refs, TTL {TTL:g} s, {PERIODS} periods: median",
           median * 1e6, None, "us", comparison=f"{len(times)} renders in one thread")
    report("steady", "  p99 render time", p99 * 1e6, median * 1e6, "us",
           comparison="the median", target="<= 2x", met=p99 <= 2 * median)
    report("steady", "  p99/median, same loop, no TTL ending", _spread(quiet), None, "x",
           comparison="the spread of a warm render alone")
    report("steady", "  p99/median, same loop, plain Jinja2", _spread(plain_times), None,
           "x", comparison="the spread of a render on this machine")
    report("steady", "  renders that waited on a store after warm-up", waited, None,
           "count", comparison=f"{refreshed} values refreshed ahead in the background",
           target="0", met=waited == 0)


def _spread(times: list[float]) -> float:
    return statistics.quantiles(times, n=100)[98] / statistics.median(times)


def _loop(render: Any, seconds: float) -> list[float]:
    """Render continuously, one thread, for ``seconds``; every render's duration."""
    times: list[float] = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        start = time.perf_counter()
        render()
        times.append(time.perf_counter() - start)
    return times


def run() -> None:
    steady()
