"""The cache: TTLs, sharing between processes, encryption at rest, integrity, invalidation.

Entries are manipulated through diskcache's own API on the same directory (expiring one,
flipping a byte, swapping two) instead of sleeping or mocking.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import diskcache
import pytest

from secretstores import SecretNotFoundError
from secretstores.api import SecretStores
from secretstores.testing import CANARY, count_fetch_calls


def _config(tmp_path: Path, **store: object) -> dict[str, object]:
    return {"stores": [{"name": "s", "type": "db",
                        "configuration": {"url": f"sqlite:///{tmp_path}/c.db"}, **store}]}


def _home() -> Path:
    return Path(os.environ["SECRETSTORES_HOME"])


def _entries() -> diskcache.Cache:
    return diskcache.Cache(str(_home() / "cache"))


def _fetches(stores: SecretStores, name: str, expected: str) -> int:
    with count_fetch_calls(stores.plugins) as calls:
        assert stores.get("s", name) == expected
    return len(calls)


def test_default_ttl_is_60_seconds(make_stores, tmp_path: Path) -> None:
    stores = make_stores(_config(tmp_path))
    stores.put("s", "k", "v")
    assert _fetches(stores, "k", "v") == 1
    assert _fetches(stores, "k", "v") == 0
    with _entries() as disk:
        [key] = list(disk.iterkeys())
        _, expire_time = disk.get(key, expire_time=True)
    assert 50 < expire_time - time.time() <= 60


def test_per_store_ttl(make_stores, tmp_path: Path) -> None:
    stores = make_stores(_config(tmp_path, cacheTtl=7))
    stores.put("s", "k", "v")
    stores.get("s", "k")
    with _entries() as disk:
        [key] = list(disk.iterkeys())
        _, expire_time = disk.get(key, expire_time=True)
    assert 0 < expire_time - time.time() <= 7


def test_ttl_zero_disables(make_stores, tmp_path: Path) -> None:
    stores = make_stores(_config(tmp_path, cacheTtl=0))
    stores.put("s", "k", "v")
    assert [_fetches(stores, "k", "v") for _ in range(3)] == [1, 1, 1]
    with count_fetch_calls(stores.plugins) as calls:
        stores.render_string("{{ secrets.s.k }}")
        stores.render_string("{{ secrets.s.k }}")
    assert len(calls) == 2
    assert len(_entries()) == 0


def test_cache_disabled_in_configuration(make_stores, tmp_path: Path) -> None:
    stores = make_stores({**_config(tmp_path), "cache": {"enabled": False}})
    stores.put("s", "k", "v")
    assert [_fetches(stores, "k", "v") for _ in range(2)] == [1, 1]


def test_expired_entry_is_fetched_again(make_stores, tmp_path: Path) -> None:
    stores = make_stores(_config(tmp_path))
    stores.put("s", "k", "v")
    assert _fetches(stores, "k", "v") == 1
    with _entries() as disk:
        [key] = list(disk.iterkeys())
        assert disk.touch(key, expire=-1)  # now in the past
    fresh = make_stores(_config(tmp_path))  # a new process would start with an empty memory tier
    assert _fetches(fresh, "k", "v") == 1


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
    stores.close()
    files = [p for root in (_home(), tmp_path) for p in root.rglob("*") if p.is_file()]
    assert any(p.is_relative_to(_home() / "cache") for p in files)
    for path in files:
        data = path.read_bytes()
        assert CANARY.encode() not in data, path
        assert CANARY.encode("utf-16-le") not in data, path
        # identifiers are not readable in the cache either
        if path.is_relative_to(_home() / "cache"):
            assert b"db_value" not in data and b"CANARY_VAR" not in data, path


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


def _two_cached(make_stores, tmp_path: Path) -> tuple[list[str], SecretStores]:
    stores = make_stores(_config(tmp_path))
    stores.put("s", "a", "value-a")
    stores.put("s", "b", "value-b")
    stores.render_string("{{ secrets.s.a }}{{ secrets.s.b }}")
    with _entries() as disk:
        keys = list(disk.iterkeys())
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
    assert stores.invalidate() == 3
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


def test_not_found_is_not_cached(make_stores, tmp_path: Path) -> None:
    stores = make_stores(_config(tmp_path))
    assert stores.render_string("{{ secrets.s.k | default('none') }}") == "none"
    # another store on the same database writes it: nothing tells the first store's cache
    writer = make_stores({"stores": [{"name": "w", "type": "db", "configuration": {
        "url": f"sqlite:///{tmp_path}/c.db"}}]})
    writer.put("w", "k", "now-here")
    assert stores.render_string("{{ secrets.s.k | default('none') }}") == "now-here"


def test_a_write_through_the_manager_refreshes_local(make_stores) -> None:
    stores = make_stores(None)  # local, and a DB manager over the same database
    stores.put("local", "shared", "old")
    assert stores.get("local", "shared") == "old"  # cached now
    stores.put("manager", "shared", "new")
    assert stores.get("local", "shared") == "new"


def test_disabled_cache_creates_no_files(make_stores, isolated_home: Path) -> None:
    stores = make_stores({"cache": {"enabled": False}})
    stores.put("local", "k", "v")
    assert stores.get("local", "k") == "v"
    assert stores.invalidate() == 0
    assert not (isolated_home / "cache").exists()
    assert not (isolated_home / "data" / "keys" / "cache.key").exists()


def test_a_store_with_ttl_0_never_reads_a_sibling_stores_cache(make_stores, tmp_path: Path) -> None:
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
