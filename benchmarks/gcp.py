"""Scenario "gcp": a cold read of 20 Secret Manager secrets behind the 20 ms proxy.

The local Secret Manager of the gcp plugin's tests (``plugins/gcp/tests/gcptest_server.py``:
the REST API and Google's token endpoint) runs in a process of its own, reached
through a TCP proxy that adds 20 ms to every request (network latency, not a
Python HTTP proxy's CPU, which the 20 concurrent reads would queue behind on
two cores; both sides go through the same proxy). secretstores renders 20
references with an empty cache (the store already holds its access token, as in
the "cold" scenario); the comparison is the official client's
``access_secret_version`` called once per secret, one after another, over the
same REST transport (the proxy speaks HTTP/1.1, not gRPC), on a client that
already made its first request. Secret Manager has no batch read: the gain is
the core's bounded fan-out over one client and its pool of connections.

    cd benchmarks && ../.venv/bin/python -c "import gcp; gcp.run()"
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

from _proxy import ProxyProcess
from _util import ROOT, cold_against_sdk, report

SECRETS = 20
DELAY = float(os.environ.get("BENCH_DELAY", "0.020"))
SERVER = ROOT / "plugins" / "gcp" / "tests" / "gcptest_server.py"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"


def sdk_client(key: dict[str, Any], endpoint: str) -> Any:
    """A ``SecretManagerServiceClient`` as an application would build it (REST transport)."""
    from google.cloud import secretmanager
    from google.oauth2 import service_account

    credentials = service_account.Credentials.from_service_account_info(key, scopes=[SCOPE])
    return secretmanager.SecretManagerServiceClient(
        credentials=credentials, transport="rest", client_options={"api_endpoint": endpoint})


class Setup:
    """The local Secret Manager in a child process, the proxy, the secrets, the store."""

    def __init__(self) -> None:
        sys.path.insert(0, str(SERVER.parent))
        from gcptest_server import crc32c

        self.server = subprocess.Popen([sys.executable, str(SERVER)], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True)
        assert self.server.stdout is not None
        self.info: dict[str, Any] = json.loads(self.server.stdout.readline())
        port = self.info["url"].rsplit(":", 1)[1]
        self.proxy = ProxyProcess({"gcp": f"tcp://127.0.0.1:{port}"}, DELAY)
        self.endpoint = f"http://127.0.0.1:{self.proxy.ports['gcp']}"
        project, key = self.info["project"], self.info["key"]
        admin = sdk_client(key, self.info["url"])
        self.paths = [f"projects/{project}/secrets/bench-s{i}" for i in range(SECRETS)]
        for i, path in enumerate(self.paths):
            admin.create_secret(request={"parent": f"projects/{project}",
                                         "secret_id": path.rpartition("/")[2],
                                         "secret": {"replication": {"automatic": {}}}})
            data = f"gcp-{i}".encode()
            admin.add_secret_version(request={"parent": path, "payload": {
                "data": data, "data_crc32c": crc32c(data)}})
        admin.transport.close()
        self.config = {"defaultStores": False, "stores": [
            {"name": "gcp", "type": "gcp_secret_manager", "configuration": {
                "projectId": project, "serviceAccountKey": json.dumps(key),
                "endpoint": self.endpoint}}]}
        self.template = "\n".join(f"gcp_{i}: {{{{ secrets.gcp.[bench-s{i}] }}}}"
                                  for i in range(SECRETS))

    def close(self) -> None:
        self.proxy.close()
        assert self.server.stdin is not None
        self.server.stdin.close()
        self.server.wait(10)


def run(rounds: int = 7) -> None:
    from secretstores import SecretStores

    with tempfile.TemporaryDirectory() as home:
        os.environ["SECRETSTORES_HOME"] = home
        setup = Setup()
        try:
            stores = SecretStores.from_dict(setup.config)
            expected = "\n".join(f"gcp_{i}: gcp-{i}" for i in range(SECRETS))
            assert stores.render_string(setup.template) == expected  # signs in, fills the pool
            sdk = sdk_client(setup.info["key"], setup.endpoint)
            sdk.access_secret_version(request={"name": f"{setup.paths[0]}/versions/latest"})

            def theirs() -> None:
                for i, path in enumerate(setup.paths):
                    answer = sdk.access_secret_version(request={"name": f"{path}/versions/latest"})
                    assert answer.payload.data == f"gcp-{i}".encode()

            ours = cold_against_sdk(
                "gcp", f"cold render {SECRETS} Secret Manager refs, empty cache",
                "access_secret_version one after another", stores, setup.template, expected,
                theirs, rounds=rounds)
            setup.proxy.reset()
            ours()
            report("gcp", "  requests reaching Secret Manager (TCP sends)", setup.proxy.total(),
                   None, "count", comparison=f"{SECRETS} references (no batch read)")
            sdk.transport.close()
            stores.close()
        finally:
            setup.close()


if __name__ == "__main__":
    sys.exit(run())
