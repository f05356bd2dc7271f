"""The ``hashicorp_vault`` store passes the core's contract suite against a real OpenBao."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vaulttest_bao import BaoServer
from vaulttest_fixtures import K8s

from secretstores.testing import CANARY, StoreContract, StoreHarness
from secretstores.testing.faults import FaultProxy


class VaultHarness(StoreHarness):
    """Secrets under ``contract/<random>/`` of the ``secret`` mount, seeded with the root token.

    The store reaches OpenBao through a fault proxy, which can answer the next
    requests with a 503 or a 429 in Vault's own shape.
    """

    type = "hashicorp_vault"
    writable = True

    def __init__(self, bao: BaoServer, auth: dict[str, Any]) -> None:
        self.bao = bao
        self.prefix = f"contract/{uuid.uuid4().hex[:10]}"
        self.auth = auth
        self.front = FaultProxy(bao.address)
        self.servers = [self.front]

    def configuration(self, **changes: Any) -> dict[str, Any]:
        return {"address": self.front.url, "pathPrefix": self.prefix, **self.auth, **changes}

    def definition(self) -> dict[str, Any]:
        return {"type": self.type, "configuration": self.configuration()}

    def seed(self, identifier: str, value: str) -> None:
        self.bao.seed(f"{self.prefix}/{identifier}", {"value": value})

    def denied_identifier(self) -> str:
        self.bao.seed(f"{self.prefix}/ss_denied_secret", {"value": "refused"})
        return "ss_denied_secret"

    def unresponsive_definition(self, address: str) -> dict[str, Any]:
        return {"type": self.type, "configuration": self.configuration(address=f"http://{address}")}

    def fail_next(self, count: int, *, throttle: bool = False) -> bool:
        if throttle:  # a rate limit quota's answer
            self.front.fail_next(count, status=429, headers={"Retry-After": "0",
                                 "Content-Type": "application/json"},
                                 body=b'{"errors":["request path \\"secret/data\\": rate limit '
                                      b'quota exceeded"]}')
        else:  # a standby or sealed node
            self.front.fail_next(count, status=503, headers={"Content-Type": "application/json"},
                                 body=b'{"errors":["Vault is sealed"]}')
        return True

    def misconfigured_definitions(self) -> dict[str, dict[str, Any]]:
        page = FaultProxy(self.bao.address)
        page.always(status=404, body=b"404 page not found\n",
                    headers={"Content-Type": "text/plain"})
        self.servers.append(page)
        return {
            "a mount that does not exist": {"type": self.type, "configuration":
                                            self.configuration(mountPath="secrett")},
            "a KV version 1 mount": {"type": self.type, "configuration":
                                     self.configuration(mountPath="kv1")},
            "an address that is not Vault": {"type": self.type, "configuration":
                                             self.configuration(address=page.url)},
        }

    def rejected_credentials_definition(self) -> dict[str, Any]:
        return {"type": self.type, "configuration": {
            "address": self.front.url, "pathPrefix": self.prefix, "token": f"s.{CANARY}"}}

    def close(self) -> None:
        for server in self.servers:
            server.close()


class K8sHarness(VaultHarness):
    """Kubernetes login (mount ``k8s-contract``): its tokens can be revoked and re-obtained."""

    def expire_credentials(self) -> bool:
        self.bao.root().sys.revoke_prefix("auth/k8s-contract/")
        return True


class TestVaultStoreKubernetesLogin(StoreContract):
    @pytest.fixture
    def harness(self, bao: BaoServer, k8s: K8s, tmp_path: Path) -> Iterator[StoreHarness]:
        k8s.role("contract", account="contract-sa", policies=("contract",),
                 mount="k8s-contract")
        _, token_path = k8s.token_file(tmp_path, "contract-sa")
        harness = K8sHarness(bao, {"authMethod": "K8S", "k8sRole": "contract",
                                   "k8sTokenPath": str(token_path),
                                   "k8sMountPoint": "k8s-contract"})
        yield harness
        harness.close()


class TestVaultStoreToken(StoreContract):
    """The read-only store document's shape: address and token (a static token never renews)."""

    @pytest.fixture
    def harness(self, bao: BaoServer) -> Iterator[StoreHarness]:
        token = bao.root().auth.token.create(policies=["contract"], ttl="1h")["auth"]
        harness = VaultHarness(bao, {"token": token["client_token"]})
        yield harness
        harness.close()
