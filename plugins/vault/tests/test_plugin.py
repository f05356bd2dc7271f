"""The plugin is installed, discovered through its entry point, cheap to import, and validates."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from secretstores import ConfigError
from secretstores.api import SecretStores
from secretstores.plugins import get_plugins
from secretstores.testing.contract import CANARY


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
