"""The ``db`` store: the embedded default, read-write (seed: "Database Storage").

A SQLite file in the user's data directory by default, or PostgreSQL when
``url`` is a ``postgresql://`` URL (install ``secretstores[postgres]``).
Values are encrypted at rest with AES-256-GCM under a master key from
``SECRETSTORES_MASTER_KEY`` or a 0600 key file; each row's name is bound to
its ciphertext, so rows cannot be swapped. Every write is one atomic upsert,
so writers in several processes lose nothing.

Configuration (all optional)::

    {"name": "local", "type": "db",
     "configuration": {"url": "sqlite:///path/secrets.db", "table": "secretstores_secrets",
                       "keyFile": "/path/master.key"}}
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from secretstores import hookimpl
from secretstores.config.fields import optional_field
from secretstores.identity import environment_identity
from secretstores.model import Capability, FetchResult, Session, StoreSpec, StoreType

if TYPE_CHECKING:
    from secretstores.builtin.database import Database

TYPE = "db"

#: The environment variable holding the master key (else a key file is used).
MASTER_KEY_VARIABLE = "SECRETSTORES_MASTER_KEY"

_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def _url(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise TypeError("expected a URL string")
    if not value.startswith(("sqlite://", "postgresql://", "postgres://")):
        raise ValueError("expected a sqlite:///PATH or postgresql://... URL")


def _table(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not _TABLE.match(value):
        raise ValueError("expected a table name of letters, digits and underscores")


@attrs.frozen
class DbConfig:
    """Configuration of a ``db`` store."""

    # a postgresql:// URL may carry a password: kept out of reprs and messages
    url: str | None = optional_field("url", validator=_url, secret=True)
    table: str = optional_field("table", default="secretstores_secrets", validator=_table)
    key_file: str | None = optional_field("keyFile")


@hookimpl
def secretstores_store_types() -> list[StoreType]:
    """Declare ``db``: read-write by default, the embedded store."""
    return [StoreType(
        TYPE, DbConfig, "encrypted secrets in SQLite or PostgreSQL",
        capabilities={Capability.BATCH_READ, Capability.WRITE, Capability.DELETE,
                      Capability.LIST, Capability.CHECK},
        read_only_by_default=False)]


@hookimpl
def secretstores_identity(store: StoreSpec) -> str:
    """The master key: values decrypted with one key are never served to a process that
    has another (the cache would otherwise outlive a key change). The key is loaded
    (and made, on first use) here, so the very first process already has the identity
    every later one computes, and no two keys ever share the identity of "no key yet"."""
    from secretstores.builtin.database import master_key_file
    from secretstores.crypto import key_id, load_key

    try:
        key = load_key(MASTER_KEY_VARIABLE, master_key_file(store.config), "db master")
    except Exception:  # a weak or unreadable key: the store fails clearly when used
        return environment_identity(variables=[MASTER_KEY_VARIABLE],
                                    files=[master_key_file(store.config)])
    return f"master-key:{key_id(key)}"


@hookimpl
def secretstores_authenticate(store: StoreSpec) -> Session:
    """Open the database (creating the table if needed) with the master key."""
    from secretstores.builtin.database import Database

    database = Database.open(store.config, timeout=store.timeout)
    return Session(client=database, close=database.close)


@hookimpl
def secretstores_fetch(
    store: StoreSpec, client: Database, identifiers: Sequence[str]
) -> dict[str, FetchResult]:
    """One ``SELECT ... WHERE name IN (...)`` per 500 names."""
    return client.fetch(identifiers)


@hookimpl
def secretstores_store(store: StoreSpec, client: Database, name: str, value: str) -> bool:
    """One atomic upsert."""
    client.put(name, value)
    return True


@hookimpl
def secretstores_delete(store: StoreSpec, client: Database, name: str) -> bool:
    """Delete the row; False when there was none."""
    return client.delete(name)


@hookimpl
def secretstores_list_names(store: StoreSpec, client: Database) -> list[str]:
    """Every name in the table."""
    return client.list_names()


@hookimpl
def secretstores_check(store: StoreSpec, client: Database) -> str:
    """Query the table: the database answers and the table is there."""
    return client.check()
