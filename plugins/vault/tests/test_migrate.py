"""`secretstores migrate` from the local database store into the Vault manager.

The seed warns that existing secrets are not migrated when the manager
changes; migrate closes that gap. Real OpenBao, real CLI process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from vaulttest_bao import BaoServer

from secretstores.api import SecretStores
from secretstores.testing.contract import CANARY


def _cli(*args: str, env: dict[str, str], stdin: str | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "secretstores.cli", *args], input=stdin,
                          capture_output=True, text=True, env={**os.environ, **env}, timeout=120)


def test_migrate_local_to_vault_manager_is_verified_and_repeatable(
        bao: BaoServer, prefix: str, tmp_path: Path) -> None:
    env = {
        "ARCHESTRA_SECRETS_MANAGER": "VAULT",
        "ARCHESTRA_HASHICORP_VAULT_ADDR": bao.address,
        "ARCHESTRA_HASHICORP_VAULT_TOKEN": bao.root_token,
        "ARCHESTRA_HASHICORP_VAULT_SECRET_PATH_PREFIX": prefix,
    }
    for name, value in (("openai_key", CANARY), ("db", '{"password": "pw"}'), ("x", "1")):
        assert _cli("put", "local", name, env=env, stdin=value).returncode == 0

    first = _cli("--env-prefix", "ARCHESTRA", "migrate", "--from", "local", "--to", "manager",
                 env=env)
    assert first.returncode == 0, first.stderr
    assert "3 copied" in first.stderr
    assert CANARY not in first.stdout + first.stderr
    raw = bao.root().secrets.kv.v2.read_secret_version(
        path=f"{prefix}/openai_key", mount_point="secret", raise_on_deleted_version=True)
    assert raw["data"]["data"] == {"value": CANARY}

    again = _cli("--env-prefix", "ARCHESTRA", "migrate", "--from", "local", "--to", "manager",
                 env=env)
    assert again.returncode == 0, again.stderr
    assert "0 copied" in again.stderr and "3 unchanged" in again.stderr
    # running it again wrote no new versions
    meta = bao.root().secrets.kv.v2.read_secret_metadata(path=f"{prefix}/openai_key",
                                                         mount_point="secret")
    assert meta["data"]["current_version"] == 1

    stores = SecretStores.from_dict(None, env_prefix="ARCHESTRA", environ={**os.environ, **env})
    assert stores.render_string("{{ secrets.manager.db.password }}") == "pw"
    stores.close()
