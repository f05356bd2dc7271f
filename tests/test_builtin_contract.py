"""The built-in stores pass the contract suite: env, db on SQLite, db on PostgreSQL."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from secretstores.api import SecretStores
from secretstores.testing import CANARY, StoreContract, StoreHarness


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

    def unresponsive_definition(self, address: str) -> dict[str, Any] | None:
        if not self.url.startswith("postgresql://"):
            return None  # a SQLite file has no address
        return {"type": "db", "configuration": dict(
            self.configuration, url=f"postgresql://postgres@{address}/test")}


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


class ToyHarness(StoreHarness):
    """The third-party toy plugin (tests/plugins/secretstores_toy), a file of secrets."""

    type = "toy"
    writable = True

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "toy-secrets.json"
        self.path.write_text("{}")
        self.tmp_path = tmp_path

    def _edit(self, **changes: Any) -> None:
        data = json.loads(self.path.read_text())
        data.update(changes)
        self.path.write_text(json.dumps(data))

    def definition(self) -> dict[str, Any]:
        return {"type": "toy", "configuration": {"path": str(self.path), "deny": ["ss_denied"],
                                                 "token": f"toy-{CANARY}"}}

    def seed(self, identifier: str, value: str) -> None:
        self._edit(**{identifier: value})

    def denied_identifier(self) -> str:
        self.seed("ss_denied", "refused")
        return "ss_denied"

    def fail_next(self, count: int, *, throttle: bool = False) -> bool:
        self._edit(**{"__throttle__" if throttle else "__flaky__": count})
        return True

    def misconfigured_definitions(self) -> dict[str, dict[str, Any]]:
        not_json = self.tmp_path / "not-json.txt"
        not_json.write_text("this is not JSON")
        return {"a directory": {"type": "toy", "configuration": {"path": str(self.tmp_path)}},
                "not JSON": {"type": "toy", "configuration": {"path": str(not_json)}}}


class TestToyStore(StoreContract):
    """A provider written from docs/ alone, without checking store.type."""

    @pytest.fixture
    def harness(self, tmp_path: Path) -> StoreHarness:
        return ToyHarness(tmp_path)
