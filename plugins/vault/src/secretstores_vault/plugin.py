"""The hook implementations of the ``hashicorp_vault`` store type.

Registered through the ``secretstores`` entry point ``vault``. hvac (and
botocore, for AWS IAM login) is imported only inside the hooks, on a store's
first use, so loading this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from secretstores import hookimpl
from secretstores.model import FetchResult, Session, StoreSpec, StoreType
from secretstores_vault.config import TYPE, VaultConfig
from secretstores_vault.environ import manager_from_env


@hookimpl
def secretstores_store_types() -> list[StoreType]:
    """Declare ``hashicorp_vault``: KV v2, readable and writable."""
    return [StoreType(TYPE, VaultConfig, "HashiCorp Vault / OpenBao, KV secrets engine v2",
                      writable=True)]


@hookimpl
def secretstores_authenticate(store: StoreSpec) -> Session | None:
    """Log in with the store's ``authMethod`` (TOKEN, K8S or AWS)."""
    if store.type != TYPE:
        return None
    from secretstores_vault.auth import authenticate

    return authenticate(store.config)


@hookimpl
def secretstores_fetch(
    store: StoreSpec, client: Any, identifiers: Sequence[str]
) -> dict[str, FetchResult] | None:
    """Read a batch of ``PATH[?version=N][#KEY]`` identifiers, one read per path."""
    if store.type != TYPE:
        return None
    from secretstores_vault import kv

    return kv.fetch(client, store.config, identifiers)


@hookimpl
def secretstores_store(store: StoreSpec, client: Any, name: str, value: str) -> bool | None:
    """Write ``{"value": value}`` as a new version of ``name``, checked-and-set."""
    if store.type != TYPE:
        return None
    from secretstores_vault import kv

    kv.store(client, store.config, name, value)
    return True


@hookimpl
def secretstores_delete(store: StoreSpec, client: Any, name: str) -> bool | None:
    """Soft-delete the latest version of ``name``."""
    if store.type != TYPE:
        return None
    from secretstores_vault import kv

    return kv.delete(client, store.config, name)


@hookimpl
def secretstores_list_names(store: StoreSpec, client: Any) -> list[str] | None:
    """List every secret under the store's ``pathPrefix``, recursively."""
    if store.type != TYPE:
        return None
    from secretstores_vault import kv

    return kv.list_names(client, store.config)


@hookimpl
def secretstores_manager_from_env(
    manager: str, prefix: str, environ: Mapping[str, str]
) -> dict[str, Any] | None:
    """Answer ``<PREFIX>_SECRETS_MANAGER=VAULT`` from ``<PREFIX>_HASHICORP_VAULT_*`` variables."""
    return manager_from_env(manager, prefix, environ)
