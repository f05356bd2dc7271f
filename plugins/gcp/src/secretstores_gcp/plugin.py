"""The pluggy hook implementations of the ``gcp_secret_manager`` store type.

Registered through the entry point ``secretstores: gcp``. The core calls these
hooks only for stores of type ``gcp_secret_manager``. Nothing here imports the
Google Cloud libraries: the helpers it calls do, on a store's first use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from secretstores import hookimpl
from secretstores.identity import environment_identity
from secretstores.model import Capability, FetchResult, Session, StoreSpec, StoreType
from secretstores_gcp import TYPE
from secretstores_gcp.config import GcpConfig

if TYPE_CHECKING:
    from secretstores_gcp.client import GcpClient

#: What Application Default Credentials read besides GOOGLE_APPLICATION_CREDENTIALS.
ADC_VARIABLES = ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CONFIG",
                 "CLOUDSDK_CORE_ACCOUNT", "CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT",
                 "GCE_METADATA_HOST", "GCE_METADATA_IP", "GCE_METADATA_ROOT", "NO_GCE_CHECK",
                 "GOOGLE_CLOUD_QUOTA_PROJECT")


def adc_files() -> list[Path]:
    """The gcloud files Application Default Credentials may come from."""
    config = os.environ.get("CLOUDSDK_CONFIG") or str(Path("~/.config/gcloud").expanduser())
    return [Path(config) / "application_default_credentials.json"]


@hookimpl
def secretstores_store_types() -> list[StoreType]:
    """Declare ``gcp_secret_manager``: one read per secret (the core fans them out)."""
    return [StoreType(
        TYPE, GcpConfig, "Google Cloud Secret Manager",
        capabilities={Capability.READ, Capability.WRITE, Capability.DELETE, Capability.LIST,
                      Capability.CHECK, Capability.VERSIONS})]


@hookimpl
def secretstores_identity(store: StoreSpec) -> str | None:
    """The principal: the key's service account, or what Application Default Credentials
    read (GOOGLE_APPLICATION_CREDENTIALS' file, gcloud's ADC file, the metadata server)."""
    config: GcpConfig = store.config
    if config.client_email is not None:
        return f"serviceAccount:{config.client_email}"
    return environment_identity(variables=ADC_VARIABLES,
                                file_variables=["GOOGLE_APPLICATION_CREDENTIALS"],
                                files=adc_files(), extra=["adc"])


@hookimpl
def secretstores_authenticate(store: StoreSpec) -> Session:
    """Get an access token for the key (or ADC) and build the store's client."""
    from secretstores_gcp.client import connect

    return connect(store)


@hookimpl
def secretstores_read(store: StoreSpec, client: GcpClient, identifier: str) -> FetchResult:
    """Read one identifier with ``AccessSecretVersion``."""
    from secretstores_gcp.read import read_one

    return read_one(client, identifier)


@hookimpl
def secretstores_store(store: StoreSpec, client: GcpClient, name: str, value: str,
                       request_id: str) -> bool:
    """Add a version to ``name``, creating the secret when needed."""
    from secretstores_gcp.write import put

    return put(client, name, value, request_id)


@hookimpl
def secretstores_delete(store: StoreSpec, client: GcpClient, name: str) -> bool:
    """Delete secret ``name`` and all its versions."""
    from secretstores_gcp.write import delete

    return delete(client, name)


@hookimpl
def secretstores_list_names(store: StoreSpec, client: GcpClient) -> list[str]:
    """List the names of the project's secrets."""
    from secretstores_gcp.write import list_names

    return list_names(client)


@hookimpl
def secretstores_check(store: StoreSpec, client: GcpClient) -> str:
    """Secret Manager accepts the credentials for the project."""
    from secretstores_gcp.client import check

    return check(client)
