"""Scenario 9: a store's server dies while a host renders.

A host renders 20 Vault references continuously; OpenBao is killed mid-run.
Reported: how many renders succeeded after the kill (stale values within
``staleIfError``), and when the first one failed, with which error.
"""

from __future__ import annotations

import os
import tempfile
import time

from _util import report


def run() -> None:
    from _servers import ROOT_TOKEN, OpenBao

    from secretstores import SecretStores, TemplateError

    stale_if_error, ttl = 3.0, 1.0
    with tempfile.TemporaryDirectory() as home:
        os.environ["SECRETSTORES_HOME"] = home
        bao = OpenBao()
        client = bao.client()
        for i in range(20):
            client.secrets.kv.v2.create_or_update_secret(path=f"outage/s{i}",
                                                         secret={"value": f"v{i}"})
        stores = SecretStores.from_dict({"defaultStores": False, "stores": [{
            "name": "vault", "type": "hashicorp_vault", "cacheTtl": ttl,
            "staleIfError": stale_if_error, "retries": 1, "deadline": 2,
            "configuration": {"address": bao.url, "token": ROOT_TOKEN}}]})
        template = " ".join(f"{{{{ secrets.vault.[outage/s{i}] }}}}" for i in range(20))
        expected = stores.render_string(template)
        served_stale, failure, failed_at = 0, "", None
        killed_at = time.monotonic() + 1.5
        alive = True
        try:
            while failed_at is None and time.monotonic() < killed_at + 30:
                if alive and time.monotonic() >= killed_at:
                    bao.close()  # the store's server is gone
                    alive = False
                try:
                    assert stores.render_string(template) == expected
                    served_stale += not alive
                except TemplateError as exc:
                    failure, failed_at = str(exc), time.monotonic()
                    print(f"  the first failed render: {exc.problems[0]}")
                time.sleep(0.05)
        finally:
            if alive:
                bao.close()
            stores.close()
    report("outage", "renders succeeding after the store died", served_stale, None, "count",
           comparison=f"stale values (TTL {ttl:g} s, staleIfError {stale_if_error:g} s)")
    if failed_at is not None:
        clear = "secrets.vault." in failure and "cannot reach Vault" in failure
        report("outage", "  time from the kill to the first failed render",
               failed_at - killed_at, None, "s",
               comparison="then every reference says the store is unreachable",
               target=f"<= TTL + staleIfError + deadline ({ttl + stale_if_error + 2:g} s)",
               met=clear and failed_at - killed_at <= ttl + stale_if_error + 2 + 1)
    else:
        report("outage", "  time from the kill to the first failed render", -1, None, "s",
               comparison="no render failed within 30 s", target="fails after the window",
               met=False)


