"""Hook implementations. Import the provider's SDK inside the hooks, never at the top."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from secretstores import FetchResult, Session, StoreSpec, StoreType, hookimpl

from secretstores_example.config import ExampleConfig

TYPE = "example_store"


@hookimpl
def secretstores_store_types() -> list[StoreType]:
    return [StoreType(TYPE, ExampleConfig, "an example store", writable=False)]


@hookimpl
def secretstores_authenticate(store: StoreSpec) -> Session | None:
    if store.type != TYPE:
        return None  # not ours: decline
    # import the_sdk  <- here, on first use
    client: dict[str, str] = {}  # build and authenticate the SDK client from store.config
    return Session(client=client)


@hookimpl
def secretstores_fetch(
    store: StoreSpec, client: Any, identifiers: Sequence[str]
) -> dict[str, FetchResult] | None:
    if store.type != TYPE:
        return None
    # One request for the whole batch where the provider has a batch API.
    return {
        i: FetchResult.found(client[i]) if i in client else FetchResult.not_found()
        for i in identifiers
    }
