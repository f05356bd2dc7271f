"""The pluggy hook implementations of the ``aws_secrets_manager`` store type.

Registered through the entry point ``secretstores: aws``. Each hook declines
(returns None) for stores of other types. Nothing here imports boto3: the
helpers it calls do, on a store's first use.
"""

from __future__ import annotations

from collections.abc import Sequence

from secretstores import hookimpl
from secretstores.model import FetchResult, Session, StoreSpec, StoreType
from secretstores_aws import TYPE
from secretstores_aws.client import AwsClient
from secretstores_aws.config import AwsConfig


@hookimpl
def secretstores_store_types() -> list[StoreType]:
    """Declare ``aws_secrets_manager``, a writable store type."""
    return [StoreType(TYPE, AwsConfig, "AWS Secrets Manager", writable=True)]


@hookimpl
def secretstores_authenticate(store: StoreSpec) -> Session | None:
    """Build the store's boto3 client (assuming ``roleArn`` first when set)."""
    if store.type != TYPE:
        return None
    from secretstores_aws.client import connect

    return connect(store)


@hookimpl
def secretstores_fetch(
    store: StoreSpec, client: AwsClient, identifiers: Sequence[str]
) -> dict[str, FetchResult] | None:
    """Read a batch: ``BatchGetSecretValue`` by 20s, ``GetSecretValue`` for other versions."""
    if store.type != TYPE:
        return None
    from secretstores_aws.fetch import fetch

    return fetch(client, identifiers)


@hookimpl
def secretstores_store(store: StoreSpec, client: AwsClient, name: str, value: str) -> bool | None:
    """Write a new current version of ``name``, creating the secret when needed."""
    if store.type != TYPE:
        return None
    from secretstores_aws.write import put

    return put(client, name, value)


@hookimpl
def secretstores_delete(store: StoreSpec, client: AwsClient, name: str) -> bool | None:
    """Delete ``name`` (with the configured recovery window)."""
    if store.type != TYPE:
        return None
    from secretstores_aws.write import delete

    return delete(client, name)


@hookimpl
def secretstores_list_names(store: StoreSpec, client: AwsClient) -> list[str] | None:
    """List the names of the store's secrets with ``ListSecrets``."""
    if store.type != TYPE:
        return None
    from secretstores_aws.write import list_names

    return list_names(client)
