"""Scenario "infisical": a cold read of 20 Infisical secrets behind the 20 ms proxy.

The local Infisical API server of the plugin's tests
(``plugins/infisical/tests/infisical_api.py``) runs in a process of its own, behind
a proxy that adds 20 ms to every request. Folder ``/bench`` of environment
``prod`` holds 20 secrets; folder ``/wide`` holds 200.

1. secretstores renders 20 references with an empty cache (one list call for the
   folder), side by side with the SDK's ``get_secret_by_name`` called for each key
   one after another (its own cache off: a cold read).
2. Batch or fan-out, by batch size: k keys of one folder read with one list call
   (``listThreshold: 1``) or one read per key fanned out by the core
   (``listThreshold: 0``), in the 20-secret and the 200-secret folder. The plugin's
   default ``listThreshold`` is where the list call starts to win.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time

from _proxy import ProxyProcess
from _util import PYTHON, ROOT, cold_against_sdk, report

PER_STORE = 20
WIDE = 200
DELAY = float(os.environ.get("BENCH_DELAY", "0.020"))
SERVER = ROOT / "plugins" / "infisical" / "tests" / "infisical_api.py"
SIZES = (1, 2, 3, 5, 10, 20)


class Setup:
    """The server (its own process), the proxy, and the secrets."""

    def __init__(self) -> None:
        from infisical_sdk import InfisicalSDKClient

        self.server = subprocess.Popen([PYTHON, str(SERVER)], stdout=subprocess.PIPE, text=True)
        assert self.server.stdout is not None
        info = json.loads(self.server.stdout.readline())
        self.project, self.token = info["project"], info["token"]
        self.proxy = ProxyProcess({"infisical": info["url"]}, DELAY)
        self.url = self.proxy.urls["infisical"]
        admin = InfisicalSDKClient(host=info["url"], token=self.token, cache_ttl=None)
        for folder, count in (("bench", PER_STORE), ("wide", WIDE)):
            admin.folders.create_folder(name=folder, environment_slug="prod",
                                        project_id=self.project, path="/")
            for i in range(count):
                admin.secrets.create_secret_by_name(
                    secret_name=f"KEY_{i}", secret_path=f"/{folder}", environment_slug="prod",
                    project_id=self.project, secret_value=f"{folder}-value-{i}")
        admin.close()

    def store(self, name: str, folder: str, threshold: int | None = None) -> dict[str, object]:
        configuration: dict[str, object] = {
            "siteUrl": self.url, "accessToken": self.token, "projectId": self.project,
            "environment": "prod", "secretPath": f"/{folder}"}
        if threshold is not None:
            configuration["listThreshold"] = threshold
        return {"name": name, "type": "infisical", "configuration": configuration}

    def close(self) -> None:
        self.proxy.close()
        self.server.terminate()
        self.server.wait(10)


def template(store: str, count: int) -> str:
    return "\n".join(f"{{{{ secrets.{store}.KEY_{i} }}}}" for i in range(count))


def cold(setup: Setup, rounds: int) -> None:
    from infisical_sdk import InfisicalSDKClient

    from secretstores import SecretStores

    stores = SecretStores.from_dict({"defaultStores": False,
                                     "stores": [setup.store("infisical", "bench")]})
    text = template("infisical", PER_STORE)
    expected = stores.render_string(text)  # authenticates (a static token: no request)
    sdk = InfisicalSDKClient(host=setup.url, token=setup.token, cache_ttl=None)

    def theirs() -> None:
        for i in range(PER_STORE):
            sdk.secrets.get_secret_by_name(secret_name=f"KEY_{i}", project_id=setup.project,
                                           environment_slug="prod", secret_path="/bench")

    ours = cold_against_sdk("infisical", f"render {PER_STORE} refs / 1 folder, empty cache",
                            "SDK get_secret_by_name one after another", stores, text, expected,
                            theirs, rounds=rounds)
    setup.proxy.reset()
    ours()
    report("infisical", "  requests reaching Infisical", setup.proxy.total(), None, "count",
           comparison=f"{PER_STORE} references")
    sdk.close()
    stores.close()


def batch_or_fan_out(setup: Setup, rounds: int) -> None:
    from secretstores import SecretStores

    for folder, size in (("bench", PER_STORE), ("wide", WIDE)):
        stores = SecretStores.from_dict({"defaultStores": False, "stores": [
            setup.store("listed", folder, threshold=1),
            setup.store("fanned", folder, threshold=0)]})
        stores.render_string(template("listed", 1) + template("fanned", 1))  # warm up
        for count in SIZES:
            timings: dict[str, float] = {}
            for store in ("listed", "fanned"):
                text = template(store, count)
                times = []
                for _ in range(rounds):
                    stores.invalidate()
                    start = time.perf_counter()
                    stores.render_string(text)
                    times.append(time.perf_counter() - start)
                timings[store] = statistics.median(times)
            report("infisical", f"  {count:>2} keys, folder of {size}: one list call",
                   timings["listed"] * 1000, timings["fanned"] * 1000, "ms",
                   comparison="one read per key, fanned out by the core")
        stores.close()


def run(rounds: int = 7) -> None:
    with tempfile.TemporaryDirectory() as home:
        os.environ["SECRETSTORES_HOME"] = home
        setup = Setup()
        try:
            cold(setup, rounds)
            batch_or_fan_out(setup, rounds)
        finally:
            setup.close()


if __name__ == "__main__":
    run()
