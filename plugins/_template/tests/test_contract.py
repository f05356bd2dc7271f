"""Hold the plugin to the contract every store type passes."""

from __future__ import annotations

from typing import Any

import pytest

from secretstores.testing import StoreContract, StoreHarness


class ExampleHarness(StoreHarness):
    type = "example_store"

    def definition(self) -> dict[str, Any]:
        return {"type": "example_store", "configuration": {"url": "http://127.0.0.1:1"}}

    def seed(self, identifier: str, value: str) -> None:
        raise NotImplementedError("write the secret through the provider's SDK")


class TestExampleStore(StoreContract):
    @pytest.fixture
    def harness(self) -> StoreHarness:
        return ExampleHarness()
