"""The built-in stores pass the contract suite: env, db on SQLite, db on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from secretstores.api import SecretStores
from secretstores.testing import StoreContract, StoreHarness


class EnvHarness(StoreHarness):
    type = "env"

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    def definition(self) -> dict[str, Any]:
        return {"type": "env", "configuration": {"allow": ["ss_*", "SS_*"]}}

    def seed(self, identifier: str, value: str) -> None:
        self.monkeypatch.setenv(identifier, value)

    def denied_identifier(self) -> str:
        self.monkeypatch.setenv("FORBIDDEN_VARIABLE", "x")
        return "FORBIDDEN_VARIABLE"


class TestEnvStore(StoreContract):
    @pytest.fixture
    def harness(self, monkeypatch: pytest.MonkeyPatch) -> StoreHarness:
        return EnvHarness(monkeypatch)


class DbHarness(StoreHarness):
    type = "db"
    writable = True

    def __init__(self, url: str, tmp_path: Path) -> None:
        self.url = url
        self.key_file = str(tmp_path / "master.key")
        self.tmp_path = tmp_path
        self.configuration = {"url": url, "keyFile": self.key_file,
                              "table": f"t_{uuid.uuid4().hex[:8]}"}
        self._writer = self._stores(self.configuration)

    def _stores(self, configuration: dict[str, Any]) -> SecretStores:
        return SecretStores.from_dict({
            "stores": [{"name": "w", "type": "db", "configuration": configuration,
                        "cacheTtl": 0}],
            "defaultStores": False,
        })

    def definition(self) -> dict[str, Any]:
        return {"type": "db", "configuration": self.configuration}

    def seed(self, identifier: str, value: str) -> None:
        self._writer.put("w", identifier, value)

    def denied_identifier(self) -> str:
        other = dict(self.configuration, keyFile=str(self.tmp_path / "other.key"))
        stranger = self._stores(other)
        stranger.put("w", "written_with_another_key", "x")
        stranger.close()
        return "written_with_another_key"

    def expire_credentials(self) -> bool:
        return False


class TestDbStoreSqlite(StoreContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> StoreHarness:
        return DbHarness(f"sqlite:///{tmp_path / 'secrets.db'}", tmp_path)


POSTGRES_URL = os.environ.get("SECRETSTORES_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.mark.postgres
class TestDbStorePostgres(StoreContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> StoreHarness:
        return DbHarness(POSTGRES_URL, tmp_path)
