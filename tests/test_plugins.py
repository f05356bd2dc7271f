"""Plugins: entry-point discovery, selection by variables, broken plugins, info, conflicts.

The third-party ``secretstores-toy`` distribution (tests/plugins/secretstores_toy) must be
pip-installed into the test environment. Broken plugins are installed per test as a
distribution on a temporary ``sys.path`` entry (a ``*.dist-info`` directory, exactly what
pip writes), so no broken plugin is left in the shared environment.
"""

from __future__ import annotations

import logging
import uuid
from importlib.metadata import entry_points, version
from typing import Any

import attrs
import pytest

import secretstores
from secretstores import ConfigError, PluginError, StoreType, TemplateError, hookimpl
from secretstores.plugins import Plugins, get_plugins
from secretstores.testing import CANARY, count_fetch_calls


@pytest.fixture
def broken_site(install_distribution: Any) -> dict[str, str]:
    """Install one plugin that fails to import and one with a misspelled hook name."""
    tag = uuid.uuid4().hex[:8]
    names = {"import": f"ss_broken_{tag}", "typo": f"ss_typo_{tag}"}
    install_distribution(f"ss_broken_{tag}", {
        names["import"]: f"ss_broken_mod_{tag}",
        names["typo"]: f"ss_typo_mod_{tag}",
    }, {
        f"ss_broken_mod_{tag}": "import secretstores_no_such_sdk_at_all\n",
        f"ss_typo_mod_{tag}": (
            "from secretstores import hookimpl\n\n"
            "@hookimpl\n"
            "def secretstores_fetchh(store, client, identifiers):\n"
            "    return None\n"
        ),
    })
    return names


# -- the third-party toy plugin ---------------------------------------------------------


def test_toy_plugin_is_installed_and_discovered() -> None:
    assert "toy" in {ep.name for ep in entry_points(group="secretstores")}, (
        "pip install -e tests/plugins/secretstores_toy")
    plugins = get_plugins()
    assert "toy" in plugins.store_types()
    assert plugins.store_types()["toy"][1] == "toy"
    info = {p.name: p for p in plugins.info()}["toy"]
    assert info.version == version("secretstores-toy")
    assert not info.builtin
    assert info.store_types == ("toy",)
    assert info.distribution == "secretstores-toy"
    assert "secretstores_read" in info.hooks and "secretstores_fetch" not in info.hooks


def test_toy_plugin_serves_mappings_and_raw_identifiers(make_stores, toy_file) -> None:
    path = toy_file({"raw/id": "raw-value", "app/api-key": "mapped-value",
                     "creds": {"user": "u", "password": "p"}})
    stores = make_stores({"stores": [{
        "name": "x", "type": "toy", "configuration": {"path": path},
        "mappings": [{"name": "y", "secretIdentifier": "app/api-key"}]}]})
    with count_fetch_calls(stores.plugins) as calls:
        out = stores.render_string(
            "{{ secrets.x.y }} {{ secrets.x.[raw/id] }} {{ secrets.x.[creds].password }}")
    assert out == "mapped-value raw-value p"
    assert calls == [("x", ["app/api-key", "raw/id", "creds"])]


def test_toy_plugin_denied_and_not_found(make_stores, toy_file) -> None:
    stores = make_stores({"stores": [{
        "name": "x", "type": "toy",
        "configuration": {"path": toy_file({"held": "v"}), "deny": ["held"]}}]})
    with pytest.raises(TemplateError, match=r"secrets\.x\.held: access denied"):
        stores.render_string("{{ secrets.x.held | default('no') }}")
    assert stores.render_string("{{ secrets.x.absent | default('no') }}") == "no"


def test_toy_is_read_only_unless_it_says_so(make_stores, toy_file) -> None:
    path = toy_file({})
    stores = make_stores({"stores": [{"name": "x", "type": "toy",
                                      "configuration": {"path": path}}]})
    assert stores.stores["x"].read_only
    with pytest.raises(secretstores.ReadOnlyStoreError, match='set "readOnly": false'):
        stores.put("x", "a", "b")
    writable = make_stores({"stores": [{"name": "x", "type": "toy", "readOnly": False,
                                        "configuration": {"path": path}}]})
    writable.put("x", "a", "b")
    assert writable.get("x", "a") == "b"


# -- selecting plugins with variables -------------------------------------------------------


@pytest.mark.parametrize(("variable", "value", "loaded"), [
    ("SECRETSTORES_LOAD_PLUGINS", "toy", True),
    ("SECRETSTORES_LOAD_PLUGINS", " other , toy ", True),
    ("SECRETSTORES_LOAD_PLUGINS", "", False),
    ("SECRETSTORES_LOAD_PLUGINS", "something_else", False),
    ("SECRETSTORES_DISABLE_PLUGINS", "toy", False),
    ("SECRETSTORES_DISABLE_PLUGINS", "x,toy", False),
    ("SECRETSTORES_DISABLE_PLUGINS", "something_else", True),
])
def test_variables_select_plugins(monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
                                  loaded: bool) -> None:
    monkeypatch.setenv(variable, value)
    plugins = Plugins()
    assert ("toy" in plugins.store_types()) is loaded
    assert plugins.pm.has_plugin("toy") is loaded
    # the built-ins are always there
    assert {"db", "env"} <= set(plugins.store_types())


def test_disabled_plugin_type_is_unknown(monkeypatch: pytest.MonkeyPatch, toy_file) -> None:
    monkeypatch.setenv("SECRETSTORES_DISABLE_PLUGINS", "toy")
    with pytest.raises(ConfigError, match="unknown store type 'toy'"):
        secretstores.SecretStores.from_dict(
            {"stores": [{"name": "x", "type": "toy", "configuration": {"path": toy_file({})}}]})


