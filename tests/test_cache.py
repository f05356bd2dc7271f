"""The cache: whose value, how fresh, refresh-ahead, stale-on-error, damage, sharing.

Entries are manipulated through diskcache's own API on the same directory (moving
an entry's expiry, flipping a byte, swapping two) or by short TTLs; other
processes are real ones (``run_python``). Nothing of the project is mocked.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import diskcache
import pytest

from secretstores import ConfigError, SecretNotFoundError, Status, TemplateError
from secretstores.api import SecretStores
from secretstores.cache import SecretCache
from secretstores.testing import CANARY, count_fetch_calls, record_events


def _config(tmp_path: Path, **store: object) -> dict[str, object]:
    return {"defaultStores": ["env"], "stores": [
        {"name": "s", "type": "db", "configuration": {"url": f"sqlite:///{tmp_path}/c.db"},
         **store}]}


def _home() -> Path:
    return Path(os.environ["SECRETSTORES_HOME"])


def _entries() -> diskcache.Cache:
    return diskcache.Cache(str(_home() / "cache"))


def _value_keys(disk: diskcache.Cache) -> list[str]:
    return [key for key in disk.iterkeys() if str(key).startswith("v:")]


def _fetches(stores: SecretStores, name: str, expected: str, store: str = "s") -> int:
    with count_fetch_calls(stores.plugins) as calls:
        assert stores.get(store, name) == expected
    return len(calls)


def _cli(*args: str, env: dict[str, str] | None = None,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "secretstores.cli", *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, cwd=cwd)


# -- TTLs -------------------------------------------------------------------------------


def test_default_ttl_is_60_seconds_and_kept_for_the_stale_window(make_stores,
                                                                  tmp_path: Path) -> None:
    stores = make_stores(_config(tmp_path))
    stores.put("s", "k", "v")
    assert _fetches(stores, "k", "v") == 1
    assert _fetches(stores, "k", "v") == 0
    assert stores.runtime("s").cache_policy.ttl == 60
    with _entries() as disk:
        [key] = _value_keys(disk)
        _, expire_time = disk.get(key, expire_time=True)
    assert 350 < expire_time - time.time() <= 360  # 60 s fresh + 300 s staleIfError


def test_expired_entry_is_fetched_again(make_stores, tmp_path: Path) -> None:
    stores = make_stores(_config(tmp_path, cacheTtl=1, staleIfError=0))
    stores.put("s", "k", "v")
    assert _fetches(stores, "k", "v") == 1
    assert _fetches(stores, "k", "v") == 0
    time.sleep(1.1)
    assert _fetches(stores, "k", "v") == 1
    fresh = make_stores(_config(tmp_path, cacheTtl=1))  # a new process: the disk tier
    assert _fetches(fresh, "k", "v") == 0


def test_ttl_zero_disables(make_stores, tmp_path: Path) -> None:
    stores = make_stores(_config(tmp_path, cacheTtl=0))
    stores.put("s", "k", "v")
    assert [_fetches(stores, "k", "v") for _ in range(3)] == [1, 1, 1]
    with count_fetch_calls(stores.plugins) as calls:
        stores.render_string("{{ secrets.s.k }}")
        stores.render_string("{{ secrets.s.k | default('x') }}{{ secrets.s.nope | default('') }}")
    assert len(calls) == 2
    with _entries() as disk:
        assert _value_keys(disk) == []


def test_cache_disabled_in_configuration(make_stores, tmp_path: Path) -> None:
    stores = make_stores({**_config(tmp_path), "cache": {"enabled": False}})
    stores.put("s", "k", "v")
    assert [_fetches(stores, "k", "v") for _ in range(2)] == [1, 1]


def test_a_stores_own_ttl_applies_when_reading_a_shared_entry(make_stores,
                                                              tmp_path: Path) -> None:
    """A sibling over the same backend caches for an hour; a store with cacheTtl 1
    does not take that entry after its own second is over."""
    url = f"sqlite:///{tmp_path}/one.db"
    stores = make_stores({"defaultStores": False, "stores": [
        {"name": "long", "type": "db", "configuration": {"url": url}, "cacheTtl": 3600},
        {"name": "short", "type": "db", "configuration": {"url": url}, "cacheTtl": 1,
         "staleIfError": 0}]})
    stores.put("long", "k", "v1")
    assert _fetches(stores, "k", "v1", store="long") == 1
    assert _fetches(stores, "k", "v1", store="short") == 0  # fresh for it too: shared
    time.sleep(1.1)
    assert _fetches(stores, "k", "v1", store="long") == 0  # an hour for the sibling
    assert _fetches(stores, "k", "v1", store="short") == 1  # but not for this store
    other = make_stores({"defaultStores": False, "stores": [
        {"name": "short", "type": "db", "configuration": {"url": url}, "cacheTtl": 1}]})
    assert _fetches(other, "k", "v1", store="short") == 0  # the refetch refreshed the entry


def test_a_store_with_ttl_0_never_reads_a_sibling_stores_cache(make_stores,
                                                               tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/one.db"
    stores = make_stores({"defaultStores": False, "stores": [
        {"name": "cached", "type": "db", "configuration": {"url": url}},
        {"name": "live", "type": "db", "configuration": {"url": url}, "cacheTtl": 0}]})
    stores.put("cached", "k", "old")
    assert stores.render_string("{{ secrets.cached.k }}") == "old"  # now in the memory tier
    import sqlite3

    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        connection.execute("DELETE FROM secretstores_secrets")
    assert stores.render_string("{{ secrets.cached.k }}") == "old"
    assert stores.render_string("{{ secrets.live.k | default('gone') }}") == "gone"
    with pytest.raises(SecretNotFoundError):
        stores.get("live", "k")


@pytest.mark.parametrize(("field", "value"), [
    ("ttl", float("nan")), ("ttl", float("inf")), ("ttl", -1), ("ttl", 10**9),
    ("staleIfError", float("inf")), ("negativeTtl", -5), ("refreshAhead", 1),
    ("memoryEntries", 0)])
def test_ttls_must_be_finite_non_negative(make_stores, field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"cache.{field}"):
        make_stores({"cache": {field: value}})


def test_a_store_ttl_must_be_finite(make_stores, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cacheTtl: expected a finite number") as info:
        make_stores(_config(tmp_path, cacheTtl=float("nan")))
    assert "nan" in str(info.value)


# -- whose value --------------------------------------------------------------------------


def test_environment_values_never_cross_processes(tmp_path: Path) -> None:
    """TOKEN=alpha then TOKEN=beta, two processes: each sees its own (beta saw alpha)."""
    template = tmp_path / "t.j2"
    template.write_text("T={{ secrets.env.TOKEN }}\n")
    first = _cli("render", str(template), env={"TOKEN": "alpha"})
    second = _cli("render", str(template), env={"TOKEN": "beta"})
    assert (first.stdout, second.stdout) == ("T=alpha\n", "T=beta\n"), first.stderr
    with _entries() as disk:
        assert _value_keys(disk) == []  # process-local: never on the shared disk tier


def test_a_changed_master_key_never_serves_values_of_the_old_one(make_stores,
                                                                 tmp_path: Path,
                                                                 monkeypatch) -> None:
    monkeypatch.setenv("SECRETSTORES_MASTER_KEY", "first master key material " * 3)
    stores = make_stores(_config(tmp_path))
    stores.put("s", "k", CANARY)
    assert _fetches(stores, "k", CANARY) == 1  # cached on disk now
    monkeypatch.setenv("SECRETSTORES_MASTER_KEY", "second master key material " * 3)
    other = make_stores(_config(tmp_path))  # another process, another key
    result = other.fetch("s", ["k"])["k"]
    assert result.status is Status.DENIED  # the store's answer, not the cached value
    assert "another master key" in result.message


def test_values_never_on_disk_in_clear(make_stores, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANARY_VAR", CANARY + "-env")
    stores = make_stores(_config(tmp_path))
    stores.put("s", "db_value", CANARY + "-db")
    stores.put("s", "json_value", '{"password": "' + CANARY + '-json"}')
    stores.invalidate()
    out = stores.render_string(
        "{{ secrets.s.db_value }} {{ secrets.s.json_value.password }} {{ secrets.env.CANARY_VAR }}")
    assert out == f"{CANARY}-db {CANARY}-json {CANARY}-env"
    stores.render_string("{{ secrets.s.nope | default('') }}")  # a cached "not found" too
    stores.close()
    files = [p for root in (_home(), tmp_path) for p in root.rglob("*") if p.is_file()]
    assert any(p.is_relative_to(_home() / "cache") for p in files)
    for path in files:
        data = path.read_bytes()
        assert CANARY.encode() not in data, path
        assert CANARY.encode("utf-16-le") not in data, path
        if path.is_relative_to(_home() / "cache"):  # identifiers are not readable either
            assert b"db_value" not in data and b"CANARY_VAR" not in data, path
            assert b"nope" not in data, path


def test_permissions_and_key_outside_cache(make_stores, tmp_path: Path) -> None:
    stores = make_stores(_config(tmp_path))
    stores.put("s", "k", "v")
    stores.get("s", "k")
    cache_dir = _home() / "cache"
    key_file = _home() / "data" / "keys" / "cache.key"
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not key_file.resolve().is_relative_to(cache_dir.resolve())
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700


def test_cache_key_from_environment(make_stores, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETSTORES_CACHE_KEY", "first key material " * 3)
    stores = make_stores(_config(tmp_path))
    stores.put("s", "k", "v")
    assert _fetches(stores, "k", "v") == 1
    assert not (_home() / "data" / "keys" / "cache.key").exists()
    # same key, new memory tier: served from disk
    assert _fetches(make_stores(_config(tmp_path)), "k", "v") == 0
    # another key cannot read those entries: a miss, not a crash
    monkeypatch.setenv("SECRETSTORES_CACHE_KEY", "second key material " * 3)
    assert _fetches(make_stores(_config(tmp_path)), "k", "v") == 1


def test_shared_between_processes(make_stores, tmp_path: Path, run_python) -> None:
    stores = make_stores(_config(tmp_path))
    stores.put("s", "shared", CANARY)
    assert _fetches(stores, "shared", CANARY) == 1
    stores.close()
    # the row is gone from the store: only the cache can still answer
    import sqlite3

    with sqlite3.connect(tmp_path / "c.db") as connection:
        assert connection.execute("DELETE FROM secretstores_secrets").rowcount == 1
    result = run_python(f"""
        from secretstores.api import SecretStores
        from secretstores.testing import count_fetch_calls
        stores = SecretStores.from_dict({_config(tmp_path)!r})
        with count_fetch_calls(stores.plugins) as calls:
            value = stores.render_string("{{{{ secrets.s.shared }}}}")
        print(value == {CANARY!r}, len(calls))
    """)
    assert result.stdout.split() == ["True", "0"]


# -- integrity and damage ------------------------------------------------------------------


def _two_cached(make_stores, tmp_path: Path) -> tuple[list[str], SecretStores]:
    stores = make_stores(_config(tmp_path))
    stores.put("s", "a", "value-a")
    stores.put("s", "b", "value-b")
    stores.render_string("{{ secrets.s.a }}{{ secrets.s.b }}")
    with _entries() as disk:
        keys = _value_keys(disk)
    assert len(keys) == 2
    return keys, stores


def test_tampered_entry_is_a_miss(make_stores, tmp_path: Path,
                                  caplog: pytest.LogCaptureFixture) -> None:
    keys, _ = _two_cached(make_stores, tmp_path)
    with _entries() as disk:
        blob = bytearray(disk.get(keys[0]))
        blob[len(blob) // 2] ^= 0x01
        disk.set(keys[0], bytes(blob), expire=60)
    fresh = make_stores(_config(tmp_path))
    with count_fetch_calls(fresh.plugins) as calls:
        assert fresh.render_string("{{ secrets.s.a }} {{ secrets.s.b }}") == "value-a value-b"
    assert len(calls) == 1 and len(calls[0][1]) == 1  # only the tampered one was fetched
    assert "integrity" in caplog.text


def test_swapped_entries_are_misses(make_stores, tmp_path: Path) -> None:
    keys, _ = _two_cached(make_stores, tmp_path)
    with _entries() as disk:
        first, second = disk.get(keys[0]), disk.get(keys[1])
        disk.set(keys[0], second, expire=60)
        disk.set(keys[1], first, expire=60)
    fresh = make_stores(_config(tmp_path))
    with count_fetch_calls(fresh.plugins) as calls:
        assert fresh.render_string("{{ secrets.s.a }} {{ secrets.s.b }}") == "value-a value-b"
    assert sorted(calls[0][1]) == ["a", "b"]


@pytest.mark.parametrize("garbage", [b"", b"short", "a string", 12345, None])
def test_garbage_entry_is_a_miss(make_stores, tmp_path: Path, garbage: object) -> None:
    keys, _ = _two_cached(make_stores, tmp_path)
    with _entries() as disk:
        disk.set(keys[0], garbage, expire=60)
    fresh = make_stores(_config(tmp_path))
    assert fresh.render_string("{{ secrets.s.a }} {{ secrets.s.b }}") == "value-a value-b"


def test_raising_an_entrys_expiry_on_disk_does_not_keep_it_fresh(make_stores,
                                                                  tmp_path: Path) -> None:
    """The fetch time is inside the authenticated entry: the disk's expiry cannot
    extend it (it used to be the only clock)."""
    stores = make_stores(_config(tmp_path, cacheTtl=1, staleIfError=0))
    stores.put("s", "k", "v")
    assert _fetches(stores, "k", "v") == 1
    with _entries() as disk:
        [key] = _value_keys(disk)
        assert disk.touch(key, expire=3600)
    time.sleep(1.1)
    fresh = make_stores(_config(tmp_path, cacheTtl=1, staleIfError=0))
    assert _fetches(fresh, "k", "v") == 1


@pytest.mark.parametrize("command", [["get", "s", "k"], ["render", "t.j2"], ["put", "s", "k2"],
                                     ["cache", "clear"], ["cache", "stats"]])
def test_a_corrupt_cache_database_is_moved_aside(tmp_path: Path, command: list[str]) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps(_config(tmp_path)))
    (tmp_path / "t.j2").write_text("{{ secrets.s.k }}\n")
    subprocess.run([sys.executable, "-m", "secretstores.cli", "-c", str(config), "put", "s",
                    "k"], input="value", text=True, check=True, capture_output=True)
    assert _cli("-c", str(config), "get", "s", "k").stdout == "value\n"
    database = _home() / "cache" / "cache.db"
    database.write_bytes(os.urandom(4096))
    result = subprocess.run([sys.executable, "-m", "secretstores.cli", "-c", str(config),
                             *command], input="v2", capture_output=True, text=True, timeout=120,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if "could not be read" in line]
    assert len(warnings) == 1 and "moved to" in warnings[0]
    assert any(p.name.startswith("cache.damaged-") for p in _home().iterdir())
    again = _cli("-c", str(config), "get", "s", "k")  # the new database works
    assert again.returncode == 0 and "could not be read" not in again.stderr


# -- invalidation and writes ------------------------------------------------------------------


def test_invalidate_one_secret_one_store_everything(make_stores, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E1", "e1")
    stores = make_stores({**_config(tmp_path, mappings=[{"name": "m", "secretIdentifier": "a"}])})
    stores.put("s", "a", "A")
    stores.put("s", "b", "B")
    template = "{{ secrets.s.a }}{{ secrets.s.b }}{{ secrets.env.E1 }}"

    def fetched() -> list[tuple[str, list[str]]]:
        with count_fetch_calls(stores.plugins) as calls:
            assert stores.render_string(template) == "ABe1"
        return sorted((name, sorted(ids)) for name, ids in calls)

    assert fetched() == [("env", ["E1"]), ("s", ["a", "b"])]
    assert fetched() == []
    assert stores.invalidate("s", "m") == 1  # a mapping name drops its identifier's entry
    assert fetched() == [("s", ["a"])]
    assert stores.invalidate("s") == 2
    assert fetched() == [("s", ["a", "b"])]
    assert stores.invalidate() >= 2
    assert fetched() == [("env", ["E1"]), ("s", ["a", "b"])]


def test_put_invalidates_the_cached_value(make_stores, tmp_path: Path) -> None:
    stores = make_stores(_config(tmp_path))
    stores.put("s", "k", "old")
    assert stores.render_string("{{ secrets.s.k }}") == "old"
    stores.put("s", "k", "new")
    assert stores.render_string("{{ secrets.s.k }}") == "new"
    assert stores.get("s", "k") == "new"
    stores.delete("s", "k")
    assert stores.render_string("{{ secrets.s.k | default('gone') }}") == "gone"


def test_a_write_through_the_manager_refreshes_local(make_stores) -> None:
    stores = make_stores(None)  # local, and a DB manager over the same database
    stores.put("local", "shared", "old")
    assert stores.get("local", "shared") == "old"  # cached now
    stores.put("manager", "shared", "new")
    assert stores.get("local", "shared") == "new"


def test_not_found_is_cached_briefly_and_dropped_by_a_write(make_stores,
                                                            tmp_path: Path) -> None:
    stores = make_stores(_config(tmp_path, negativeCacheTtl=1))
    template = "{{ secrets.s.k | default('none') }}"
    with count_fetch_calls(stores.plugins) as calls:
        assert [stores.render_string(template) for _ in range(5)] == ["none"] * 5
    assert len(calls) == 1  # every render of `| default` used to ask the store again
    stores.put("s", "k", "now-here")  # a write drops the cached "not found"
    assert stores.render_string(template) == "now-here"
    # written elsewhere (another process): seen once the negative TTL ends
    stores.delete("s", "k")
    assert stores.render_string(template) == "none"
    writer = make_stores({"stores": [{"name": "w", "type": "db", "configuration": {
        "url": f"sqlite:///{tmp_path}/c.db"}}]}, cache=SecretCache(tmp_path / "other-cache"))
    writer.put("w", "k", "from-elsewhere")
    time.sleep(1.1)
    assert stores.render_string(template) == "from-elsewhere"


def test_a_read_in_flight_in_another_process_cannot_undo_a_write(
    make_stores, tmp_path: Path, toy_file: Callable[..., str]
) -> None:
    """Two processes share the disk tier (two SecretCache objects here: separate memory
    tiers, one directory). B's read has the old value in hand, A writes and drops the
    cache, B's answer arrives after the write: it must not reach the shared tier."""
    log, hold = tmp_path / "reads.log", tmp_path / "hold"
    path = toy_file({"k": "old"})
    definition = {"stores": [{"name": "t", "type": "toy", "readOnly": False,
                              "configuration": {"path": path, "log": str(log),
                                                "hold": str(hold)}}],
                  "defaultStores": False}
    a = make_stores(definition, cache=SecretCache())
    b = make_stores(definition, cache=SecretCache())
    answers: list[str | None] = []
    reading = threading.Thread(target=lambda: answers.append(b.fetch("t", ["k"])["k"].value))
    reading.start()
    deadline = time.monotonic() + 30
    while "k held" not in (log.read_text() if log.exists() else ""):  # B read "old"
        assert time.monotonic() < deadline, "B's read never started"
        time.sleep(0.005)
    a.put("t", "k", "new")  # writes, then drops the store's cached values
    hold.write_text("")  # B's answer ("old") arrives now, after the write
    reading.join(30)
    assert answers == ["old"]
    c = make_stores(definition, cache=SecretCache())  # a third process, same store
    assert c.get("t", "k") == "new"  # not B's late "old" from the disk tier


