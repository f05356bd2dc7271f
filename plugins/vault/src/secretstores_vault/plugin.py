"""The hook implementations of the ``hashicorp_vault`` store type.

Registered through the ``secretstores`` entry point ``vault``. hvac (and
botocore, for AWS IAM login) is imported only inside the hooks, on a store's
first use, so loading this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from secretstores import hookimpl
from secretstores.identity import aws_chain_identity, environment_identity
from secretstores.model import Capability, FetchResult, Session, StoreSpec, StoreType
from secretstores_vault.config import TYPE, VaultConfig
from secretstores_vault.environ import manager_from_env

if TYPE_CHECKING:
    from secretstores_vault.client import VaultClient


@hookimpl
def secretstores_store_types() -> list[StoreType]:
    """Declare ``hashicorp_vault``: KV v2, one read per path (the core fans them out)."""
    return [StoreType(
        TYPE, VaultConfig, "HashiCorp Vault / OpenBao, KV secrets engine v2",
        capabilities={Capability.READ, Capability.WRITE, Capability.DELETE, Capability.LIST,
                      Capability.CHECK, Capability.VERSIONS})]


@hookimpl
def secretstores_identity(store: StoreSpec) -> str | None:
    """Who a login makes us: the service-account token (K8S), the AWS credential chain
    (AWS); a TOKEN store's token is in its configuration already."""
    config: VaultConfig = store.config
    if config.method == "K8S":
        return environment_identity(files=[config.k8s_token_path], extra=["k8s"])
    if config.method == "AWS":
        return aws_chain_identity()
    return None


@hookimpl
def secretstores_authenticate(store: StoreSpec) -> Session:
    """Log in with the store's ``authMethod`` (TOKEN, K8S or AWS)."""
    from secretstores_vault.auth import authenticate

    return authenticate(store)


@hookimpl
def secretstores_read(store: StoreSpec, client: VaultClient, identifier: str) -> FetchResult:
    """Read one ``PATH[?version=N][#KEY]`` identifier."""
    from secretstores_vault import kv

    return kv.read(client, identifier)


@hookimpl
def secretstores_store(store: StoreSpec, client: VaultClient, name: str, value: str) -> bool:
    """Write a new version of ``name``, checked-and-set: a JSON object (as the store reads
    it back) as the secret's data, any other value as ``{"value": value}``."""
    from secretstores_vault import kv

    kv.store(client, name, value)
    return True


@hookimpl
def secretstores_delete(store: StoreSpec, client: VaultClient, name: str) -> bool:
    """Soft-delete the latest version of ``name``."""
    from secretstores_vault import kv

    return kv.delete(client, name)


@hookimpl
def secretstores_list_names(store: StoreSpec, client: VaultClient) -> list[str]:
    """List every secret under the store's ``pathPrefix``, recursively."""
    from secretstores_vault import kv

    return kv.list_names(client)


@hookimpl
def secretstores_check(store: StoreSpec, client: VaultClient) -> str:
    """The token is accepted and the mount is a KV v2 engine."""
    from secretstores_vault.client import check

    return check(client)


@hookimpl
def secretstores_manager_from_env(
    manager: str, prefix: str, environ: Mapping[str, str]
) -> dict[str, Any] | None:
    """Answer ``<PREFIX>_SECRETS_MANAGER=VAULT`` from ``<PREFIX>_HASHICORP_VAULT_*`` variables."""
    return manager_from_env(manager, prefix, environ)