# -- broken plugins ---------------------------------------------------------------------------


def test_broken_plugins_are_reported_and_skipped(
    broken_site: dict[str, str], caplog: pytest.LogCaptureFixture, make_stores, toy_file
) -> None:
    caplog.set_level(logging.WARNING)
    plugins = Plugins()
    failed = {f.name: f.error for f in plugins.failed}
    assert set(failed) == {broken_site["import"], broken_site["typo"]}
    assert "ModuleNotFoundError" in failed[broken_site["import"]]
    assert "secretstores_fetchh" in failed[broken_site["typo"]]
    assert not plugins.pm.has_plugin(broken_site["import"])
    assert not plugins.pm.has_plugin(broken_site["typo"])
    assert broken_site["import"] in caplog.text and "skipped" in caplog.text
    # the others still work
    assert {"db", "env", "toy"} <= set(plugins.store_types())
    stores = make_stores({"stores": [{"name": "x", "type": "toy",
                                      "configuration": {"path": toy_file({"k": "v"})}}]},
                         plugins=plugins)
    assert stores.render_string("{{ secrets.x.k }}") == "v"
    assert {p.name for p in plugins.info()} >= {"toy", "secretstores.builtin.db_store"}


def test_broken_plugin_can_be_disabled(broken_site: dict[str, str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETSTORES_DISABLE_PLUGINS", ",".join(broken_site.values()))
    assert Plugins().failed == []


def test_misspelled_hook_registered_directly_is_refused() -> None:
    class Typo:
        @hookimpl
        def secretstores_fetchh(self, store):  # misspelled on purpose
            return None

    plugins = Plugins(load_entrypoints=False)
    with pytest.raises(Exception, match="secretstores_fetchh"):
        plugins.register(Typo(), name="typo")


# -- info and conflicts -------------------------------------------------------------------


def test_info_lists_builtins_with_hooks_and_types() -> None:
    info = {p.name: p for p in Plugins(load_entrypoints=False).info()}
    env, db = info["secretstores.builtin.env_store"], info["secretstores.builtin.db_store"]
    assert env.builtin and db.builtin
    assert env.version == db.version == secretstores.__version__
    assert env.store_types == ("env",) and db.store_types == ("db",)
    for hook in ("secretstores_store_types", "secretstores_authenticate", "secretstores_fetch"):
        assert hook in env.hooks and hook in db.hooks
    assert "secretstores_store" in db.hooks and "secretstores_store" not in env.hooks
    # built-ins first
    assert [p.builtin for p in Plugins().info()][:2] == [True, True]


def test_duplicate_type_names_are_an_error() -> None:
    class Impostor:
        @hookimpl
        def secretstores_store_types(self):
            return [StoreType("env", EmptyConfig)]

        @hookimpl
        def secretstores_authenticate(self, store):
            return None

        @hookimpl
        def secretstores_read(self, store, client, identifier):
            return None

    plugins = Plugins(load_entrypoints=False)
    with pytest.raises(PluginError) as info:
        plugins.register(Impostor(), name="impostor")
    assert "'env'" in str(info.value)
    assert "distribution 'secretstores (built-in)'" in str(info.value)
    assert "plugin 'impostor'" in str(info.value)
    # refused as a whole: nothing of it stays, and the plugin set still works
    assert not plugins.pm.has_plugin("impostor")
    assert plugins.store_types()["env"][1] == "secretstores.builtin.env_store"
    secretstores.SecretStores.from_dict({"stores": []}, plugins=plugins).close()


def test_duplicate_type_names_name_both_distributions(install_distribution: Any) -> None:
    """A second installed distribution declaring ``toy`` clashes with secretstores-toy."""
    tag = uuid.uuid4().hex[:8]
    install_distribution(f"acme-toy-{tag}", {f"acme_{tag}": f"acme_{tag}"}, {
        f"acme_{tag}": (
            "import attrs\n"
            "from secretstores import StoreType, hookimpl\n\n"
            "@attrs.frozen\nclass Config:\n    pass\n\n"
            "@hookimpl\ndef secretstores_store_types():\n"
            "    return [StoreType('toy', Config)]\n\n"
            "@hookimpl\ndef secretstores_authenticate(store):\n    return None\n\n"
            "@hookimpl\ndef secretstores_read(store, client, identifier):\n    return None\n"
        )})
    with pytest.raises(PluginError) as info:
        Plugins().store_types()
    message = str(info.value)
    assert "store type 'toy' is declared by both" in message
    assert "distribution 'secretstores-toy'" in message
    assert f"distribution 'acme-toy-{tag}'" in message
    assert "SECRETSTORES_DISABLE_PLUGINS" in message


def test_trace_variable_logs_hook_calls(monkeypatch: pytest.MonkeyPatch,
                                        caplog: pytest.LogCaptureFixture, make_stores) -> None:
    monkeypatch.setenv("SECRETSTORES_TRACE_HOOKS", "1")
    monkeypatch.setenv("T_VAR", CANARY)
    caplog.set_level(logging.DEBUG)
    stores = make_stores(None, plugins=Plugins(load_entrypoints=False))
    stores.put("local", "written", CANARY + "-db")
    assert stores.render_string("{{ secrets.env.T_VAR }}") == CANARY
    assert stores.render_string("{{ secrets.local.written }}") == CANARY + "-db"
    assert "secretstores_fetch store='env'" in caplog.text
    assert "secretstores_store store='local'" in caplog.text
    # tracing never shows arguments: not the written value, not os.environ (the env client)
    assert CANARY not in caplog.text


def test_hookimpl_is_importable_from_the_root() -> None:
    assert secretstores.hookimpl.project_name == "secretstores"


@attrs.frozen
class EmptyConfig:
    """A store type without configuration fields."""