# -- memory tier ----------------------------------------------------------------------------


def test_the_memory_tier_is_bounded(make_stores, tmp_path: Path,
                                    toy_file: Callable[..., str]) -> None:
    path = toy_file({f"k{i}": f"v{i}" for i in range(3000)})
    stores = make_stores({"cache": {"memoryEntries": 200}, "defaultStores": False,
                          "stores": [{"name": "t", "type": "toy",
                                      "configuration": {"path": path}}]})
    for start in range(0, 3000, 500):
        stores.fetch("t", [f"k{i}" for i in range(start, start + 500)])
    assert stores.cache.stats()["memory_entries"] <= 200  # 3,000 stayed before


# -- one fetch per secret ------------------------------------------------------------------


def test_concurrent_misses_in_one_process_make_one_fetch(make_stores,
                                                         toy_file: Callable[..., str],
                                                         tmp_path: Path) -> None:
    log = tmp_path / "reads.log"
    path = toy_file({"k": "v"})
    stores = make_stores({"defaultStores": False, "stores": [{
        "name": "t", "type": "toy",
        "configuration": {"path": path, "delay": 0.3, "log": str(log)}}]})
    start = threading.Barrier(8, timeout=30)

    def get(_: int) -> str:
        start.wait()
        return stores.get("t", "k")

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(get, range(8))) == ["v"] * 8
    assert log.read_text().splitlines() == ["k"]


