"""Scenario 5: a host application's load: 8 threads resolving cached references."""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
import time

from _util import report
from warm import make_stores, template

THREADS = 8


def _threads(stores, source: str, seconds: float) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    stop = time.perf_counter() + seconds
    counts = [0] * THREADS
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def work(index: int) -> None:
        barrier.wait()
        n = 0
        try:
            while time.perf_counter() < stop:
                stores.render_string(source)
                n += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        counts[index] = n

    workers = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return sum(counts), len(errors)


async def _tasks(stores, source: str, seconds: float) -> int:  # type: ignore[no-untyped-def]
    stop = time.perf_counter() + seconds
    count = 0

    async def work() -> None:
        nonlocal count
        while time.perf_counter() < stop:
            await stores.render_string_async(source)
            count += 1

    await asyncio.gather(*(work() for _ in range(THREADS)))
    return count


def run(seconds: float = 3.0) -> None:
    with tempfile.TemporaryDirectory() as home:
        os.environ["SECRETSTORES_HOME"] = home
        stores = make_stores(home)
        source = template()
        stores.render_string(source)
        renders, _ = _threads(stores, source, seconds)
        report("load", f"{THREADS} threads, cached refs (Python API)", renders * 100 / seconds,
               None, "refs/s", comparison=f"{renders / seconds:.0f} renders/s of 100 refs")
        renders = asyncio.run(_tasks(stores, source, seconds))
        report("load", f"{THREADS} asyncio tasks, cached refs (async API)",
               renders * 100 / seconds, None, "refs/s",
               comparison=f"{renders / seconds:.0f} renders/s of 100 refs")
        stores.close()


if __name__ == "__main__":
    run()
