"""The read-write manager from <PREFIX>_SECRETS_MANAGER=VAULT and the seed's variables."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from vaulttest_bao import BaoServer
from vaulttest_fixtures import K8s

from secretstores import ConfigError
from secretstores.api import SecretStores
from secretstores.testing.contract import CANARY
from secretstores_vault.environ import manager_from_env


def manager(environ: dict[str, str], prefix: str = "ARCHESTRA", **options: Any) -> SecretStores:
    return SecretStores.from_dict(None, env_prefix=prefix, environ=environ, **options)


def app_token(bao: BaoServer) -> str:
    return str(bao.root().auth.token.create(policies=["app"], ttl="1h")["auth"]["client_token"])


def test_archestra_token_manager_writes_under_archestra(bao: BaoServer) -> None:
    stores = manager({
        "ARCHESTRA_SECRETS_MANAGER": "VAULT",
        "ARCHESTRA_HASHICORP_VAULT_ADDR": bao.address,
        "ARCHESTRA_HASHICORP_VAULT_AUTH_METHOD": "TOKEN",
        "ARCHESTRA_HASHICORP_VAULT_TOKEN": app_token(bao),
    })
    spec = stores.stores["manager"]
    assert spec.type == "hashicorp_vault" and not spec.read_only
    assert (spec.config.mount_path, spec.config.path_prefix) == ("secret", "archestra")
    stores.put("manager", "mcp_server_credential", "s3cr3t")
    # the seed's data path: secret/data/archestra/{secretName}
    raw = bao.root().adapter.get("/v1/secret/data/archestra/mcp_server_credential")
    assert raw["data"]["data"] == {"value": "s3cr3t"}
    assert stores.get("manager", "mcp_server_credential") == "s3cr3t"
    assert "mcp_server_credential" in stores.list_names("manager")
    assert stores.delete("manager", "mcp_server_credential") is True


def test_k8s_manager_with_defaults_and_prefix_override(bao: BaoServer, k8s: K8s,
                                                       tmp_path: Path) -> None:
    k8s.role("archestra", account="archestra-sa")
    _, token_path = k8s.token_file(tmp_path, "archestra-sa")
    environ = {
        "ARCHESTRA_SECRETS_MANAGER": "vault",
        "ARCHESTRA_HASHICORP_VAULT_ADDR": bao.address,
        "ARCHESTRA_HASHICORP_VAULT_AUTH_METHOD": "K8S",
        "ARCHESTRA_HASHICORP_VAULT_K8S_ROLE": "archestra",
    }
    config = manager(environ).stores["manager"].config
    assert config.k8s_token_path == "/var/run/secrets/kubernetes.io/serviceaccount/token"
    assert config.k8s_mount_point == "kubernetes"
    stores = manager(dict(environ,
                          ARCHESTRA_HASHICORP_VAULT_K8S_TOKEN_PATH=str(token_path),
                          ARCHESTRA_HASHICORP_VAULT_K8S_MOUNT_POINT="kubernetes",
                          ARCHESTRA_HASHICORP_VAULT_SECRET_PATH_PREFIX="tenants/acme"))
    stores.put("manager", "token", "k8s-written")
    raw = bao.root().adapter.get("/v1/secret/data/tenants/acme/token")
    assert raw["data"]["data"] == {"value": "k8s-written"}


def test_aws_variables_and_defaults() -> None:
    base = {"SECRETSTORES_SECRETS_MANAGER": "VAULT",
            "SECRETSTORES_HASHICORP_VAULT_ADDR": "https://vault.example.com",
            "SECRETSTORES_HASHICORP_VAULT_AUTH_METHOD": "AWS",
            "SECRETSTORES_HASHICORP_VAULT_AWS_ROLE": "app"}
    config = manager(base, prefix="SECRETSTORES").stores["manager"].config
    assert (config.aws_mount_point, config.aws_region, config.aws_sts_endpoint,
            config.aws_iam_server_id, config.path_prefix) == (
        "aws", "us-east-1", "https://sts.amazonaws.com", None, "secretstores")
    config = manager(dict(base, **{
        "SECRETSTORES_HASHICORP_VAULT_AWS_MOUNT_POINT": "aws-prod",
        "SECRETSTORES_HASHICORP_VAULT_AWS_REGION": "eu-west-1",
        "SECRETSTORES_HASHICORP_VAULT_AWS_STS_ENDPOINT": "https://sts.eu-west-1.amazonaws.com",
        "SECRETSTORES_HASHICORP_VAULT_AWS_IAM_SERVER_ID": "vault.example.com",
    }), prefix="SECRETSTORES").stores["manager"].config
    assert (config.aws_mount_point, config.aws_region, config.aws_sts_endpoint,
            config.aws_iam_server_id) == (
        "aws-prod", "eu-west-1", "https://sts.eu-west-1.amazonaws.com", "vault.example.com")


@pytest.mark.parametrize(("environ", "missing"), [
    ({"ARCHESTRA_HASHICORP_VAULT_AUTH_METHOD": "TOKEN"},
     ["ARCHESTRA_HASHICORP_VAULT_ADDR", "ARCHESTRA_HASHICORP_VAULT_TOKEN"]),
    ({"ARCHESTRA_HASHICORP_VAULT_ADDR": "https://v",
      "ARCHESTRA_HASHICORP_VAULT_AUTH_METHOD": "K8S"},
     ["ARCHESTRA_HASHICORP_VAULT_K8S_ROLE"]),
    ({"ARCHESTRA_HASHICORP_VAULT_ADDR": "https://v",
      "ARCHESTRA_HASHICORP_VAULT_AUTH_METHOD": "AWS"},
     ["ARCHESTRA_HASHICORP_VAULT_AWS_ROLE"]),
    ({"ARCHESTRA_HASHICORP_VAULT_ADDR": "https://v",
      "ARCHESTRA_HASHICORP_VAULT_AUTH_METHOD": "LDAP"},
     ["ARCHESTRA_HASHICORP_VAULT_AUTH_METHOD"]),
])
def test_missing_variables_fall_back_to_db(environ: dict[str, str], missing: list[str],
                                           caplog: pytest.LogCaptureFixture) -> None:
    environ = dict(environ, ARCHESTRA_SECRETS_MANAGER="VAULT")
    with pytest.raises(ConfigError) as info:
        manager_from_env("VAULT", "ARCHESTRA", environ)
    assert [p.split(" ")[0] for p in info.value.problems][-len(missing):] == missing
    with caplog.at_level(logging.WARNING):
        stores = manager(environ)
    assert stores.stores["manager"].type == "db"
    assert "falling back to database storage" in caplog.text
    for name in missing:
        assert name in caplog.text
    with pytest.raises(ConfigError, match="strict mode") as strict:
        manager(dict(environ, ARCHESTRA_SECRETS_MANAGER_STRICT="1"))
    for name in missing:
        assert name in str(strict.value)


def test_no_secret_in_fallback_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        manager({"ARCHESTRA_SECRETS_MANAGER": "VAULT",
                 "ARCHESTRA_HASHICORP_VAULT_AUTH_METHOD": "TOKEN",
                 "ARCHESTRA_HASHICORP_VAULT_TOKEN": CANARY})
    assert "ARCHESTRA_HASHICORP_VAULT_ADDR" in caplog.text and CANARY not in caplog.text


def test_other_managers_are_declined() -> None:
    assert manager_from_env("DB", "ARCHESTRA", {}) is None
    assert manager_from_env("AWS_SECRETS_MANAGER", "ARCHESTRA", {}) is None