def test_processes_starting_together_make_one_fetch_per_secret(tmp_path: Path,
                                                               toy_file: Callable[..., str]
                                                               ) -> None:
    log = tmp_path / "reads.log"
    path = toy_file({"a": "A", "b": "B"})
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"defaultStores": False, "stores": [{
        "name": "t", "type": "toy",
        "configuration": {"path": path, "delay": 0.5, "log": str(log)}}]}))
    template = tmp_path / "t.j2"
    template.write_text("{{ secrets.t.a }}{{ secrets.t.b }}\n")
    go = tmp_path / "go"
    code = (f"import os, time, subprocess, sys\n"
            f"while not os.path.exists({str(go)!r}): time.sleep(0.005)\n"
            f"r = subprocess.run([sys.executable, '-m', 'secretstores.cli', '-c', "
            f"{str(config)!r}, 'render', {str(template)!r}], capture_output=True, text=True)\n"
            f"print(r.stdout.strip(), r.returncode)")
    children = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                 text=True) for _ in range(4)]
    time.sleep(1.0)  # every child is waiting
    go.write_text("")
    outputs = [child.communicate(timeout=60)[0].split() for child in children]
    assert outputs == [["AB", "0"]] * 4
    reads = log.read_text().splitlines()
    assert sorted(reads) == ["a", "b"], reads  # not 4 of each


