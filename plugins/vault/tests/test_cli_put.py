"""``secretstores put`` against a real OpenBao: writes keep the secret's keys and shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from vaulttest_bao import BaoServer

CANARY = "canary-vault-put-5Rr-never-print"


def app_token(bao: BaoServer) -> str:
    """A token with the ``app`` policy (read and write secret/)."""
    return str(bao.root().auth.token.create(policies=["app"], ttl="1h")["auth"]["client_token"])


def config(bao: BaoServer, tmp_path: Path, prefix: str) -> str:
    """A read-write Vault store ``v`` under ``prefix`` with mappings ``db`` (a whole
    secret) and ``db_pw`` (one key of it)."""
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"stores": [{
        "name": "v", "type": "hashicorp_vault", "readOnly": False,
        "configuration": {"address": bao.address, "token": app_token(bao),
                          "pathPrefix": prefix},
        "mappings": [{"name": "db", "secretIdentifier": "db_creds"},
                     {"name": "db_pw", "secretIdentifier": "db_creds#password"}]}]}))
    return str(path)


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "secretstores", *args], input=stdin,
                          capture_output=True, text=True, env=dict(os.environ), timeout=120)


def data(bao: BaoServer, path: str) -> tuple[dict[str, Any], int]:
    """The secret's data as Vault holds it, and its version."""
    answer = bao.root().secrets.kv.v2.read_secret_version(path=path,
                                                          raise_on_deleted_version=True)
    return answer["data"]["data"], int(answer["data"]["metadata"]["version"])


def test_put_one_key_keeps_the_others_as_vault_keys(bao: BaoServer, tmp_path: Path,
                                                     prefix: str) -> None:
    bao.seed(f"{prefix}/db_creds", {"username": "admin", "password": "old"})
    c = config(bao, tmp_path, prefix)
    result = cli("-c", c, "put", "v", "db_creds#password", stdin=CANARY + "\n")
    assert result.returncode == 0, result.stderr
    stored, version = data(bao, f"{prefix}/db_creds")
    assert stored == {"username": "admin", "password": CANARY}  # not {"value": "..."}
    assert version == 2
    got = cli("-c", c, "get", "v", "db.password")
    assert got.stdout == CANARY + "\n", got.stderr


def test_put_through_a_mapping_to_one_key(bao: BaoServer, tmp_path: Path,
                                          prefix: str) -> None:
    bao.seed(f"{prefix}/db_creds", {"username": "admin", "password": "old"})
    c = config(bao, tmp_path, prefix)
    assert cli("-c", c, "put", "v", "db_pw", stdin="via-mapping").returncode == 0
    assert data(bao, f"{prefix}/db_creds")[0] == {"username": "admin",
                                                  "password": "via-mapping"}
    assert cli("-c", c, "get", "v", "db_pw").stdout == "via-mapping\n"


def test_json_input_becomes_the_secrets_keys(bao: BaoServer, tmp_path: Path,
                                             prefix: str) -> None:
    c = config(bao, tmp_path, prefix)
    value = '{\n  "username": "u",\n  "password": "p",\n  "port": 5432\n}\n'
    assert cli("-c", c, "put", "v", "db", stdin=value).returncode == 0
    assert data(bao, f"{prefix}/db_creds")[0] == {"username": "u", "password": "p",
                                                  "port": 5432}
    assert cli("-c", c, "get", "v", "db.port").stdout == "5432\n"


def test_plain_value_over_json_needs_force(bao: BaoServer, tmp_path: Path,
                                           prefix: str) -> None:
    bao.seed(f"{prefix}/db_creds", {"username": "admin", "password": "old"})
    c = config(bao, tmp_path, prefix)
    refused = cli("-c", c, "put", "v", "db_creds", stdin=CANARY)
    assert refused.returncode == 1
    assert "holds a JSON object" in refused.stderr and "--force" in refused.stderr
    assert CANARY not in refused.stderr and "Traceback" not in refused.stderr
    assert data(bao, f"{prefix}/db_creds") == ({"username": "admin", "password": "old"}, 1)
    forced = cli("-c", c, "put", "--force", "v", "db_creds", stdin="plain")
    assert forced.returncode == 0, forced.stderr
    assert data(bao, f"{prefix}/db_creds")[0] == {"value": "plain"}
