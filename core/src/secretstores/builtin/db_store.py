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
from typing import Any

import attrs

from secretstores import hookimpl
from secretstores.config.fields import optional_field
from secretstores.model import FetchResult, Session, StoreSpec, StoreType

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
    return [StoreType(TYPE, DbConfig, "encrypted secrets in SQLite or PostgreSQL", writable=True)]


@hookimpl
def secretstores_authenticate(store: StoreSpec) -> Session | None:
    if store.type != TYPE:
        return None
    from secretstores.builtin.database import Database

    database = Database.open(store.config)
    return Session(client=database, close=database.close)


@hookimpl
def secretstores_fetch(
    store: StoreSpec, client: Any, identifiers: Sequence[str]
) -> dict[str, FetchResult] | None:
    if store.type != TYPE:
        return None
    return client.fetch(identifiers)  # type: ignore[no-any-return]


@hookimpl
def secretstores_store(store: StoreSpec, client: Any, name: str, value: str) -> bool | None:
    if store.type != TYPE:
        return None
    client.put(name, value)
    return True


@hookimpl
def secretstores_delete(store: StoreSpec, client: Any, name: str) -> bool | None:
    if store.type != TYPE:
        return None
    return client.delete(name)  # type: ignore[no-any-return]


@hookimpl
def secretstores_list_names(store: StoreSpec, client: Any) -> list[str] | None:
    if store.type != TYPE:
        return None
    return client.list_names()  # type: ignore[no-any-return]