# -- refresh ahead, stale on error --------------------------------------------------------------


def test_steady_load_never_waits_on_the_store_after_warm_up(make_stores,
                                                           toy_file: Callable[..., str]
                                                           ) -> None:
    path = toy_file({"k": "v"})
    stores = make_stores({"cache": {"ttl": 1, "refreshAhead": 0.5}, "defaultStores": False,
                          "stores": [{"name": "t", "type": "toy",
                                      "configuration": {"path": path, "delay": 0.05}}]})
    assert stores.render_string("{{ secrets.t.k }}") == "v"  # warm-up
    with record_events(stores.plugins) as recorder:
        until = time.monotonic() + 3.5  # several TTL periods
        while time.monotonic() < until:
            assert stores.render_string("{{ secrets.t.k }}") == "v"
            time.sleep(0.02)
    fetches = [e for e in recorder.events if e.operation == "fetch"]
    waited = [e for e in fetches if not e.background and "store" in e.sources.values()]
    refreshed = [e for e in fetches if e.background]
    assert waited == []  # every render after warm-up found a value in memory
    assert len(refreshed) >= 3  # the value was refreshed ahead, every TTL period


def test_an_outage_is_ridden_out_with_stale_values_then_fails(make_stores,
                                                             toy_file: Callable[..., str],
                                                             caplog: pytest.LogCaptureFixture
                                                             ) -> None:
    path = toy_file({"k": "cached-value"})
    stores = make_stores({"defaultStores": False, "stores": [{
        "name": "t", "type": "toy", "cacheTtl": 1, "staleIfError": 2, "retries": 0,
        "configuration": {"path": path}}]})
    assert stores.render_string("{{ secrets.t.k }}") == "cached-value"
    data = json.loads(Path(path).read_text())
    data["__flaky__"] = 10**6  # the store fails transiently from now on
    Path(path).write_text(json.dumps(data))
    time.sleep(1.2)  # past the TTL
    caplog.set_level(logging.WARNING)
    with record_events(stores.plugins) as recorder:
        assert stores.render_string("{{ secrets.t.k }}") == "cached-value"  # stale
    [event] = [e for e in recorder.events if e.operation == "fetch"]
    assert event.sources == {"k": "stale"}
    warning = next(r.getMessage() for r in caplog.records if "past its TTL" in r.getMessage())
    assert "store 't' is unavailable" in warning and "fetched up to 1 s ago" in warning
    time.sleep(2.0)  # past the stale window
    with pytest.raises(TemplateError, match=r"secrets\.t\.k: store unavailable: "
                                            "the toy store hiccuped"):
        stores.render_string("{{ secrets.t.k }}")


