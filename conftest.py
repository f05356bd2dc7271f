"""Fixtures shared by every test in the repository (core and plugins): an isolated home, keys and cache per test."""

from __future__ import annotations

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
