"""The ``env`` store: environment variables of the current process, read-only.

Configuration (all optional)::

    {"name": "env", "type": "env",
     "configuration": {"prefix": "APP_", "allow": ["APP_*"]}}

``prefix`` is put in front of every identifier (``secrets.env.TOKEN`` reads
``APP_TOKEN``); ``allow`` lists glob patterns of the variables templates may
read (default: all), anything else is denied.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from secretstores import hookimpl
from secretstores.config.fields import optional_field
from secretstores.model import Capability, FetchResult, Session, StoreSpec, StoreType

TYPE = "env"


def _patterns(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not all(isinstance(p, str) for p in value):
        raise TypeError("expected an array of glob patterns (strings)")


@attrs.frozen
class EnvConfig:
    """Configuration of an ``env`` store."""

    prefix: str = optional_field("prefix", default="")
    allow: tuple[str, ...] = optional_field(
        "allow", type=list, default=("*",), validator=_patterns
    )


@hookimpl
def secretstores_store_types() -> list[StoreType]:
    """Declare ``env``: read-only, read in batches, listable."""
    return [StoreType(TYPE, EnvConfig, "environment variables of this process (read-only)",
                      capabilities={Capability.BATCH_READ, Capability.LIST},
                      process_local=True)]


@hookimpl
def secretstores_authenticate(store: StoreSpec) -> Session:
    """The client is this process's environment."""
    return Session(client=os.environ)


@hookimpl
def secretstores_fetch(
    store: StoreSpec, client: Mapping[str, str], identifiers: Sequence[str]
) -> dict[str, FetchResult]:
    """Look each variable up (``prefix`` + identifier), refusing those ``allow`` does not match."""
    config: EnvConfig = store.config
    results = {}
    for identifier in identifiers:
        variable = config.prefix + identifier
        if not any(fnmatch.fnmatchcase(variable, p) for p in config.allow):
            results[identifier] = FetchResult.denied(
                f"variable {variable} is not allowed by this store's 'allow' patterns")
        elif variable in client:
            results[identifier] = FetchResult.found(client[variable])
        else:
            results[identifier] = FetchResult.not_found(f"variable {variable} is not set")
    return results


@hookimpl
def secretstores_list_names(store: StoreSpec, client: Mapping[str, str]) -> list[str]:
    """The allowed variables that start with ``prefix``, without it."""
    config: EnvConfig = store.config
    return [
        name.removeprefix(config.prefix)
        for name in client
        if name.startswith(config.prefix)
        and any(fnmatch.fnmatchcase(name, p) for p in config.allow)
    ]
