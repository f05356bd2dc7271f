"""Scenario "keyvault": a cold read of 20 Azure Key Vault secrets behind the 20 ms proxy.

The local Key Vault and Microsoft Entra ID of the azure plugin's tests
(``plugins/azure/tests/azkv_world.py``: HTTPS, the challenge handshake, real
tokens) run in a process of their own, each reached through a TCP proxy that
adds 20 ms to every request (TLS passes through it untouched). secretstores
renders 20 references with an empty cache (the store already signed in, as in
the "cold" scenario); the comparison is the SDK's ``SecretClient.get_secret``
called once per secret, one after another, on a client that already holds its
token. Key Vault has no batch read: the gain is the core's bounded fan-out over
one client and its pool of connections.

    cd benchmarks && ../.venv/bin/python -c "import keyvault; keyvault.run()"

(The module is not named ``azure``, which would shadow the SDK's package.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

from _proxy import ProxyProcess
from _util import ROOT, cold_against_sdk

SECRETS = 20
DELAY = float(os.environ.get("BENCH_DELAY", "0.020"))
WORLD = ROOT / "plugins" / "azure" / "tests" / "azkv_world.py"


class Setup:
    """The local Azure in a child process, the proxies, the secrets, the store."""

    def __init__(self) -> None:
        self.world = subprocess.Popen([sys.executable, str(WORLD)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
        assert self.world.stdout is not None
        self.info: dict[str, Any] = json.loads(self.world.stdout.readline())
        vault_port = self.info["vault"].rsplit(":", 1)[1]
        entra_port = self.info["entra"].rsplit(":", 1)[1]
        self.proxy = ProxyProcess({"keyvault": f"tcp://127.0.0.1:{vault_port}",
                                   "entra": f"tcp://127.0.0.1:{entra_port}"}, DELAY)
        self.vault_url = f"https://127.0.0.1:{self.proxy.ports['keyvault']}"
        self.entra_url = f"https://127.0.0.1:{self.proxy.ports['entra']}"
        admin = self.client(*self.info["admin"], vault=self.info["vault"],
                            authority=self.info["entra"])
        self.names = [f"bench-s{i}" for i in range(SECRETS)]
        for i, name in enumerate(self.names):
            admin.set_secret(name, f"keyvault-{i}")
        admin.close()
        client_id, client_secret = self.info["reader"]
        self.config = {"defaultStores": False, "stores": [
            {"name": "kv", "type": "azure_key_vault", "configuration": {
                "vaultUrl": self.vault_url, "tenantId": self.info["tenant"],
                "clientId": client_id, "clientSecret": client_secret,
                "authorityHost": self.entra_url, "caCert": self.info["ca"],
                "verifyChallengeResource": False, "disableInstanceDiscovery": True}}]}
        self.template = "\n".join(f"kv_{i}: {{{{ secrets.kv.[{name}] }}}}"
                                  for i, name in enumerate(self.names))

    def client(self, client_id: str, client_secret: str, *, vault: str | None = None,
               authority: str | None = None) -> Any:
        """A ``SecretClient`` as an application would build it (through the proxies)."""
        from azure.identity import ClientSecretCredential
        from azure.keyvault.secrets import SecretClient

        credential = ClientSecretCredential(
            self.info["tenant"], client_id, client_secret,
            authority=authority or self.entra_url, disable_instance_discovery=True,
            connection_verify=self.info["ca"])
        return SecretClient(vault or self.vault_url, credential, verify_challenge_resource=False,
                            connection_verify=self.info["ca"])

    def close(self) -> None:
        self.proxy.close()
        assert self.world.stdin is not None
        self.world.stdin.close()
        self.world.wait(10)


def run(rounds: int = 7) -> None:
    from secretstores import SecretStores

    with tempfile.TemporaryDirectory() as home:
        os.environ["SECRETSTORES_HOME"] = home
        setup = Setup()
        try:
            stores = SecretStores.from_dict(setup.config)
            expected = "\n".join(f"kv_{i}: keyvault-{i}" for i in range(SECRETS))
            assert stores.render_string(setup.template) == expected  # signs in, fills the pool
            sdk = setup.client(*setup.info["reader"])
            sdk.get_secret(setup.names[0])  # the SDK's challenge handshake and token, once

            def theirs() -> None:
                for i, name in enumerate(setup.names):
                    assert sdk.get_secret(name).value == f"keyvault-{i}"

            cold_against_sdk("keyvault", f"cold render {SECRETS} Key Vault refs, empty cache",
                             "SecretClient.get_secret one after another", stores,
                             setup.template, expected, theirs, rounds=rounds)
            sdk.close()
            stores.close()
        finally:
            setup.close()


if __name__ == "__main__":
    sys.exit(run())
