"""The ``hashicorp_vault`` store passes the core's contract suite against a real OpenBao."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from vaulttest_bao import BaoServer

from conftest import K8s
from secretstores.testing import StoreContract, StoreHarness


class VaultHarness(StoreHarness):
    """Secrets under ``contract/<random>/`` of the ``secret`` mount, seeded with the root token."""

    type = "hashicorp_vault"
    writable = True

    def __init__(self, bao: BaoServer, auth: dict[str, Any]) -> None:
        self.bao = bao
        self.prefix = f"contract/{uuid.uuid4().hex[:10]}"
        self.auth = auth

    def definition(self) -> dict[str, Any]:
        return {"type": self.type, "configuration": {
            "address": self.bao.address, "pathPrefix": self.prefix, **self.auth}}

    def seed(self, identifier: str, value: str) -> None:
        self.bao.seed(f"{self.prefix}/{identifier}", {"value": value})

    def denied_identifier(self) -> str:
        self.bao.seed(f"{self.prefix}/ss_denied_secret", {"value": "refused"})
        return "ss_denied_secret"


class K8sHarness(VaultHarness):
    """Kubernetes login (mount ``k8s-contract``): its tokens can be revoked and re-obtained."""

    def expire_credentials(self) -> bool:
        self.bao.root().sys.revoke_prefix("auth/k8s-contract/")
        return True


class TestVaultStoreKubernetesLogin(StoreContract):
    @pytest.fixture
    def harness(self, bao: BaoServer, k8s: K8s, tmp_path: Path) -> StoreHarness:
        k8s.role("contract", account="contract-sa", policies=("contract",),
                 mount="k8s-contract")
        _, token_path = k8s.token_file(tmp_path, "contract-sa")
        return K8sHarness(bao, {"authMethod": "K8S", "k8sRole": "contract",
                                "k8sTokenPath": str(token_path),
                                "k8sMountPoint": "k8s-contract"})


class TestVaultStoreToken(StoreContract):
    """The read-only store document's shape: address and token (a static token never renews)."""

    @pytest.fixture
    def harness(self, bao: BaoServer) -> StoreHarness:
        token = bao.root().auth.token.create(policies=["contract"], ttl="1h")["auth"]
        return VaultHarness(bao, {"token": token["client_token"]})
