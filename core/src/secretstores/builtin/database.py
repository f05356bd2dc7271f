"""The SQL side of the ``db`` store: SQLite and PostgreSQL behind one small class."""

from __future__ import annotations

import contextlib
import math
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from secretstores.crypto import Cipher, DecryptionError, WeakKeyError, load_key
from secretstores.errors import MisconfiguredError, StoreUnavailableError, TransientError
from secretstores.model import FetchResult
from secretstores.paths import data_dir, private_dir, private_file

if TYPE_CHECKING:
    from secretstores.builtin.db_store import DbConfig

_BATCH = 500


def _lost(exc: BaseException) -> bool:
    """Whether ``exc`` means the connection failed (worth another try), not the query."""
    if isinstance(exc, sqlite3.OperationalError):
        return "locked" in str(exc) or "busy" in str(exc)
    module = type(exc).__module__
    return module.startswith("psycopg") and type(exc).__name__ in (
        "OperationalError", "InterfaceError")


def master_key_file(config: DbConfig) -> Path:
    """The master key file a ``db`` store uses (unless ``$SECRETSTORES_MASTER_KEY`` is set)."""
    return Path(config.key_file) if config.key_file else data_dir() / "keys" / "master.key"


def default_url() -> str:
    """``sqlite:///<data dir>/secrets.db``."""
    return f"sqlite:///{data_dir() / 'secrets.db'}"