def test_denied_is_never_served_stale(make_stores, toy_file: Callable[..., str]) -> None:
    path = toy_file({"k": "was-readable"})
    definition = {"name": "t", "type": "toy", "cacheTtl": 1, "staleIfError": 60,
                  "configuration": {"path": path}}
    stores = make_stores({"defaultStores": False, "stores": [definition]})
    assert stores.get("t", "k") == "was-readable"
    time.sleep(1.1)
    revoked = make_stores({"defaultStores": False, "stores": [
        {**definition, "configuration": {"path": path, "deny": ["k"]}}]})
    result = revoked.fetch("t", ["k"])["k"]
    assert result.status is Status.DENIED and not result.stale


def test_misconfiguration_is_never_served_stale(make_stores, toy_file: Callable[..., str],
                                                tmp_path: Path) -> None:
    path = toy_file({"k": "cached"})
    stores = make_stores({"defaultStores": False, "stores": [{
        "name": "t", "type": "toy", "cacheTtl": 1, "staleIfError": 60,
        "configuration": {"path": path}}]})
    assert stores.get("t", "k") == "cached"
    time.sleep(1.1)
    Path(path).write_text("not json any more")
    result = stores.fetch("t", ["k"])["k"]
    assert result.status is Status.UNAVAILABLE and result.message.startswith("misconfigured")


