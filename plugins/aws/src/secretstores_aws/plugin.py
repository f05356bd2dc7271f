"""The pluggy hook implementations of the ``aws_secrets_manager`` store type.

Registered through the entry point ``secretstores: aws``. The core calls these
hooks only for stores of type ``aws_secrets_manager``. Nothing here imports
boto3: the helpers it calls do, on a store's first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from secretstores import hookimpl
from secretstores.identity import aws_chain_identity
from secretstores.model import Capability, FetchResult, Session, StoreSpec, StoreType
from secretstores_aws import BATCH_LIMIT, TYPE
from secretstores_aws.config import AwsConfig

if TYPE_CHECKING:
    from secretstores_aws.client import AwsClient


@hookimpl
def secretstores_store_types() -> list[StoreType]:
    """Declare ``aws_secrets_manager``: batches of 20, single reads for other versions."""
    return [StoreType(
        TYPE, AwsConfig, "AWS Secrets Manager",
        capabilities={Capability.BATCH_READ, Capability.READ, Capability.WRITE,
                      Capability.DELETE, Capability.LIST, Capability.CHECK,
                      Capability.VERSIONS},
        batch_size=BATCH_LIMIT)]


@hookimpl
def secretstores_identity(store: StoreSpec) -> str | None:
    """The credential chain's inputs, when the configuration holds no keys: the
    environment (``AWS_PROFILE``, keys, role, web identity) and the shared files."""
    config: AwsConfig = store.config
    if config.access_key_id is not None:
        return None  # the keys are in the configuration
    return aws_chain_identity(extra=[config.profile or ""])


@hookimpl
def secretstores_authenticate(store: StoreSpec) -> Session:
    """Build the store's boto3 client (assuming ``roleArn`` first when set)."""
    from secretstores_aws.client import connect

    return connect(store)


@hookimpl
def secretstores_fetch(
    store: StoreSpec, client: AwsClient, identifiers: Sequence[str]
) -> dict[str, FetchResult]:
    """Read current versions with one ``BatchGetSecretValue``; leave other versions out."""
    from secretstores_aws.fetch import fetch_batch

    return fetch_batch(client, identifiers)


@hookimpl
def secretstores_read(store: StoreSpec, client: AwsClient, identifier: str) -> FetchResult:
    """Read one identifier, any version, with ``GetSecretValue``."""
    from secretstores_aws.fetch import read_one

    return read_one(client, identifier)


@hookimpl
def secretstores_store(store: StoreSpec, client: AwsClient, name: str, value: str,
                       request_id: str) -> bool:
    """Write a new current version of ``name``, creating the secret when needed."""
    from secretstores_aws.write import put

    return put(client, name, value, request_id)


@hookimpl
def secretstores_delete(store: StoreSpec, client: AwsClient, name: str) -> bool:
    """Delete ``name`` (with the configured recovery window)."""
    from secretstores_aws.write import delete

    return delete(client, name)


@hookimpl
def secretstores_list_names(store: StoreSpec, client: AwsClient) -> list[str]:
    """List the names of the store's secrets with ``ListSecrets``."""
    from secretstores_aws.write import list_names

    return list_names(client)


@hookimpl
def secretstores_check(store: StoreSpec, client: AwsClient) -> str:
    """Secrets Manager accepts the credentials."""
    from secretstores_aws.write import check

    return check(client)
