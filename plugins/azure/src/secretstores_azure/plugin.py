"""The pluggy hook implementations of the ``azure_key_vault`` store type.

Registered through the entry point ``secretstores: azure``. The core calls these
hooks only for stores of type ``azure_key_vault``. Nothing here imports the
Azure SDKs: the helpers the hooks call do, on a store's first use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from secretstores import hookimpl
from secretstores.identity import environment_identity
from secretstores.model import Capability, FetchResult, Session, StoreSpec, StoreType
from secretstores_azure import TYPE
from secretstores_azure.config import AzureConfig

if TYPE_CHECKING:
    from secretstores_azure.client import AzureClient

#: What decides the principal of Azure's default credential chain, besides
#: ``AZURE_*`` variables: the managed identity endpoint of App Service, Functions,
#: Arc and Service Fabric hosts.
_MANAGED_IDENTITY_VARIABLES = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT",
                               "MSI_SECRET", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT")


@hookimpl
def secretstores_store_types() -> list[StoreType]:
    """Declare ``azure_key_vault``: one read per secret (the core fans them out)."""
    return [StoreType(
        TYPE, AzureConfig, "Azure Key Vault secrets",
        capabilities={Capability.READ, Capability.WRITE, Capability.DELETE, Capability.LIST,
                      Capability.CHECK, Capability.VERSIONS})]


@hookimpl
def secretstores_identity(store: StoreSpec) -> str:
    """Whose view of the vault the store reads: its tenant and client, and with the
    default credential chain, what the chain reads (the ``AZURE_*`` variables, the
    managed identity endpoint, the Azure CLI's signed-in account).

    A workload identity's token file is not read: Kubernetes rotates it hourly
    while the identity (``AZURE_CLIENT_ID``, ``AZURE_TENANT_ID``) stays the same.
    """
    config: AzureConfig = store.config
    named = [f"tenant={config.tenant_id or ''}", f"client={config.client_id or ''}"]
    if config.uses_client_secret:
        return "client-secret\0" + "\0".join(named)
    cli = Path(os.environ.get("AZURE_CONFIG_DIR") or "~/.azure") / "azureProfile.json"
    return "default-chain\0" + environment_identity(
        prefixes=["AZURE_"], variables=_MANAGED_IDENTITY_VARIABLES, files=[cli],
        extra=[*named, config.authority_host or ""])


@hookimpl
def secretstores_authenticate(store: StoreSpec) -> Session:
    """Build the store's client and sign in (Key Vault's challenge, then a token)."""
    from secretstores_azure.client import connect

    return connect(store)


@hookimpl
def secretstores_read(store: StoreSpec, client: AzureClient, identifier: str) -> FetchResult:
    """Read one ``NAME[/VERSION]`` identifier with ``GET /secrets/{name}/{version}``."""
    from secretstores_azure.read import read

    return read(client, identifier)


@hookimpl
def secretstores_store(store: StoreSpec, client: AzureClient, name: str, value: str,
                       request_id: str) -> bool:
    """Add a new current version of ``name`` (recovering it first if it was deleted); a
    retry of a write that went through adds nothing."""
    from secretstores_azure.write import store as write

    return write(client, name, value, request_id)


@hookimpl
def secretstores_delete(store: StoreSpec, client: AzureClient, name: str) -> bool:
    """Delete ``name`` (soft delete: recoverable for the vault's retention period)."""
    from secretstores_azure.write import delete

    return delete(client, name)


@hookimpl
def secretstores_list_names(store: StoreSpec, client: AzureClient) -> list[str]:
    """List the names of the vault's secrets, every page."""
    from secretstores_azure.write import list_names

    return list_names(client)


@hookimpl
def secretstores_check(store: StoreSpec, client: AzureClient) -> str:
    """The vault accepts a fresh request with the store's token."""
    from secretstores_azure.write import check

    return check(client, store.config)
