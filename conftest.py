"""Fixtures shared by every test in the repository (core and plugins).

Each test gets an isolated home: its own keys, database and cache.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from secretstores.plugins import reset_plugins


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own SECRETSTORES_HOME, keys and cache, and no stray variables."""
    home = tmp_path / "home"
    monkeypatch.setenv("SECRETSTORES_HOME", str(home))
    for name in ("SECRETSTORES_CONFIG", "SECRETSTORES_MASTER_KEY", "SECRETSTORES_CACHE_KEY",
                 "SECRETSTORES_SECRETS_MANAGER", "SECRETSTORES_LOAD_PLUGINS",
                 "SECRETSTORES_DISABLE_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    reset_plugins()
    yield home
    reset_plugins()


_postgres_reachable: bool | None = None


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip PostgreSQL tests where no server listens, except in CI, where it must."""
    global _postgres_reachable
    if item.get_closest_marker("postgres") is None:
        return
    if _postgres_reachable is None:
        import socket

        try:
            socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
            _postgres_reachable = True
        except OSError:
            _postgres_reachable = False
    if not _postgres_reachable and not os.environ.get("CI"):
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432 (CI requires one)")
