"""The ``db`` store on SQLite and PostgreSQL: encryption at rest, master key, permissions,
and several processes writing at once."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from secretstores import AccessDeniedError, Status
from secretstores.api import SecretStores
from secretstores.testing import CANARY

POSTGRES_URL = os.environ.get("SECRETSTORES_TEST_POSTGRES",
                              "postgresql://postgres@127.0.0.1:5432/test")


def _definition(url: str, table: str, **configuration: str) -> dict[str, object]:
    return {"defaultStores": False, "stores": [{
        "name": "d", "type": "db", "cacheTtl": 0,
        "configuration": {"url": url, "table": table, **configuration}}]}


def _table() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def pg_table() -> str:
    import psycopg

    table = _table()
    yield table
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f"DROP TABLE IF EXISTS {table}")


# -- SQLite -----------------------------------------------------------------------------


def test_sqlite_encrypted_at_rest_and_private(make_stores, tmp_path: Path) -> None:
    path = tmp_path / "sub" / "secrets.db"
    stores = make_stores(_definition(f"sqlite:///{path}", "secrets"))
    stores.put("d", "canary", CANARY)
    stores.put("d", "canary", CANARY + "-v2")
    assert stores.get("d", "canary") == CANARY + "-v2"
    stores.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for sibling in path.parent.iterdir():  # the WAL and shared-memory files too
        assert stat.S_IMODE(sibling.stat().st_mode) & 0o077 == 0, sibling
        assert CANARY.encode() not in sibling.read_bytes(), sibling
    with sqlite3.connect(path) as connection:
        name, version, blob = connection.execute(
            "SELECT name, version, ciphertext FROM secrets").fetchone()
    assert (name, version) == ("canary", 2)
    assert CANARY.encode() not in bytes(blob)


def test_default_database_location(make_stores) -> None:
    stores = make_stores(None)
    stores.put("local", "k", "v")
    home = Path(os.environ["SECRETSTORES_HOME"])
    database = home / "data" / "secrets.db"
    master_key = home / "data" / "keys" / "master.key"
    assert database.is_file() and stat.S_IMODE(database.stat().st_mode) == 0o600
    assert master_key.is_file() and stat.S_IMODE(master_key.stat().st_mode) == 0o600


def test_master_key_from_environment(make_stores, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    monkeypatch.setenv("SECRETSTORES_MASTER_KEY", "master key material one " * 2)
    make_stores(_definition(url, "s")).put("d", "k", "v")
    assert not (Path(os.environ["SECRETSTORES_HOME"]) / "data" / "keys" / "master.key").exists()
    assert make_stores(_definition(url, "s")).get("d", "k") == "v"
    # the key file (or another variable) cannot decrypt it: denied, never garbage
    monkeypatch.delenv("SECRETSTORES_MASTER_KEY")
    stores = make_stores(_definition(url, "s"))
    assert stores.fetch("d", ["k"])["k"].status is Status.DENIED
    with pytest.raises(AccessDeniedError, match="another master key"):
        stores.get("d", "k")


def test_rows_cannot_be_swapped(make_stores, tmp_path: Path) -> None:
    path = tmp_path / "swap.db"
    stores = make_stores(_definition(f"sqlite:///{path}", "s"))
    stores.put("d", "a", "value-a")
    stores.put("d", "b", "value-b")
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE s SET ciphertext = (SELECT ciphertext FROM s WHERE name='b') "
                           "WHERE name='a'")
    result = stores.fetch("d", ["a", "b"])
    assert result["a"].status is Status.DENIED and result["b"].value == "value-b"


def test_list_and_delete(make_stores, tmp_path: Path) -> None:
    stores = make_stores(_definition(f"sqlite:///{tmp_path}/l.db", "s"))
    for name in ("b", "a/x", "c@d"):
        stores.put("d", name, "v")
    assert stores.list_names("d") == ["a/x", "b", "c@d"]
    assert stores.delete("d", "b") is True
    assert stores.delete("d", "b") is False
    assert stores.list_names("d") == ["a/x", "c@d"]


def test_large_batch(make_stores, tmp_path: Path) -> None:
    stores = make_stores(_definition(f"sqlite:///{tmp_path}/big.db", "s"))
    for i in range(1200):
        stores.runtime("d").session().client.put(f"n{i}", f"v{i}")
    names = [f"n{i}" for i in range(1200)] + ["missing"]
    results = stores.fetch("d", names)
    assert [results[f"n{i}"].value for i in range(1200)] == [f"v{i}" for i in range(1200)]
    assert results["missing"].status is Status.NOT_FOUND


WRITER = """
    import sys
    from secretstores.api import SecretStores
    worker, url, table = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    stores = SecretStores.from_dict({"defaultStores": False, "stores": [{
        "name": "d", "type": "db", "cacheTtl": 0,
        "configuration": {"url": url, "table": table}}]})
    for i in range(50):
        stores.put("d", f"w{worker}_{i}", f"value-{worker}-{i}")
        stores.put("d", "shared", f"from-{worker}")
    stores.close()
"""


def _concurrent_writers(url: str, table: str) -> None:
    processes = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER), str(w), url, table],
                         stderr=subprocess.PIPE, text=True)
        for w in range(4)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    stores = SecretStores.from_dict(_definition(url, table))
    try:
        names = stores.list_names("d")
        assert len(names) == 201
        expected = {f"w{w}_{i}": f"value-{w}-{i}" for w in range(4) for i in range(50)}
        results = stores.fetch("d", list(expected))
        assert {n: r.value for n, r in results.items()} == expected
        assert stores.runtime("d").session().client.version("shared") == 200
    finally:
        stores.close()


def test_sqlite_writers_in_several_processes_lose_nothing(tmp_path: Path) -> None:
    _concurrent_writers(f"sqlite:///{tmp_path}/concurrent.db", "s")


# -- PostgreSQL ------------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_encrypted_at_rest(make_stores, pg_table: str) -> None:
    import psycopg

    stores = make_stores(_definition(POSTGRES_URL, pg_table))
    stores.put("d", "canary", CANARY)
    assert stores.get("d", "canary") == CANARY
    assert stores.render_string("{{ secrets.d.canary }}") == CANARY
    with psycopg.connect(POSTGRES_URL) as connection:
        rows = connection.execute(f"SELECT name, ciphertext::text, ciphertext FROM {pg_table}"
                                  ).fetchall()
    assert [row[0] for row in rows] == ["canary"]
    assert CANARY not in rows[0][1]
    assert CANARY.encode() not in bytes(rows[0][2])


@pytest.mark.postgres
def test_postgres_master_key_from_environment(make_stores, pg_table: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETSTORES_MASTER_KEY", "pg master key material " * 2)
    make_stores(_definition(POSTGRES_URL, pg_table)).put("d", "k", "v")
    assert make_stores(_definition(POSTGRES_URL, pg_table)).get("d", "k") == "v"
    monkeypatch.setenv("SECRETSTORES_MASTER_KEY", "a different master key " * 2)
    assert make_stores(_definition(POSTGRES_URL, pg_table)).fetch(
        "d", ["k"])["k"].status is Status.DENIED


@pytest.mark.postgres
def test_postgres_writers_in_several_processes_lose_nothing(pg_table: str) -> None:
    _concurrent_writers(POSTGRES_URL, pg_table)