# -- operators ---------------------------------------------------------------------------------


def test_no_cache_bypasses_the_cache_for_one_command(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps(_config(tmp_path)))
    subprocess.run([sys.executable, "-m", "secretstores.cli", "-c", str(config), "put", "s",
                    "k"], input="cached", text=True, check=True, capture_output=True)
    assert _cli("-c", str(config), "get", "s", "k").stdout == "cached\n"  # now cached
    import sqlite3

    with sqlite3.connect(tmp_path / "c.db") as connection:
        connection.execute("DELETE FROM secretstores_secrets")
    assert _cli("-c", str(config), "get", "s", "k").stdout == "cached\n"  # the cache answers
    bypass = _cli("-c", str(config), "--no-cache", "get", "s", "k")
    assert bypass.returncode == 1 and "no secret named 'k'" in bypass.stderr  # the store


def test_verbose_reports_where_each_value_came_from(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps(_config(tmp_path)))
    subprocess.run([sys.executable, "-m", "secretstores.cli", "-c", str(config), "put", "s",
                    "k"], input=CANARY, text=True, check=True, capture_output=True)
    template = tmp_path / "t.j2"
    template.write_text("{{ secrets.s.k }} {{ secrets.s.nope | default('-') }} "
                        "{{ secrets.env.HOME | default('') }}\n")
    first = _cli("-v", "-c", str(config), "render", str(template))
    second = _cli("-v", "-c", str(config), "render", str(template))
    assert first.returncode == second.returncode == 0, first.stderr
    assert "store 's': k: store (" in first.stderr and " ms" in first.stderr
    assert "store 's': nope: store, not found (" in first.stderr
    assert "store 's': k: disk" in second.stderr  # a new process: the disk tier
    assert "store 's': nope: negative, not found" in second.stderr
    assert "store 'env': HOME: store" in second.stderr  # process-local: asked again
    assert CANARY not in first.stderr + second.stderr