class Database:
    """Encrypted name -> value rows in one table, over a small pool of connections."""

    def __init__(self, url: str, table: str, cipher: Cipher, *, timeout: float = 5.0) -> None:
        self.url = url
        self.table = table
        self.cipher = cipher
        self.timeout = timeout
        self.postgres = url.startswith(("postgresql://", "postgres://"))
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        self._mark = "%s" if self.postgres else "?"
        self._checked = False  # the SQLite file and its directory were prepared
        self._create()

    def __repr__(self) -> str:
        kind = "postgresql" if self.postgres else "sqlite"
        return f"Database({kind}, table={self.table!r})"

    @classmethod
    def open(cls, config: DbConfig, *, timeout: float = 5.0) -> Database:
        """Open (and create if needed) the database a ``db`` store's configuration names.

        ``timeout`` bounds connecting and waiting for a locked SQLite file, in seconds.
        """
        from secretstores.builtin.db_store import MASTER_KEY_VARIABLE

        url = config.url or default_url()
        try:
            key = load_key(MASTER_KEY_VARIABLE, master_key_file(config), "db master")
        except WeakKeyError as exc:
            raise MisconfiguredError(str(exc)) from None
        cipher = Cipher(key)
        return cls(url, config.table, cipher, timeout=timeout)

    # -- connections --------------------------------------------------------

    def _connect(self) -> Any:
        if self.postgres:
            try:
                import psycopg
            except ImportError:
                raise StoreUnavailableError(
                    "PostgreSQL support is not installed: pip install 'secretstores[postgres]'"
                ) from None
            try:
                # libpq counts connect_timeout in whole seconds, at least 2
                return psycopg.connect(self.url, autocommit=True,
                                       connect_timeout=max(2, math.ceil(self.timeout)))
            except psycopg.Error as exc:
                raise TransientError(
                    f"cannot connect to PostgreSQL: {type(exc).__name__}"
                ) from None
        path = Path(self.url.removeprefix("sqlite:///").removeprefix("sqlite://"))
        if not self._checked:  # once per Database, not per pooled connection
            private_dir(path.parent)  # a directory the user named keeps its mode
            try:  # created 0600 before SQLite opens it (its WAL files take the same mode)
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                private_file(path, "the database file")
            self._checked = True
        connection = sqlite3.connect(path, timeout=self.timeout, isolation_level=None,
                                     check_same_thread=False)
        try:
            connection.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            # Switching to WAL needs the file to itself: another process or store
            # opening it at the same moment makes this fail at once, busy timeout or not.
            connection.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            connection.close()
            if _lost(exc):
                raise TransientError(f"the SQLite file is busy: {exc}") from None
            raise
        return connection

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        # A pool of idle connections, not one per thread: fetches run on whichever
        # worker thread is free, and a new PostgreSQL connection costs round trips.
        try:
            connection = self._idle.get_nowait()
        except queue.Empty:
            connection = self._connect()
            with self._lock:
                self._connections.append(connection)
        try:
            cursor = connection.cursor()
            try:
                yield cursor
            finally:
                cursor.close()
        except BaseException as exc:
            self._discard(connection)
            if _lost(exc):
                raise TransientError(f"the database connection failed: {type(exc).__name__}"
                                     ) from None
            raise
        self._idle.put(connection)

    def _discard(self, connection: Any) -> None:
        with self._lock:
            if connection in self._connections:
                self._connections.remove(connection)
        with contextlib.suppress(Exception):
            connection.close()

    def _create(self) -> None:
        blob = "BYTEA" if self.postgres else "BLOB"
        with self._cursor() as cursor:
            if self.postgres:
                # Concurrent CREATE TABLE IF NOT EXISTS can fail in PostgreSQL (unique
                # violation on pg_type): processes starting together take turns.
                cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", (self.table,))
            try:
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {self.table} ("
                    "name TEXT PRIMARY KEY, version INTEGER NOT NULL, key_id TEXT NOT NULL, "
                    f"ciphertext {blob} NOT NULL, updated_at DOUBLE PRECISION NOT NULL)"
                )
            finally:
                if self.postgres:
                    cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", (self.table,))

    def close(self) -> None:
        """Close every connection this object opened."""
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._idle = queue.SimpleQueue()

    # -- rows ---------------------------------------------------------------

    def _aad(self, name: str, version: int) -> bytes:
        # The table, the name and the row's version are authenticated with the value:
        # a ciphertext moved to another name, or an older one put back under the
        # current version, fails the integrity check (see docs/security.md).
        return f"{self.table}\0{name}\0{version}".encode()

    def fetch(self, names: Sequence[str]) -> dict[str, FetchResult]:
        """Results for ``names``: found, not found, or denied when another key made it."""
        rows: dict[str, tuple[int, str, bytes]] = {}
        for start in range(0, len(names), _BATCH):
            chunk = list(names[start:start + _BATCH])
            marks = ", ".join([self._mark] * len(chunk))
            with self._cursor() as cursor:
                cursor.execute(
                    f"SELECT name, version, key_id, ciphertext FROM {self.table} "
                    f"WHERE name IN ({marks})",
                    chunk,
                )
                for name, version, key_id, blob in cursor.fetchall():
                    rows[name] = (int(version), key_id, bytes(blob))
        results: dict[str, FetchResult] = {}
        for name in names:
            if name not in rows:
                results[name] = FetchResult.not_found(f"no secret named '{name}'")
                continue
            version, key_id, blob = rows[name]
            try:
                value = self.cipher.decrypt(blob, self._aad(name, version)).decode()
            except DecryptionError:
                reason = ("it was encrypted with another master key" if key_id != self.cipher.key_id
                          else "its ciphertext failed the integrity check")
                results[name] = FetchResult.denied(f"cannot decrypt '{name}': {reason}")
            else:
                results[name] = FetchResult.found(value)
        return results

    def put(self, name: str, value: str) -> None:
        """Insert or replace ``name`` (the version goes up by one).

        The new version is part of the ciphertext's authentication, so it is chosen
        before encrypting: a compare-and-set on the version read, tried again when
        another writer got there first (no write is lost, none is undone).
        """
        m = self._mark
        while True:
            current = self.version(name)
            version = (current or 0) + 1
            blob = self.cipher.encrypt(value.encode(), self._aad(name, version))
            row = (self.cipher.key_id, blob, time.time())
            with self._cursor() as cursor:
                if current is None:
                    cursor.execute(
                        f"INSERT INTO {self.table} (name, version, key_id, ciphertext, "
                        f"updated_at) VALUES ({m}, 1, {m}, {m}, {m}) "
                        "ON CONFLICT (name) DO NOTHING", (name, *row))
                else:
                    cursor.execute(
                        f"UPDATE {self.table} SET version = {m}, key_id = {m}, "
                        f"ciphertext = {m}, updated_at = {m} "
                        f"WHERE name = {m} AND version = {m}",
                        (version, *row, name, current))
                if cursor.rowcount == 1:
                    return

    def delete(self, name: str) -> bool:
        """Delete ``name``; True when it existed."""
        with self._cursor() as cursor:
            cursor.execute(f"DELETE FROM {self.table} WHERE name = {self._mark}", (name,))
            return bool(cursor.rowcount)

    def list_names(self) -> list[str]:
        """Every secret name in the table."""
        with self._cursor() as cursor:
            cursor.execute(f"SELECT name FROM {self.table} ORDER BY name")
            return [row[0] for row in cursor.fetchall()]

    def check(self) -> str:
        """Query the table; say which database and table answered."""
        with self._cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {self.table} LIMIT 1")
            cursor.fetchall()
        kind = "PostgreSQL" if self.postgres else "SQLite"
        return f"{kind} answered; table {self.table} is readable"

    def version(self, name: str) -> int | None:
        """How many times ``name`` was written (None if it does not exist)."""
        with self._cursor() as cursor:
            cursor.execute(f"SELECT version FROM {self.table} WHERE name = {self._mark}", (name,))
            row = cursor.fetchone()
            return int(row[0]) if row else None
