"""Building ``SecretStores`` over one store of a provider's type, for its tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from secretstores.api import SecretStores
from secretstores.cache import SecretCache


@contextmanager
def one_store_stores(directory: Path, name: str,
                     type_: str) -> Iterator[Callable[..., SecretStores]]:
    """``make(configuration, **store_options)`` -> a ``SecretStores`` with the single
    store ``name`` of type ``type_``; every one made shares one disk cache in
    ``directory`` (as processes of one user do) and is closed on exit.

    In a plugin's ``conftest.py``::

        @pytest.fixture
        def make_stores(tmp_path):
            with one_store_stores(tmp_path, "acme", "acme_vault") as make:
                yield make
    """
    made: list[SecretStores] = []

    def make(configuration: dict[str, Any], **options: Any) -> SecretStores:
        definition = {"name": name, "type": type_, "configuration": configuration,
                      **options}
        cache = SecretCache(directory / "cache", key_file=directory / "cache.key")
        stores = SecretStores.from_dict({"stores": [definition], "defaultStores": False},
                                        cache=cache)
        made.append(stores)
        return stores

    try:
        yield make
    finally:
        for stores in made:
            stores.close()