def test_cache_stats(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps(_config(tmp_path)))
    subprocess.run([sys.executable, "-m", "secretstores.cli", "-c", str(config), "put", "s",
                    "k"], input="v", text=True, check=True, capture_output=True)
    # put reads the secret before and just before writing (it keeps JSON keys): 2 reads
    before = json.loads(_cli("-c", str(config), "cache", "stats", "--json").stdout)
    assert before["hits"]["store"] == 2 and before["entries"] == 0
    for _ in range(3):
        _cli("-c", str(config), "get", "s", "k")
    result = _cli("-c", str(config), "cache", "stats", "--json")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["entries"] == 1
    assert stats["hits"]["store"] == 2 + 1 and stats["hits"]["disk"] == 2
    assert stats["hit_ratio"] == pytest.approx(2 / 5)
    text = _cli("-c", str(config), "cache", "stats").stdout
    assert "entries" in text and "hit ratio" in text


def test_disabled_cache_creates_no_files(make_stores, isolated_home: Path) -> None:
    stores = make_stores({"cache": {"enabled": False}, "defaultStores": True})
    stores.put("local", "k", "v")
    assert stores.get("local", "k") == "v"
    assert stores.invalidate() == 0
    stores.cache.stats()
    stores.close()
    assert not (isolated_home / "cache").exists()
    assert not (isolated_home / "data" / "keys" / "cache.key").exists()
