"""Scenario 6: side by side with the usual tools, through the same 20 ms proxies.

AWS: aws-secretsmanager-caching's ``SecretCache`` and a plain boto3 loop;
Vault: an hvac loop. Also the warm per-lookup cost against ``SecretCache``.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

from _util import report, side_by_side
from cold import PER_STORE, Setup


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(rounds: int = 3) -> None:
    from aws_secretsmanager_caching import SecretCache, SecretCacheConfig

    from secretstores import SecretStores

    with tempfile.TemporaryDirectory() as home:
        os.environ["SECRETSTORES_HOME"] = home
        setup = Setup(home)
        try:
            stores = SecretStores.from_dict(setup.config)
            aws_refs, vault_refs = setup.refs["aws_a"], setup.refs["vault_a"]
            aws_template = "".join(f"{{{{ secrets.aws_a.[{r}] }}}}" for r in aws_refs)
            vault_template = "".join(f"{{{{ secrets.vault_a.[{r}] }}}}" for r in vault_refs)
            stores.render_string(aws_template + vault_template)  # authenticate

            def ours(template: str) -> float:
                stores.invalidate()
                return _timed(lambda: stores.render_string(template))

            boto = setup.moto.client(setup.urls["aws_a"])

            def boto_loop() -> None:
                for ref in aws_refs:
                    boto.get_secret_value(SecretId=ref)

            def caching_cold() -> None:
                cache = SecretCache(config=SecretCacheConfig(), client=boto)
                for ref in aws_refs:
                    cache.get_secret_string(ref)

            ours_aws = statistics.median(ours(aws_template) for _ in range(rounds))
            loop = statistics.median(_timed(boto_loop) for _ in range(rounds))
            caching = statistics.median(_timed(caching_cold) for _ in range(rounds))
            report("peers", f"AWS: {PER_STORE} secrets, cold", ours_aws * 1000, loop * 1000, "ms",
                   comparison="plain boto3 get_secret_value loop")
            report("peers", f"AWS: {PER_STORE} secrets, cold", ours_aws * 1000, caching * 1000,
                   "ms", comparison="aws-secretsmanager-caching SecretCache, empty")

            warm_cache = SecretCache(config=SecretCacheConfig(), client=boto)
            for ref in aws_refs:
                warm_cache.get_secret_string(ref)
            stores.render_string(aws_template)
            ref = aws_refs[3]
            ours_get, theirs_get = side_by_side(lambda: stores.get("aws_a", ref),
                                                lambda: warm_cache.get_secret_string(ref),
                                                number=2000)
            report("peers", "AWS: one cached lookup, SecretStores.get()", ours_get * 1e6,
                   theirs_get * 1e6, "us", comparison="SecretCache.get_secret_string, warm",
                   target=">= 50x faster", met=theirs_get / ours_get >= 50)
            import hvac
            from _servers import ROOT_TOKEN

            client = hvac.Client(url=setup.urls["vault_a"], token=ROOT_TOKEN)

            def hvac_loop() -> None:
                for ref in vault_refs:
                    client.secrets.kv.v2.read_secret_version(path=ref, mount_point="secret",
                                                             raise_on_deleted_version=True)

            ours_vault = statistics.median(ours(vault_template) for _ in range(rounds))
            theirs_vault = statistics.median(_timed(hvac_loop) for _ in range(rounds))
            report("peers", f"Vault: {PER_STORE} secrets, cold", ours_vault * 1000,
                   theirs_vault * 1000, "ms", comparison="plain hvac read_secret_version loop")
            stores.close()
        finally:
            setup.close()


if __name__ == "__main__":
    run()
