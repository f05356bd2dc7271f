"""The cache under attack: leases, refreshes that fail or are overtaken, a busy or
broken database, writes racing reads, forks, operators bypassing the cache.

Each test holds one guarantee. Other processes are real ones (``run_python``,
the CLI, a process holding the database, ``os.fork``) or a second
:class:`SecretCache` on the same directory, which is what another process has:
its own memory tier, the shared disk tier. Reads are held in flight with the toy
store's ``gate`` and ``hold`` files, never with sleeps; nothing of the project is
mocked, and no assertion is about speed.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import diskcache
import pytest

from secretstores import AccessDeniedError, SecretNotFoundError, Status, TemplateError
from secretstores.api import SecretStores
from secretstores.cache import CachePolicy, Entry, SecretCache
from secretstores.cache import disk as disk_tier
from secretstores.testing import record_events

#: The longest a test waits for something it caused to happen (a generous bound on
#: a background thread, never an assertion about speed).
PATIENCE = 30.0


def _home() -> Path:
    return Path(os.environ["SECRETSTORES_HOME"])


def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait until ``condition()`` holds (fail, naming ``what``, if it never does)."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.005)


def _toy(path: str, *, name: str = "t", **fields: Any) -> dict[str, Any]:
    """A configuration with one toy store over ``path`` (``fields``: the store's own
    settings; ``configuration``: more of the toy's configuration)."""
    configuration = {"path": path, **fields.pop("configuration", {})}
    return {"defaultStores": False,
            "stores": [{"name": name, "type": "toy", "configuration": configuration,
                        **fields}]}


def _edit(path: str, **changes: Any) -> None:
    """Change the toy store's file (``None`` removes a key)."""
    data = json.loads(Path(path).read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    Path(path).write_text(json.dumps(data))


def _reads(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def _refreshed(stores: SecretStores, identifier: str, store: str = "t") -> None:
    """Wait for the background refresh of ``identifier`` (started by the read just made)
    to end, its outcome applied."""
    runtime = stores.runtime(store)
    _until(lambda: identifier not in runtime.refreshing, f"the refresh of {identifier} ended")


#: Refresh-ahead from 0.9 s after a fetch (of a 30 s TTL): one short sleep puts a value in
#: its refresh window, far from the end of its TTL.
REFRESH_SOON = {"cacheTtl": 30}
REFRESH_CACHE = {"refreshAhead": 0.97}
REFRESH_AT = 30 * (1 - 0.97)


class Holder:
    """Another process holding the cache database locked (a write transaction) until
    :meth:`release` (or 20 s pass)."""

    def __init__(self, mark: Path) -> None:
        database = _home() / "cache" / "cache.db"
        assert database.exists()
        self.mark = mark  # written once the database is let go
        code = ("import sqlite3, sys, select, pathlib\n"
                f"c = sqlite3.connect({str(database)!r}, isolation_level=None)\n"
                "c.execute('BEGIN EXCLUSIVE')\n"
                "print('held', flush=True)\n"
                "select.select([sys.stdin], [], [], 20)\n"
                "c.execute('COMMIT')\n"
                f"pathlib.Path({str(mark)!r}).write_text('')\n")
        self.process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        assert self.process.stdout.readline() == "held\n"

    @property
    def holding(self) -> bool:
        """Whether the database is still held."""
        return not self.mark.exists()

    def release(self) -> None:
        """Let the database go, and wait for the process to end."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write("go\n")
            self.process.stdin.close()
        self.process.wait(timeout=PATIENCE)


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[Callable[[], Holder]]:
    """``holder()``: a :class:`Holder` of the cache database (let go after the test)."""
    started: list[Holder] = []

    def hold() -> Holder:
        started.append(Holder(tmp_path / f"released-{len(started)}"))
        return started[-1]

    yield hold
    for process in started:
        process.release()


# -- A: a lease that outlives the TTL ------------------------------------------------------


def test_a_lease_longer_than_the_ttl_ends_the_stale_window(make_stores,
                                                           toy_file: Callable[..., str]
                                                           ) -> None:
    """TTL 1 s, lease 1.5 s, staleIfError 60 s: once the lease has ended, an outage
    is an error, not the leased value (it used to be served for 61 s)."""
    lease = Entry("v", fetched_at=1000.0, expires_at=1003.0)
    policy = CachePolicy(ttl=2, stale_if_error=100)
    assert lease.stale_until(policy) == 1003.0
    assert Entry("v", 1000.0, expires_at=1500.0).stale_until(policy) == 1102.0

    path = toy_file({"k": "leased"})
    definition = _toy(path, cacheTtl=1, staleIfError=60, retries=0,
                      configuration={"lease": 1.5})
    stores = make_stores(definition)
    assert stores.get("t", "k") == "leased"
    _edit(path, __flaky__=10**6)  # the store is down from now on
    time.sleep(1.6)  # past the TTL and the lease
    result = stores.fetch("t", ["k"])["k"]
    assert result.status is Status.UNAVAILABLE and not result.stale
    other = make_stores(definition, cache=SecretCache())  # another process: the disk tier
    result = other.fetch("t", ["k"])["k"]
    assert result.status is Status.UNAVAILABLE and not result.stale


# -- B: what a refresh-ahead did not replace is not held past its TTL ------------------------


def test_a_refresh_that_finds_the_secret_gone_stops_serving_it(make_stores,
                                                               toy_file: Callable[..., str]
                                                               ) -> None:
    """negativeCacheTtl 0: the refresh's "not found" is not cached, and the old value
    it answers for went on being served on the warm path past its TTL."""
    path = toy_file({"k": "old"})
    stores = make_stores({**_toy(path, negativeCacheTtl=0, **REFRESH_SOON),
                          "cache": REFRESH_CACHE})
    assert stores.get("t", "k") == "old"
    time.sleep(REFRESH_AT + 0.1)
    _edit(path, k=None)  # deleted in the store
    assert stores.get("t", "k") == "old"  # in its refresh window: served, refreshed
    _refreshed(stores, "k")
    with pytest.raises(SecretNotFoundError):
        stores.get("t", "k")
    assert stores.render_string("{{ secrets.t.k | default('gone') }}") == "gone"
    other = make_stores(_toy(path, negativeCacheTtl=0, **REFRESH_SOON), cache=SecretCache())
    with pytest.raises(SecretNotFoundError):
        other.get("t", "k")  # not on disk either


def test_a_refresh_left_to_another_process_takes_its_answer(make_stores, tmp_path: Path,
                                                            toy_file: Callable[..., str]
                                                            ) -> None:
    """P's refresh is skipped: Q (another process) is fetching the secret. P used to go
    on serving its old value for the store's whole deadline, past the TTL, ignoring
    Q's answer on disk; it now waits for that answer and serves it."""
    log, gate = tmp_path / "reads.log", tmp_path / "gate"
    gate.write_text("")
    path = toy_file({"k": "old"})
    definition = {**_toy(path, **REFRESH_SOON,
                         configuration={"log": str(log), "gate": str(gate)}),
                  "cache": REFRESH_CACHE}
    p = make_stores(definition, cache=SecretCache())
    q = make_stores(definition, cache=SecretCache())
    assert p.get("t", "k") == "old"
    fetched = time.monotonic()
    gate.unlink()  # reads wait from now on
    _edit(path, k="new")
    q_fetch = threading.Thread(target=lambda: q.runtime("t").fetch_uncached(["k"]))
    q_fetch.start()  # Q takes the secret's lock, its read waits at the gate
    _until(lambda: len(_reads(log)) == 2, "Q's read is in flight")
    time.sleep(max(0.0, fetched + REFRESH_AT + 0.1 - time.monotonic()))
    with record_events(p.plugins) as recorder:
        assert p.get("t", "k") == "old"  # in its refresh window: refreshed in background
        _until(lambda: any(e.background for e in recorder.events), "P's refresh was skipped")
    gate.write_text("")  # Q's read answers, Q caches "new" on disk
    q_fetch.join(PATIENCE)
    _refreshed(p, "k")
    assert p.get("t", "k") == "new"
    assert _reads(log) == ["k", "k"]  # P's refresh asked no store: it took Q's answer


def test_a_refresh_overtaken_by_a_write_elsewhere_drops_the_old_value(
    make_stores, tmp_path: Path, toy_file: Callable[..., str]
) -> None:
    """W (another process) writes while P refreshes: P's answer is rightly not cached,
    and P's old value used to stay held on the warm path past its TTL."""
    log, hold = tmp_path / "reads.log", tmp_path / "hold"
    hold.write_text("")
    path = toy_file({"k": "old"})
    definition = {**_toy(path, readOnly=False, **REFRESH_SOON,
                         configuration={"log": str(log), "hold": str(hold)}),
                  "cache": REFRESH_CACHE}
    p = make_stores(definition, cache=SecretCache())
    w = make_stores(definition, cache=SecretCache())
    assert p.get("t", "k") == "old"
    time.sleep(REFRESH_AT + 0.1)
    hold.unlink()  # answers wait from now on
    assert p.get("t", "k") == "old"  # the refresh reads "old", its answer waits
    _until(lambda: "k held" in _reads(log), "P's refresh read the old value")
    w.put("t", "k", "new")
    hold.write_text("")
    _refreshed(p, "k")
    assert p.get("t", "k") == "new"


# -- C: failed refreshes ----------------------------------------------------------------------


def test_a_refresh_answered_denied_stops_serving_the_value(make_stores,
                                                          toy_file: Callable[..., str]
                                                          ) -> None:
    """Access revoked: the refresh's "denied" used to leave the value served until its
    TTL ended (and on disk, for an outage to serve stale)."""
    path = toy_file({"k": "secret"})
    definition = {**_toy(path, staleIfError=300, retries=0, **REFRESH_SOON),
                  "cache": REFRESH_CACHE}
    stores = make_stores(definition)
    assert stores.get("t", "k") == "secret"
    time.sleep(REFRESH_AT + 0.1)
    _edit(path, __deny__=["k"])
    assert stores.get("t", "k") == "secret"  # refreshed in the background: denied
    _refreshed(stores, "k")
    with pytest.raises(AccessDeniedError):
        stores.get("t", "k")
    _edit(path, __deny__=None, __flaky__=10**6)  # then an outage: nothing to serve stale
    for cache in (stores.cache, SecretCache()):
        result = make_stores(definition, cache=cache).fetch("t", ["k"])["k"]
        assert result.status is Status.UNAVAILABLE and not result.stale


def test_a_refresh_failing_in_an_outage_backs_off(make_stores, tmp_path: Path,
                                                 toy_file: Callable[..., str]) -> None:
    """The store is down: the failed refresh used to release the value, so every read
    started another refresh (one store call per read). The value is served on, and
    the next refresh waits."""
    log = tmp_path / "reads.log"
    path = toy_file({"k": "value"})
    stores = make_stores({**_toy(path, retries=0, **REFRESH_SOON,
                                 configuration={"log": str(log)}),
                          "cache": REFRESH_CACHE})
    assert stores.get("t", "k") == "value"
    time.sleep(REFRESH_AT + 0.1)
    _edit(path, __flaky__=10**6)
    assert stores.get("t", "k") == "value"
    _refreshed(stores, "k")
    assert len(_reads(log)) == 2  # the fetch and the failed refresh
    for _ in range(20):
        assert stores.get("t", "k") == "value"
        assert stores.render_string("{{ secrets.t.k }}") == "value"
    assert stores.fetch("t", ["k"])["k"].value == "value"
    _refreshed(stores, "k")
    assert len(_reads(log)) == 2  # no read started another refresh


# -- D, E, Q: a busy database ---------------------------------------------------------------


def test_a_fetch_begun_while_the_database_was_busy_never_writes_it(
    make_stores, tmp_path: Path, toy_file: Callable[..., str], holder
) -> None:
    """P's fetch began while the database was busy (no disk generation read); W wrote
    the store meanwhile. P's old answer used to reach the disk, undoing W's write for
    every process for the TTL."""
    log, hold = tmp_path / "reads.log", tmp_path / "hold"
    path = toy_file({"k": "old"})
    definition = _toy(path, readOnly=False, configuration={"log": str(log), "hold": str(hold)})
    p = make_stores(definition, cache=SecretCache())
    w = make_stores(definition, cache=SecretCache())
    p.cache.stats(), w.cache.stats()  # both have the database open
    busy = holder()
    answer: list[str] = []
    reading = threading.Thread(target=lambda: answer.append(p.get("t", "k")))
    reading.start()  # the cache is busy: a miss, no generation; the read waits at "hold"
    _until(lambda: "k held" in _reads(log), "P's read of the old value")
    busy.release()
    w.put("t", "k", "new")  # written, and the disk tier's generation advanced
    time.sleep(disk_tier.BUSY_PAUSE)  # P's disk tier is usable again
    hold.write_text("")
    reading.join(PATIENCE)
    assert answer == ["old"]  # (in flight during the write: fine)
    later = make_stores(definition, cache=SecretCache())
    assert later.get("t", "k") == "new"  # P's answer did not reach the disk


def test_a_busy_database_does_not_hold_up_the_first_use_of_the_cache(
    make_stores, toy_file: Callable[..., str], holder
) -> None:
    """A process opening a cache database another process holds used to wait as long as
    it was held (diskcache retries its set-up for a minute): now it is a miss."""
    path = toy_file({"k": "v"})
    make_stores(_toy(path), cache=SecretCache()).get("t", "k")  # the database exists
    busy = holder()
    fresh = make_stores(_toy(path), cache=SecretCache())
    assert fresh.get("t", "k") == "v"
    assert busy.holding  # answered while the database was still held


def test_a_busy_database_is_waited_for_once_per_render(make_stores, tmp_path: Path,
                                                       toy_file: Callable[..., str], holder,
                                                       caplog: pytest.LogCaptureFixture
                                                       ) -> None:
    """Four stores: each used to wait for the busy database on its own, three times
    (lock, write, unlock), one after another. Once is enough: the disk tier is then
    left alone for a while."""
    definition: dict[str, Any] = {"defaultStores": False, "stores": [
        {"name": f"s{n}", "type": "toy",
         "configuration": {"path": toy_file({"k": f"v{n}"}, name=f"t{n}.json")}}
        for n in range(4)]}
    stores = make_stores(definition, cache=SecretCache())
    stores.cache.stats()
    busy = holder()
    caplog.set_level(logging.WARNING, logger="secretstores.cache")
    template = "".join(f"{{{{ secrets.s{n}.k }}}}" for n in range(4))
    assert stores.render_string(template) == "v0v1v2v3"
    assert busy.holding
    waits = [r for r in caplog.records if "busy" in r.getMessage()]
    assert len(waits) == 1, [r.getMessage() for r in waits]


# -- G: a disk hit racing a write in the same process ----------------------------------------


ROUNDS = 200


def test_a_disk_hit_during_a_write_never_puts_the_old_value_in_memory(
    make_stores, tmp_path: Path
) -> None:
    """Another process cached "old" on disk; here, a read and a write race. After
    put() returned, the read that found "old" on disk used to keep it in this
    process's memory for the TTL (about one race in ten)."""
    definition = {"defaultStores": False, "stores": [
        {"name": "s", "type": "db", "configuration": {"url": f"sqlite:///{tmp_path}/c.db"}}]}
    elsewhere = make_stores(definition, cache=SecretCache())
    here = make_stores(definition, cache=SecretCache())
    stale = []
    for n in range(ROUNDS):
        key = f"k{n}"
        elsewhere.put("s", key, "old")
        assert elsewhere.get("s", key) == "old"  # on disk; never read here yet
        start = threading.Barrier(2, timeout=PATIENCE)

        def read(key: str = key, start: threading.Barrier = start) -> None:
            start.wait()
            here.get("s", key)

        def write(key: str = key, start: threading.Barrier = start) -> None:
            start.wait()
            here.put("s", key, "new")

        threads = [threading.Thread(target=read), threading.Thread(target=write)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(PATIENCE)
        if here.get("s", key) != "new":
            stale.append(key)
    assert stale == []


# -- H: forks ---------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_a_thread_uses_the_disk_tier_can_use_it(
    make_stores, toy_file: Callable[..., str]
) -> None:
    """A parent thread keeps writing and reading the cache; children forked meanwhile
    used to inherit its SQLite transaction halfway and hang on their first cache use
    (about one child in six)."""
    path = toy_file({"k": "v"})
    stores = make_stores(_toy(path, readOnly=False))
    assert stores.get("t", "k") == "v"
    stop = threading.Event()

    def busy() -> None:
        n = 0
        while not stop.is_set():
            stores.put("t", "x", str(n))
            stores.get("t", "x")
            n += 1

    worker = threading.Thread(target=busy)
    worker.start()
    statuses = []
    try:
        for _ in range(24):
            pid = os.fork()
            if pid == 0:  # the child: its cache must work (a hung one is killed)
                signal.alarm(15)
                code = 1
                try:
                    stores.invalidate("t")
                    code = 0 if stores.get("t", "k") == "v" else 1
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            statuses.append(os.waitstatus_to_exitcode(status))
    finally:
        stop.set()
        worker.join(PATIENCE)
    assert statuses == [0] * 24  # -14: killed by the alarm, hung


# -- N: a write without the cache --------------------------------------------------------------


def _cli(config: Path, *args: str, value: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "secretstores.cli", "-c", str(config), *args],
                          input=value, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("bypass", [["--no-cache"], []])
def test_a_write_that_bypasses_the_cache_still_drops_the_cached_value(
    tmp_path: Path, bypass: list[str]
) -> None:
    """``--no-cache put`` (or a configuration with the cache disabled) wrote the store
    and left the old value in the shared cache for every other command's TTL."""
    data: dict[str, Any] = {"stores": [{"name": "s", "type": "db", "configuration": {
        "url": f"sqlite:///{tmp_path}/c.db"}}]}
    config, writer = tmp_path / "c.json", tmp_path / "writer.json"
    config.write_text(json.dumps(data))
    writer.write_text(json.dumps(data if bypass else {**data, "cache": {"enabled": False}}))
    assert _cli(config, "put", "s", "k", value="old").returncode == 0
    assert _cli(config, "get", "s", "k").stdout == "old\n"  # cached on disk now
    assert _cli(writer, *bypass, "put", "s", "k", value="new").returncode == 0
    assert _cli(config, "get", "s", "k").stdout == "new\n"
    assert _cli(writer, *bypass, "delete", "s", "k").returncode == 0
    gone = _cli(config, "get", "s", "k")
    assert gone.returncode == 1 and "no secret named 'k'" in gone.stderr


def test_a_disabled_cache_with_no_database_creates_none(make_stores, tmp_path: Path,
                                                        isolated_home: Path) -> None:
    stores = make_stores({"cache": {"enabled": False}, "stores": [
        {"name": "s", "type": "db", "configuration": {"url": f"sqlite:///{tmp_path}/c.db"}}]})
    stores.put("s", "k", "v")
    stores.delete("s", "k")
    assert not (isolated_home / "cache").exists()
    assert not (isolated_home / "data" / "keys" / "cache.key").exists()


# -- F and stats --------------------------------------------------------------------------------


def test_warm_path_hits_are_counted_in_cache_stats(make_stores, tmp_path: Path,
                                                   toy_file: Callable[..., str]) -> None:
    """The warm paths (``get`` and a render's prefetch) count their memory hits (an
    integer addition); the counts reach ``cache stats`` with the others."""
    path = toy_file({"k": "v"})
    stores = make_stores(_toy(path))
    assert stores.get("t", "k") == "v"  # from the store
    for _ in range(100):
        assert stores.get("t", "k") == "v"
    for _ in range(100):  # one reference written twice: one lookup, one hit
        assert stores.render_string("{{ secrets.t.k }}{{ secrets.t.k }}") == "vv"
    stores.close()
    config = tmp_path / "c.json"
    config.write_text(json.dumps(_toy(path)))
    stats = json.loads(_cli(config, "cache", "stats", "--json").stdout)
    assert stats["hits"]["memory"] == 200 and stats["hits"]["store"] == 1
    assert stats["hit_ratio"] == pytest.approx(200 / 201)


def test_cache_stats_counts_only_entries_and_locks_in_force(make_stores,
                                                            toy_file: Callable[..., str]
                                                            ) -> None:
    path = toy_file({f"k{i}": "v" for i in range(5)})
    stores = make_stores(_toy(path, cacheTtl=1, staleIfError=0))
    for i in range(5):
        stores.get("t", f"k{i}")
    runtime = stores.runtime("t")
    taken, _ = stores.cache.lock(runtime.scope, runtime.cache_policy, ["a", "b"], 1.0)
    assert taken == {"a", "b"}
    stats = stores.cache.stats()
    assert (stats["entries"], stats["locks"]) == (5, 2)
    time.sleep(1.1)  # every entry and lock has expired (diskcache has not deleted them)
    stats = stores.cache.stats()
    assert (stats["entries"], stats["locks"]) == (0, 0)


# -- damage is corruption only ---------------------------------------------------------------


def test_an_unopenable_database_is_a_miss_not_damage(make_stores, toy_file: Callable[..., str],
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """A database that cannot be opened (here: a directory in its place; in life a full
    disk, a read-only mount, an I/O error) is not corrupt: the cache directory used to
    be moved aside (and every process's entries with it)."""
    path = toy_file({"k": "v"})
    cache = _home() / "cache"
    (cache / "cache.db").mkdir(parents=True)
    caplog.set_level(logging.WARNING, logger="secretstores.cache")
    stores = make_stores(_toy(path))
    assert stores.get("t", "k") == "v"
    assert stores.get("t", "k") == "v"
    assert [p.name for p in _home().iterdir() if p.name.startswith("cache.")] == []
    assert (cache / "cache.db").is_dir()
    failures = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 1, failures  # once, not per operation


def test_a_corrupt_database_is_still_moved_aside(make_stores, toy_file: Callable[..., str],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    path = toy_file({"k": "v"})
    make_stores(_toy(path), cache=SecretCache()).get("t", "k")
    with diskcache.Cache(str(_home() / "cache")):
        pass
    (_home() / "cache" / "cache.db").write_bytes(os.urandom(4096))
    stores = make_stores(_toy(path), cache=SecretCache())
    assert stores.get("t", "k") == "v"
    assert any(p.name.startswith("cache.damaged-") for p in _home().iterdir())
    assert "could not be read" in caplog.text


# -- the db store's identity on first use -----------------------------------------------


def test_the_first_process_caches_under_the_identity_later_ones_compute(
        make_stores, tmp_path: Path) -> None:
    # No master key yet: the first process makes it. Its cache entries must be found by
    # the next process (same key), which they are not if the first one's identity was
    # that of "no key file".
    definition = {"defaultStores": False, "stores": [{
        "name": "d", "type": "db", "readOnly": False,
        "configuration": {"url": f"sqlite:///{tmp_path}/first.db"}}]}
    assert not (_home() / "data" / "keys" / "master.key").exists()
    first = make_stores(definition)
    assert first.render_string("{{ secrets.d.k | default('none') }}") == "none"
    first.close()
    second = make_stores(definition)
    with record_events(second.plugins) as recorder:
        assert second.render_string("{{ secrets.d.k | default('none') }}") == "none"
    [event] = [e for e in recorder.events if e.operation == "fetch"]
    assert event.sources == {"k": "negative"}  # the first process's answer, from disk


# -- a read asked for after a write ---------------------------------------------------------


def test_a_read_after_a_write_never_joins_a_fetch_begun_before_it(
        make_stores, tmp_path: Path, toy_file: Callable[..., str]) -> None:
    """A get() in flight read "old" and waits; put("new") returns; a get() asked for
    after that used to join the fetch in flight and answer "old"."""
    log, hold = tmp_path / "reads.log", tmp_path / "hold"
    path = toy_file({"k": "old"})
    stores = make_stores(_toy(path, readOnly=False,
                              configuration={"log": str(log), "hold": str(hold)}))
    answers: dict[str, str] = {}

    def get(label: str) -> None:
        answers[label] = stores.get("t", "k")

    before = threading.Thread(target=get, args=("before",))
    before.start()
    _until(lambda: _reads(log).count("k held") == 1, "the first read has the old value")
    stores.put("t", "k", "new")
    after = threading.Thread(target=get, args=("after",))
    after.start()
    _until(lambda: _reads(log).count("k held") == 2, "the read after the write asked the store")
    hold.write_text("")
    for thread in (before, after):
        thread.join(PATIENCE)
    assert answers == {"before": "old", "after": "new"}
    assert stores.get("t", "k") == "new"


# -- damaged pieces of the cache --------------------------------------------------------------


def test_a_damaged_generation_counter_still_lets_a_write_invalidate(
        make_stores, toy_file: Callable[..., str]) -> None:
    path = toy_file({"k": "old"})
    definition = _toy(path, readOnly=False)
    reader = make_stores(definition, cache=SecretCache())
    reader.invalidate("t")  # the store's generation counter now exists on disk
    assert reader.get("t", "k") == "old"  # cached on disk
    with diskcache.Cache(str(_home() / "cache"), **disk_tier._SETTINGS) as db:
        counters = [key for key in db.iterkeys() if str(key).startswith("g:")]
        assert counters
        for key in counters:
            db.set(key, "not a number")
    make_stores(definition, cache=SecretCache()).put("t", "k", "new")
    assert make_stores(definition, cache=SecretCache()).get("t", "k") == "new"


def test_a_cache_key_file_that_cannot_be_read_keeps_the_cache_in_memory(
        make_stores, toy_file: Callable[..., str], caplog: pytest.LogCaptureFixture) -> None:
    key_file = _home() / "data" / "keys" / "cache.key"
    key_file.mkdir(parents=True)  # a directory where the key file should be
    stores = make_stores(_toy(toy_file({"k": "v"})))
    with caplog.at_level(logging.WARNING, logger="secretstores"):
        assert stores.render_string("{{ secrets.t.k }}") == "v"
        assert stores.render_string("{{ secrets.t.k }}") == "v"
    assert f"the cache key file {key_file} cannot be used" in caplog.text
    assert not (_home() / "cache" / "cache.db").exists()


def test_a_provider_failing_unexpectedly_is_not_an_outage_to_ride_out(
        make_stores, toy_file: Callable[..., str]) -> None:
    """A hook raising something that is not a store error (a bug, an unmapped login
    refusal) used to count as an outage: the stale value was served."""
    path = toy_file({"k": "cached-value"})
    stores = make_stores(_toy(path, cacheTtl=1, staleIfError=60))
    assert stores.render_string("{{ secrets.t.k }}") == "cached-value"
    _edit(path, __crash__=True)
    time.sleep(1.1)  # past the TTL, well inside staleIfError
    with pytest.raises(TemplateError, match="RuntimeError") as info:
        stores.render_string("{{ secrets.t.k }}")
    assert "cached-value" not in str(info.value)
