"""Hostile files and weak keys: a rolled-back row is detected, a weak key is refused,
a key file others could read is reported, a directory the user named keeps its mode."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from secretstores import MisconfiguredError, Status
from secretstores.api import SecretStores

POSTGRES_URL = os.environ.get("SECRETSTORES_TEST_POSTGRES",
                              "postgresql://postgres@127.0.0.1:5432/test")
#: A key that passes the entropy check, and material that must not.
GOOD_KEY = "Jq8-fW2zT_p0LxVb7nRk4sYd1cHmAe9uGo3iZt6N"
WEAK_KEYS = ["x", "correct horse", "a" * 64, "abababababababababababababababab1"]


def _db(url: str, table: str = "s", **configuration: str) -> dict[str, object]:
    return {"defaultStores": False, "stores": [{
        "name": "d", "type": "db", "cacheTtl": 0,
        "configuration": {"url": url, "table": table, **configuration}}]}


def _home() -> Path:
    return Path(os.environ["SECRETSTORES_HOME"])


# -- rollback -------------------------------------------------------------------------


def test_an_older_ciphertext_put_back_is_detected(make_stores, tmp_path: Path) -> None:
    path = tmp_path / "roll.db"
    stores = make_stores(_db(f"sqlite:///{path}"))
    stores.put("d", "token", "revoked-token")
    with sqlite3.connect(path) as connection:
        (old,) = connection.execute("SELECT ciphertext FROM s WHERE name='token'").fetchone()
    stores.put("d", "token", "current-token")
    with sqlite3.connect(path) as connection:  # the attacker puts the old value back
        connection.execute("UPDATE s SET ciphertext = ? WHERE name='token'", (old,))
    result = stores.fetch("d", ["token"])["token"]
    assert result.status is Status.DENIED
    assert "integrity check" in result.message and "revoked" not in result.message


def test_an_older_ciphertext_put_back_is_detected_in_postgres(make_stores) -> None:
    psycopg = pytest.importorskip("psycopg")
    table = f"t_{uuid.uuid4().hex[:12]}"
    try:
        stores = make_stores(_db(POSTGRES_URL, table))
        stores.put("d", "token", "revoked-token")
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            (old,) = connection.execute(
                f"SELECT ciphertext FROM {table} WHERE name='token'").fetchone()
        stores.put("d", "token", "current-token")
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f"UPDATE {table} SET ciphertext = %s WHERE name='token'", (old,))
        assert stores.fetch("d", ["token"])["token"].status is Status.DENIED
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f"DROP TABLE IF EXISTS {table}")


def test_each_write_advances_the_authenticated_version(make_stores, tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    stores = make_stores(_db(f"sqlite:///{path}"))
    for value in ("one", "two", "three"):
        stores.put("d", "k", value)
    assert stores.get("d", "k") == "three"
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT version FROM s").fetchone() == (3,)
        # the version alone moved back: the ciphertext no longer matches it
        connection.execute("UPDATE s SET version = 2")
    assert stores.fetch("d", ["k"])["k"].status is Status.DENIED


# -- keys -------------------------------------------------------------------------------


@pytest.mark.parametrize("weak", WEAK_KEYS)
def test_a_weak_master_key_in_the_environment_is_refused(make_stores, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         weak: str) -> None:
    monkeypatch.setenv("SECRETSTORES_MASTER_KEY", weak)
    stores = make_stores(_db(f"sqlite:///{tmp_path}/w.db"))
    with pytest.raises(MisconfiguredError) as info:
        stores.put("d", "k", "v")
    message = str(info.value)
    assert "$SECRETSTORES_MASTER_KEY is" in message and "at least 32 characters" in message
    if len(weak) > 2:
        assert weak not in message


def test_a_good_master_key_in_the_environment_is_used(make_stores, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETSTORES_MASTER_KEY", GOOD_KEY)
    stores = make_stores(_db(f"sqlite:///{tmp_path}/g.db"))
    stores.put("d", "k", "v")
    assert stores.get("d", "k") == "v"


@pytest.mark.parametrize("content", [b"", b"\n", b"short\n", b"0000000000000000000000000000000000"])
def test_a_weak_master_key_file_is_refused(make_stores, tmp_path: Path, content: bytes) -> None:
    key_file = tmp_path / "master.key"
    key_file.write_bytes(content)
    key_file.chmod(0o600)
    stores = make_stores(_db(f"sqlite:///{tmp_path}/f.db", keyFile=str(key_file)))
    with pytest.raises(MisconfiguredError, match=f"the key file {key_file} is"):
        stores.put("d", "k", "v")


def test_a_weak_master_key_is_a_clear_cli_error(tmp_path: Path) -> None:
    env = {**os.environ, "SECRETSTORES_HOME": str(tmp_path), "SECRETSTORES_MASTER_KEY": "k"}
    result = subprocess.run([sys.executable, "-m", "secretstores", "get", "local", "x"],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert result.returncode != 0
    assert "$SECRETSTORES_MASTER_KEY is too weak to be a key" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_weak_cache_key_keeps_the_cache_in_memory(make_stores, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("SECRETSTORES_CACHE_KEY", "cache")
    stores = make_stores({"defaultStores": False, "stores": [{
        "name": "d", "type": "db", "configuration": {"url": f"sqlite:///{tmp_path}/c.db"}}]})
    stores.put("d", "k", "v")
    with caplog.at_level(logging.WARNING, logger="secretstores"):
        assert stores.render_string("{{ secrets.d.k }}") == "v"
        assert stores.render_string("{{ secrets.d.k }}") == "v"
    assert "$SECRETSTORES_CACHE_KEY is too weak to be a key" in caplog.text
    assert "caches in memory only" in caplog.text
    assert not (_home() / "cache" / "cache.db").exists()


def test_a_key_file_others_could_read_is_reported_then_tightened(
        make_stores, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    key_file = tmp_path / "keys" / "master.key"
    key_file.parent.mkdir()
    key_file.write_text(GOOD_KEY + "\n")
    key_file.chmod(0o644)
    stores = make_stores(_db(f"sqlite:///{tmp_path}/p.db", keyFile=str(key_file)))
    with caplog.at_level(logging.WARNING, logger="secretstores"):
        stores.put("d", "k", "v")
    assert f"key file {key_file} was readable by other users (mode 0644)" in caplog.text
    assert "may have been copied" in caplog.text and GOOD_KEY not in caplog.text
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stores.get("d", "k") == "v"


# -- directories the user named -------------------------------------------------------


def _shared_dir(path: Path, mode: int = 0o1777) -> Path:
    path.mkdir()
    path.chmod(mode)
    return path


def test_a_sqlite_file_in_a_shared_directory_leaves_it_alone(make_stores,
                                                             tmp_path: Path) -> None:
    shared = _shared_dir(tmp_path / "tmp")
    stores = make_stores(_db(f"sqlite:///{shared}/x.db"))
    stores.put("d", "k", "v")
    assert stores.get("d", "k") == "v"
    stores.close()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777  # the sticky bit kept
    for name in ("x.db", "x.db-wal", "x.db-shm"):
        if (shared / name).exists():
            assert stat.S_IMODE((shared / name).stat().st_mode) == 0o600, name


def test_a_key_file_in_a_directory_the_user_named_leaves_it_alone(make_stores,
                                                                  tmp_path: Path) -> None:
    shared = _shared_dir(tmp_path / "keys", 0o755)
    stores = make_stores(_db(f"sqlite:///{tmp_path}/k.db", keyFile=str(shared / "m.key")))
    stores.put("d", "k", "v")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755
    assert stat.S_IMODE((shared / "m.key").stat().st_mode) == 0o600


def test_a_shared_cache_directory_gets_a_private_subdirectory(make_stores,
                                                              tmp_path: Path) -> None:
    shared = _shared_dir(tmp_path / "cache")
    definition = {"defaultStores": False, "cache": {"directory": str(shared)}, "stores": [{
        "name": "d", "type": "db", "configuration": {"url": f"sqlite:///{tmp_path}/c.db"}}]}
    stores = make_stores(definition)
    stores.put("d", "k", "v")
    assert stores.render_string("{{ secrets.d.k }}") == "v"
    stores.close()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    private = shared / f"secretstores-{os.getuid()}"
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    assert (private / "cache.db").exists()
    # another process over the same configuration reads the shared entry
    assert SecretStores.from_dict(definition).cache.directory == private


def test_a_private_cache_directory_is_used_as_it_is(make_stores, tmp_path: Path) -> None:
    mine = _shared_dir(tmp_path / "mine", 0o700)
    stores = make_stores({"defaultStores": False, "cache": {"directory": str(mine)},
                          "stores": [{"name": "d", "type": "db", "configuration": {
                              "url": f"sqlite:///{tmp_path}/c.db"}}]})
    stores.put("d", "k", "v")
    assert stores.render_string("{{ secrets.d.k }}") == "v"
    assert (mine / "cache.db").exists()


def test_a_squatted_cache_subdirectory_is_refused(make_stores, tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    shared = _shared_dir(tmp_path / "cache")
    squat = _shared_dir(shared / f"secretstores-{os.getuid()}", 0o777)  # made by "another user"
    stores = make_stores({"defaultStores": False, "cache": {"directory": str(shared)},
                          "stores": [{"name": "d", "type": "db", "configuration": {
                              "url": f"sqlite:///{tmp_path}/c.db"}}]})
    stores.put("d", "k", "v")
    with caplog.at_level(logging.WARNING, logger="secretstores"):
        assert stores.render_string("{{ secrets.d.k }}") == "v"
    assert "is open to other users" in caplog.text and "memory only" in caplog.text
    assert not (squat / "cache.db").exists()
    assert stat.S_IMODE(squat.stat().st_mode) == 0o777
