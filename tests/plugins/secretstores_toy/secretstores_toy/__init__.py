"""A third-party secretstores plugin for tests: the ``toy`` store type.

A ``toy`` store reads its secrets from a JSON file (``{"identifier": value}``;
object values are served as JSON text)::

    {"name": "x", "type": "toy",
     "configuration": {"path": "/tmp/secrets.json", "deny": ["forbidden"], "token": "toy-..."}}

``deny`` lists identifiers the store holds but refuses; ``token`` is a secret
field (it must start with ``toy-``) so tests can prove secret configuration
values stay out of error messages. The store is read-only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from secretstores import FetchResult, Session, StoreSpec, StoreType, hookimpl
from secretstores.config import optional_field, required_field

TYPE = "toy"


def _token(_: Any, attribute: Any, value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not value.startswith("toy-")):
        raise ValueError("expected a token starting with 'toy-'")


def _names(_: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise TypeError("expected an array of identifiers")


@attrs.frozen
class ToyConfig:
    """Configuration of a ``toy`` store."""

    path: str = required_field("path")
    deny: tuple[str, ...] = optional_field("deny", default=(), validator=_names)
    token: str | None = optional_field("token", secret=True, validator=_token)


@hookimpl
def secretstores_store_types() -> list[StoreType]:
    return [StoreType(TYPE, ToyConfig, "secrets from a JSON file (tests only)")]


@hookimpl
def secretstores_authenticate(store: StoreSpec) -> Session | None:
    if store.type != TYPE:
        return None
    return Session(client=Path(store.config.path))


@hookimpl
def secretstores_fetch(
    store: StoreSpec, client: Path, identifiers: Sequence[str]
) -> dict[str, FetchResult] | None:
    if store.type != TYPE:
        return None
    data = json.loads(client.read_text(encoding="utf-8"))
    results = {}
    for identifier in identifiers:
        if identifier in store.config.deny:
            results[identifier] = FetchResult.denied(f"'{identifier}' is on the deny list")
        elif identifier not in data:
            results[identifier] = FetchResult.not_found(f"no secret '{identifier}'")
        else:
            value = data[identifier]
            text = value if isinstance(value, str) else json.dumps(value)
            results[identifier] = FetchResult.found(text)
    return results


@hookimpl
def secretstores_list_names(store: StoreSpec, client: Path) -> list[str] | None:
    if store.type != TYPE:
        return None
    return sorted(json.loads(client.read_text(encoding="utf-8")))
