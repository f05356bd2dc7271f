"""The pluggy hook implementations of the ``infisical`` store type.

Registered through the entry point ``secretstores: infisical``. The core calls
these hooks only for stores of type ``infisical``. Nothing here imports the SDK:
the modules these hooks import inside their bodies do, on a store's first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from secretstores import hookimpl
from secretstores.model import Capability, FetchResult, Session, StoreSpec, StoreType
from secretstores_infisical import TYPE
from secretstores_infisical.config import InfisicalConfig
from secretstores_infisical.identity import cache_identity, token_subject

if TYPE_CHECKING:
    from secretstores_infisical.client import InfisicalClient


@hookimpl
def secretstores_store_types() -> list[StoreType]:
    """Declare ``infisical``: a folder's keys in one list call, other keys one by one."""
    return [StoreType(
        TYPE, InfisicalConfig, "Infisical (access token or universal auth)",
        capabilities={Capability.BATCH_READ, Capability.READ, Capability.WRITE,
                      Capability.DELETE, Capability.LIST, Capability.CHECK})]


@hookimpl
def secretstores_identity(store: StoreSpec) -> str | None:
    """The machine identity (universal auth client ID) or the access token's subject."""
    return cache_identity(store.config)


@hookimpl
def secretstores_authenticate(store: StoreSpec) -> Session:
    """Build the SDK client; with universal auth, log in (the core renews before expiry)."""
    from secretstores_infisical.client import connect

    return connect(store)


@hookimpl
def secretstores_fetch(store: StoreSpec, client: InfisicalClient,
                       identifiers: Sequence[str]) -> dict[str, FetchResult]:
    """Answer folders read ``listThreshold`` keys at a time with one list call each."""
    from secretstores_infisical.reads import fetch_batch

    return fetch_batch(client, identifiers)


@hookimpl
def secretstores_read(store: StoreSpec, client: InfisicalClient, identifier: str) -> FetchResult:
    """Read one ``[FOLDER/]KEY`` identifier."""
    from secretstores_infisical.reads import read_one

    return read_one(client, identifier)


@hookimpl
def secretstores_store(store: StoreSpec, client: InfisicalClient, name: str,
                       value: str, request_id: str) -> bool:
    """Create secret ``name`` or give it a new value (a retry of a write that went
    through writes nothing)."""
    from secretstores_infisical.write import put

    return put(client, name, value, request_id)


@hookimpl
def secretstores_delete(store: StoreSpec, client: InfisicalClient, name: str) -> bool:
    """Delete secret ``name``."""
    from secretstores_infisical.write import delete

    return delete(client, name)


@hookimpl
def secretstores_list_names(store: StoreSpec, client: InfisicalClient) -> list[str]:
    """The keys under the store's ``secretPath``, subfolders included."""
    from secretstores_infisical.write import list_names

    return list_names(client)


@hookimpl
def secretstores_check(store: StoreSpec, client: InfisicalClient) -> str:
    """Infisical accepts the token; the project, environment and folder exist."""
    from secretstores_infisical.write import check

    config: InfisicalConfig = store.config
    if config.universal_auth:
        subject = f"machine identity (client ID '{config.client_id}')"
    else:
        who = token_subject(config.access_token or "")
        subject = f"access token ({who})" if who else "access token"
    return check(client, subject)
