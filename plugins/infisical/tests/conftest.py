"""Fixtures: one local Infisical API server per session, a fresh project per test.

Everything listens on 127.0.0.1; nothing is mocked. The helpers are in
``infisical_fixtures`` (test modules import it, and ``infisical_api``, by name).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# appended, not put first: another plugin's tests may import their own ``conftest`` by name
if str(Path(__file__).parent) not in sys.path:
    sys.path.append(str(Path(__file__).parent))

from infisical_api import InfisicalApi
from infisical_fixtures import Project

from secretstores.api import SecretStores
from secretstores.cache import SecretCache


@pytest.fixture(scope="session")
def api() -> Iterator[InfisicalApi]:
    server = InfisicalApi()
    yield server
    server.close()


@pytest.fixture
def project(api: InfisicalApi) -> Project:
    """A fresh project (environments dev, staging, prod) with a member identity."""
    return Project.create(api)


@pytest.fixture
def make_stores(tmp_path: Path) -> Iterator[Any]:
    """Build SecretStores from store definitions; closed afterwards."""
    made: list[SecretStores] = []

    def make(*definitions: dict[str, Any], **options: Any) -> SecretStores:
        cache = SecretCache(tmp_path / f"cache{len(made)}", key_file=tmp_path / "cache.key")
        stores = SecretStores.from_dict(
            {"stores": list(definitions), "defaultStores": False}, cache=cache, **options)
        made.append(stores)
        return stores

    yield make
    for stores in made:
        stores.close()
