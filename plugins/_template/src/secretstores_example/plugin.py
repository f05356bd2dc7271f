"""Hook implementations of the ``example_store`` type.

The core calls these only for stores of the types this plugin declares: no
hook checks ``store.type``. Import the provider's SDK inside the hooks (or the
helpers they call on first use), never at the top of this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from secretstores import Capability, FetchResult, Session, StoreSpec, StoreType, hookimpl
from secretstores_example.config import ExampleConfig

if TYPE_CHECKING:
    from secretstores_example.client import ExampleClient

TYPE = "example_store"


@hookimpl
def secretstores_store_types() -> list[StoreType]:
    """Declare the type and what it can do (one read at a time: the core fans out)."""
    return [StoreType(TYPE, ExampleConfig, "the Example Secrets API",
                      capabilities={Capability.READ, Capability.WRITE, Capability.DELETE,
                                    Capability.LIST, Capability.CHECK})]


@hookimpl
def secretstores_authenticate(store: StoreSpec) -> Session:
    """Build the client; the SDK is imported here, on the store's first use."""
    from secretstores_example.client import ExampleClient

    return Session(client=ExampleClient(store.config, timeout=store.timeout))


@hookimpl
def secretstores_read(store: StoreSpec, client: ExampleClient, identifier: str) -> FetchResult:
    """Read one secret."""
    return client.read(identifier)


@hookimpl
def secretstores_store(store: StoreSpec, client: ExampleClient, name: str, value: str) -> bool:
    """Create or replace one secret."""
    client.write(name, value)
    return True


@hookimpl
def secretstores_delete(store: StoreSpec, client: ExampleClient, name: str) -> bool:
    """Delete one secret."""
    return client.delete(name)


@hookimpl
def secretstores_list_names(store: StoreSpec, client: ExampleClient) -> list[str]:
    """List the namespace's secrets."""
    return client.names()


@hookimpl
def secretstores_check(store: StoreSpec, client: ExampleClient) -> str:
    """Prove the token works."""
    return client.check()
