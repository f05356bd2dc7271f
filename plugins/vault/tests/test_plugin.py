"""The plugin is installed, discovered through its entry point, cheap to import, and validates."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from secretstores import ConfigError, ReadOnlyStoreError, SecretNotFoundError
from secretstores.api import SecretStores
from secretstores.plugins import get_plugins
from secretstores.testing.contract import CANARY
from secretstores.testing.faults import closed_port


def test_discovered_through_entry_point() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="secretstores")}
    assert names.get("vault") == "secretstores_vault.plugin"
    plugins = get_plugins()
    store_type, plugin_name = plugins.store_types()["hashicorp_vault"]
    assert plugin_name == "vault" and store_type.writable
    info = {p.name: p for p in plugins.info()}["vault"]
    assert info.version == "0.1.0"
    assert "secretstores_manager_from_env" in info.hooks


def test_importing_the_plugin_does_not_import_sdks() -> None:
    code = (
        "import sys\n"
        "import secretstores_vault.plugin\n"
        "from secretstores.plugins import get_plugins\n"
        "assert 'hashicorp_vault' in get_plugins().store_types()\n"
        "from secretstores.api import SecretStores\n"
        "SecretStores.from_dict({'stores': [{'name': 'v', 'type': 'hashicorp_vault',\n"
        "    'configuration': {'address': 'http://127.0.0.1:1', 'token': 't'}}]})\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "                ('hvac', 'boto3', 'botocore', 'requests'))\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=120)
    assert result.stdout.strip() == ""


def build(configuration: dict[str, object]) -> SecretStores:
    return SecretStores.from_dict({"stores": [{"name": "v", "type": "hashicorp_vault",
                                               "configuration": configuration}],
                                   "defaultStores": False})


def test_seed_configuration_shape() -> None:
    stores = build({"address": "https://vault.example.com", "token": CANARY,
                    "namespace": "admin", "mountPath": "secret"})
    config = stores.stores["v"].config
    assert (config.address, config.namespace, config.mount_path) == (
        "https://vault.example.com", "admin", "secret")
    assert CANARY not in repr(config) and CANARY not in repr(stores.stores["v"])
    assert build({"address": "https://v", "token": "t"}).stores["v"].config.mount_path == "secret"


@pytest.mark.parametrize(("configuration", "problem"), [
    ({"token": "t"}, "missing required field 'address'"),
    ({"address": "vault.example.com", "token": "t"}, "http:// or https://"),
    ({"address": "https://v"}, "authMethod TOKEN needs the field 'token'"),
    ({"address": "https://v", "authMethod": "K8S"}, "authMethod K8S needs the field 'k8sRole'"),
    ({"address": "https://v", "authMethod": "AWS"}, "authMethod AWS needs the field 'awsRole'"),
    ({"address": "https://v", "token": "t", "authMethod": "LDAP"}, "TOKEN, K8S, AWS"),
    ({"address": "https://v", "token": "t", "mount": "x"}, "unknown field 'mount'"),
])
def test_invalid_configuration(configuration: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        build(configuration)


def test_stores_check_fails_naming_each_broken_store(bao: Any, tmp_path: Path) -> None:
    """``stores --check`` used to print ``ok`` for all of these: it checked nothing."""
    token = bao.root().auth.token.create(policies=["app"], ttl="1h")["auth"]["client_token"]
    config = tmp_path / "secretstores.json"
    config.write_text(json.dumps({"defaultStores": False, "stores": [
        {"name": "good", "type": "hashicorp_vault",
         "configuration": {"address": bao.address, "token": token}},
        {"name": "unreachable", "type": "hashicorp_vault", "retries": 1,
         "configuration": {"address": f"http://127.0.0.1:{closed_port()}", "token": token}},
        {"name": "bogus_token", "type": "hashicorp_vault",
         "configuration": {"address": bao.address, "token": f"hvs.{CANARY}"}},
        {"name": "wrong_mount", "type": "hashicorp_vault",
         "configuration": {"address": bao.address, "token": token, "mountPath": "secrett"}},
        {"name": "kv_one", "type": "hashicorp_vault",
         "configuration": {"address": bao.address, "token": bao.root_token,
                           "mountPath": "kv1"}},
    ]}))
    result = subprocess.run([sys.executable, "-m", "secretstores.cli", "-c", str(config),
                             "stores", "--check", "--json"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["good"]["status"] == "ok"
    assert rows["good"]["detail"] == "token accepted; mount 'secret/' is KV v2"
    assert "cannot reach Vault" in rows["unreachable"]["detail"]
    assert "refused the token" in rows["bogus_token"]["detail"]
    assert "'secrett/'" in rows["wrong_mount"]["detail"]
    assert "KV version 1" in rows["kv_one"]["detail"]
    assert {name for name, row in rows.items() if row["status"] == "error"} == {
        "unreachable", "bogus_token", "wrong_mount", "kv_one"}
    summary = result.stderr.strip().splitlines()[-1]
    assert summary.startswith("secretstores: error: 4 stores failed the check: ")
    for name in ("unreachable", "bogus_token", "wrong_mount", "kv_one"):
        assert f"{name}: " in summary
    assert CANARY not in result.stdout + result.stderr


def test_a_store_in_the_gateway_shape_refuses_writes(bao: Any, make_stores: Any,
                                                     prefix: str) -> None:
    document = {"name": "my_vault_store", "type": "hashicorp_vault", "configuration": {
        "address": bao.address, "token": bao.root_token, "mountPath": "secret"}}
    stores = make_stores(document)
    with pytest.raises(ReadOnlyStoreError, match='set "readOnly": false') as info:
        stores.put("my_vault_store", f"{prefix}/x", CANARY)
    assert CANARY not in str(info.value)
    with pytest.raises(SecretNotFoundError):  # nothing was written
        stores.get("my_vault_store", f"{prefix}/x")
    writable = make_stores({**document, "readOnly": False})
    writable.put("my_vault_store", f"{prefix}/x", "written")
    assert bao.root().secrets.kv.v2.read_secret_version(
        path=f"{prefix}/x", raise_on_deleted_version=True)["data"]["data"] == {"value": "written"}


def test_misconfigured_mount_is_not_defaulted_on_the_cli(bao: Any, tmp_path: Path) -> None:
    """``| default`` printed the fallback and exited 0 for a mistyped mount."""
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"stores": [{"name": "v", "type": "hashicorp_vault",
                                              "configuration": {"address": bao.address,
                                                                "token": bao.root_token,
                                                                "mountPath": "secrett"}}]}))
    template = tmp_path / "t.j2"
    template.write_text('{{ secrets.v.[myapp/config] | default("fallback") }}\n')
    result = subprocess.run([sys.executable, "-m", "secretstores.cli", "-c", str(config),
                             "render", str(template)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert "fallback" not in result.stdout
    assert "misconfigured: no mount 'secrett/'" in result.stderr
    assert "Traceback" not in result.stderr
