"""Installation, discovery, lazy imports, configuration and identifier parsing."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from secretstores import Capability, ConfigError
from secretstores.api import SecretStores
from secretstores.plugins import get_plugins
from secretstores.testing import CANARY
from secretstores.testing.faults import closed_port
from secretstores_azure.identifiers import IdentifierError, SecretRef, listed, parse, plain

VAULT = "https://my-vault.vault.azure.net"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
SEED = {"vaultUrl": VAULT, "tenantId": TENANT, "clientId": CLIENT, "clientSecret": CANARY}


def test_installed_and_discovered() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="secretstores")}
    assert names.get("azure") == "secretstores_azure.plugin"
    store_type, plugin = get_plugins().store_types()["azure_key_vault"]
    assert plugin == "azure"
    assert store_type.writable and store_type.read_only_by_default
    # Key Vault has no batch read: the core fans single reads out
    assert store_type.can(Capability.READ) and not store_type.can(Capability.BATCH_READ)


def test_no_sdk_import_before_first_use(tmp_path: Path) -> None:
    """Importing the plugin, loading every plugin and a configuration of this type
    imports nothing of azure.* (nor msal); the first use of the store does."""
    configuration = dict(SEED, vaultUrl=f"https://127.0.0.1:{closed_port()}")
    code = (
        "import sys, secretstores_azure, secretstores_azure.plugin\n"
        "from secretstores.api import SecretStores\n"
        "from secretstores.plugins import get_plugins\n"
        "get_plugins().store_types()\n"
        "stores = SecretStores.from_dict({'defaultStores': False, 'stores': [{'name': 'az',"
        f" 'type': 'azure_key_vault', 'retries': 0, 'configuration': {configuration!r}}}]}})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('azure', 'msal')))\n"
        "stores.fetch('az', ['x'])\n"  # the first use: the SDK loads (nothing listens there)
        "print('azure.keyvault.secrets' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120,
                         env={"PATH": "", "HOME": str(tmp_path),
                              "SECRETSTORES_HOME": str(tmp_path / "home"),
                              "AZURE_CONFIG_DIR": str(tmp_path / "azure")})
    before, after = out.stdout.splitlines()[:2]
    assert before == "[]"
    assert after == "True"


def build(configuration: dict[str, object]) -> SecretStores:
    return SecretStores.from_dict({"defaultStores": False, "stores": [
        {"name": "my_azure_store", "type": "azure_key_vault", "configuration": configuration}]})


def test_seed_configuration_is_accepted_and_the_client_secret_never_shown() -> None:
    stores = build(SEED)
    spec = stores.stores["my_azure_store"]
    config = spec.config
    assert (config.vault_url, config.tenant_id, config.client_id) == (VAULT, TENANT, CLIENT)
    assert config.verify_challenge_resource is True and config.authority_host is None
    assert stores.runtime("my_azure_store").spec.read_only
    for text in (repr(config), repr(spec), str(config), repr(stores)):
        assert CANARY not in text


def test_default_credential_needs_only_the_vault_url() -> None:
    config = build({"vaultUrl": VAULT}).stores["my_azure_store"].config
    assert not config.uses_client_secret and config.principal == "the default credential chain"


def test_invalid_configuration_lists_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        build({"vaultUrl": "http://my-vault.vault.azure.net", "tenantId": "not a tenant!",
               "clientId": "app", "clientSecret": 42, "authorityHost": "ftp://login",
               "verifyChallengeResource": "no", "vaultName": "x"})
    text = str(info.value)
    for problem in (
        "store 'my_azure_store': configuration.vaultUrl: expected an https:// URL",
        "configuration.tenantId: expected a directory (tenant) ID",
        "configuration.clientId: expected an application (client) ID",
        "configuration.clientSecret: expected a string, got a number",
        "configuration.authorityHost: expected an https:// URL or a host name",
        "configuration.verifyChallengeResource: expected true or false",
        "unknown field 'vaultName'",
    ):
        assert problem in text, text
    assert "42" not in text


@pytest.mark.parametrize(("configuration", "problem"), [
    ({"vaultUrl": VAULT, "clientSecret": CANARY},
     "'clientSecret' needs 'tenantId' and 'clientId'"),
    ({"vaultUrl": VAULT, "tenantId": TENANT, "clientSecret": CANARY},
     "'clientSecret' needs 'clientId'"),
    ({"vaultUrl": f"{VAULT}/secrets/db"}, "expected the vault's URL alone"),
    ({"tenantId": TENANT}, "missing required field 'vaultUrl'"),
])
def test_invalid_configuration(configuration: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        build(configuration)
    assert problem in str(info.value)
    assert CANARY not in str(info.value)


@pytest.mark.parametrize(("identifier", "ref"), [
    ("db-password", SecretRef("db-password")),
    ("db_password", SecretRef("db-password")),  # '_' stands for '-'
    ("db-password/0123456789abcdef0123456789abcdef",
     SecretRef("db-password", "0123456789abcdef0123456789abcdef")),
    (f"{VAULT}/secrets/db-password", SecretRef("db-password")),
    (f"{VAULT}:443/secrets/db-password/0123456789abcdef0123456789abcdef",
     SecretRef("db-password", "0123456789abcdef0123456789abcdef")),
])
def test_parse(identifier: str, ref: SecretRef) -> None:
    assert parse(identifier, VAULT) == ref


@pytest.mark.parametrize(("identifier", "message"), [
    ("", "names no secret"),
    ("db.password", "is not a Key Vault secret name"),
    ("a/b/c", "one '/' at most"),
    ("db/not-a-version", "is not a secret version"),
    ("https://other.vault.azure.net/secrets/db", "but this store reads"),
    (f"{VAULT}/keys/db", "a Key Vault URL identifier reads"),
    ("x" * 128, "is not a Key Vault secret name"),
])
def test_parse_errors(identifier: str, message: str) -> None:
    with pytest.raises(IdentifierError, match=message):
        parse(identifier, VAULT)


def test_listed_names_read_back_and_writes_take_no_version() -> None:
    assert listed("prod-db-password") == "prod_db_password"
    assert parse(listed("prod-db-password"), VAULT) == SecretRef("prod-db-password")
    assert plain("prod_db", VAULT, "write") == "prod-db"
    with pytest.raises(IdentifierError, match="cannot write a version"):
        plain("db/0123456789abcdef0123456789abcdef", VAULT, "write")
