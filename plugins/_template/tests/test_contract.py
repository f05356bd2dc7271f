"""Hold the plugin to the contract every store type passes, against a local Example API."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from secretstores.plugins import get_plugins
from secretstores.testing import CANARY, StoreContract, StoreHarness
from secretstores.testing.faults import FaultProxy

sys.path.insert(0, str(Path(__file__).parent))

from example_api import ExampleApi


class ExampleHarness(StoreHarness):
    type = "example_store"
    writable = True

    def __init__(self, api: ExampleApi) -> None:
        self.api = api
        api.failures.clear()  # the server is shared by the module's tests
        self.namespace = f"ns-{uuid.uuid4().hex[:8]}"
        self.token = f"token-{uuid.uuid4().hex}"
        api.tokens[self.token] = {self.namespace}
        self.closing: list[FaultProxy] = []

    def configuration(self, **changes: Any) -> dict[str, Any]:
        return {"url": self.api.url, "token": self.token, "namespace": self.namespace,
                **changes}

    def definition(self) -> dict[str, Any]:
        return {"type": self.type, "configuration": self.configuration()}

    def seed(self, identifier: str, value: str) -> None:
        with self.api.lock:
            self.api.secrets.setdefault(self.namespace, {})[identifier] = value

    def denied_identifier(self) -> str:
        self.seed("ss_denied", "refused")
        self.api.deny.add("ss_denied")
        return "ss_denied"

    def unresponsive_definition(self, address: str) -> dict[str, Any]:
        return {"type": self.type, "configuration": self.configuration(url=f"http://{address}")}

    def fail_next(self, count: int, *, throttle: bool = False) -> bool:
        self.api.fail_next(count, throttle=throttle)
        return True

    def misconfigured_definitions(self) -> dict[str, dict[str, Any]]:
        page = FaultProxy(self.api.url)
        page.always(status=404, body=b"<h1>Not Found</h1>", headers={"Content-Type": "text/html"})
        self.closing.append(page)
        return {"a web server, not the API": {"type": self.type,
                                              "configuration": self.configuration(url=page.url)}}

    def rejected_credentials_definition(self) -> dict[str, Any]:
        return {"type": self.type, "configuration": self.configuration(token=CANARY)}


@pytest.fixture(scope="module")
def api() -> Iterator[ExampleApi]:
    server = ExampleApi()
    yield server
    server.close()


class TestExampleStore(StoreContract):
    @pytest.fixture
    def harness(self, api: ExampleApi) -> Iterator[StoreHarness]:
        harness = ExampleHarness(api)
        yield harness
        for server in harness.closing:
            server.close()


def test_installed_and_discovered() -> None:
    assert "example" in {ep.name for ep in entry_points(group="secretstores")}
    assert "example_store" in get_plugins().store_types()


def test_loading_the_plugin_imports_no_sdk() -> None:
    code = ("import sys, secretstores_example.plugin\n"
            "print('secretstores_example.client' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
