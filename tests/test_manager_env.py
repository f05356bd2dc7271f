"""The ``manager`` store chosen by ``<PREFIX>_SECRETS_MANAGER`` (seed: Secrets Management)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest

from secretstores import ConfigError, PluginNotInstalledError, hookimpl
from secretstores.plugins import Plugins


@pytest.fixture(autouse=True)
def _no_installed_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    # whatever provider plugins are installed, these tests see the core alone
    monkeypatch.setenv("SECRETSTORES_LOAD_PLUGINS", "")


class ToyVault:
    """A stand-in for the Vault plugin's manager hook, registered like any plugin."""

    @hookimpl
    def secretstores_manager_from_env(
        self, manager: str, prefix: str, environ: Mapping[str, str]
    ) -> dict[str, Any] | None:
        if manager != "VAULT":
            return None
        missing = [f"{prefix}_HASHICORP_VAULT_{v}" for v in ("ADDR", "TOKEN")
                   if f"{prefix}_HASHICORP_VAULT_{v}" not in environ]
        if missing:
            raise ConfigError([f"{name} is not set" for name in missing])
        # a real plugin returns a hashicorp_vault store; an env store proves the path
        return {"type": "env", "configuration": {"prefix": "VAULT_STANDIN_"}}


@pytest.fixture
def toy_vault_plugins() -> Plugins:
    plugins = Plugins(load_entrypoints=False)
    plugins.register(ToyVault(), name="toy_vault")
    return plugins


def test_db_manager_shares_the_local_database(make_stores) -> None:
    for environ in ({}, {"SECRETSTORES_SECRETS_MANAGER": "DB"},
                    {"SECRETSTORES_SECRETS_MANAGER": "db"}):
        stores = make_stores(None, environ=environ)
        manager, local = stores.stores["manager"], stores.stores["local"]
        assert manager.type == "db"
        assert manager.config == local.config
        stores.put("manager", "api_key", "written-by-manager")
        assert stores.get("local", "api_key") == "written-by-manager"
        assert stores.render_string("{{ secrets.local.api_key }}") == "written-by-manager"


def test_vault_without_plugin_falls_back_with_warning(
    make_stores, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    stores = make_stores(None, environ={"SECRETSTORES_SECRETS_MANAGER": "VAULT"})
    assert stores.stores["manager"].type == "db"
    assert stores.stores["manager"].config == stores.stores["local"].config
    assert "SECRETSTORES_SECRETS_MANAGER=VAULT" in caplog.text
    assert "pip install secretstores-vault" in caplog.text
    assert "falling back to database storage" in caplog.text


@pytest.mark.parametrize("how", ["variable", "argument"])
def test_strict_mode_refuses_naming_the_distribution(make_stores, how: str) -> None:
    environ = {"SECRETSTORES_SECRETS_MANAGER": "VAULT"}
    options: dict[str, Any] = {}
    if how == "variable":
        environ["SECRETSTORES_SECRETS_MANAGER_STRICT"] = "1"
    else:
        options["strict_manager"] = True
    with pytest.raises(PluginNotInstalledError, match="pip install secretstores-vault"):
        make_stores(None, environ=environ, **options)


def test_strict_false_argument_overrides_the_variable(make_stores) -> None:
    stores = make_stores(None, strict_manager=False, environ={
        "SECRETSTORES_SECRETS_MANAGER": "VAULT", "SECRETSTORES_SECRETS_MANAGER_STRICT": "true"})
    assert stores.stores["manager"].type == "db"


def test_unknown_manager_is_an_error(make_stores) -> None:
    with pytest.raises(ConfigError) as info:
        make_stores(None, environ={"SECRETSTORES_SECRETS_MANAGER": "KEEPASS"})
    assert "SECRETSTORES_SECRETS_MANAGER" in str(info.value)
    assert "KEEPASS" in str(info.value) and "DB" in str(info.value)


def test_archestra_prefix(make_stores, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    # our own prefix's variable is ignored when the host application chose another
    stores = make_stores(None, env_prefix="ARCHESTRA", environ={
        "ARCHESTRA_SECRETS_MANAGER": "DB", "SECRETSTORES_SECRETS_MANAGER": "KEEPASS"})
    assert stores.stores["manager"].type == "db"
    make_stores(None, env_prefix="ARCHESTRA", environ={"ARCHESTRA_SECRETS_MANAGER": "VAULT"})
    assert "ARCHESTRA_SECRETS_MANAGER=VAULT" in caplog.text
    with pytest.raises(PluginNotInstalledError, match="ARCHESTRA_SECRETS_MANAGER"):
        make_stores(None, env_prefix="ARCHESTRA", environ={
            "ARCHESTRA_SECRETS_MANAGER": "VAULT", "ARCHESTRA_SECRETS_MANAGER_STRICT": "1"})


def test_plugin_builds_the_manager(make_stores, toy_vault_plugins: Plugins,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_STANDIN_token", "from-the-plugin's-store")
    stores = make_stores(None, plugins=toy_vault_plugins, env_prefix="ARCHESTRA", environ={
        "ARCHESTRA_SECRETS_MANAGER": "VAULT",
        "ARCHESTRA_HASHICORP_VAULT_ADDR": "http://127.0.0.1:8200",
        "ARCHESTRA_HASHICORP_VAULT_TOKEN": "t",
    })
    manager = stores.stores["manager"]
    assert (manager.name, manager.type, manager.config.prefix) == ("manager", "env",
                                                                   "VAULT_STANDIN_")
    assert stores.render_string("{{ secrets.manager.token }}") == "from-the-plugin's-store"


def test_missing_variables_fall_back_with_warning(
    make_stores, toy_vault_plugins: Plugins, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    stores = make_stores(None, plugins=toy_vault_plugins, env_prefix="ARCHESTRA", environ={
        "ARCHESTRA_SECRETS_MANAGER": "VAULT",
        "ARCHESTRA_HASHICORP_VAULT_ADDR": "http://127.0.0.1:8200",
    })
    assert stores.stores["manager"].type == "db"
    assert "ARCHESTRA_HASHICORP_VAULT_TOKEN is not set" in caplog.text
    assert "falling back to database storage" in caplog.text
    stores.put("manager", "k", "v")
    assert stores.get("local", "k") == "v"


def test_missing_variables_refused_in_strict_mode(make_stores,
                                                   toy_vault_plugins: Plugins) -> None:
    with pytest.raises(ConfigError) as info:
        make_stores(None, plugins=toy_vault_plugins, env_prefix="ARCHESTRA", environ={
            "ARCHESTRA_SECRETS_MANAGER": "VAULT", "ARCHESTRA_SECRETS_MANAGER_STRICT": "yes"})
    text = str(info.value)
    assert "ARCHESTRA_HASHICORP_VAULT_ADDR is not set" in text
    assert "ARCHESTRA_HASHICORP_VAULT_TOKEN is not set" in text
    assert "strict mode" in text


def test_configured_manager_store_wins(make_stores) -> None:
    stores = make_stores({"stores": [{"name": "manager", "type": "env"}]},
                         environ={"SECRETSTORES_SECRETS_MANAGER": "KEEPASS"})
    assert stores.stores["manager"].type == "env"
