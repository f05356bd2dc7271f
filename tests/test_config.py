"""Configuration: files, discovery, interpolation, validation, store options, default stores."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from secretstores import (
    ConfigError,
    PluginNotInstalledError,
    ReadOnlyStoreError,
    TemplateError,
    UnknownReferenceError,
)
from secretstores.api import SecretStores
from secretstores.config import find_config_file, load_config_file
from secretstores.config.model import DEFAULT_CACHE_TTL
from secretstores.testing import CANARY, count_fetch_calls

TOML = """
[cache]
ttl = 30

[[stores]]
name = "app"
type = "env"
cacheTtl = 5
configuration = { prefix = "APP_" }

[[stores.mappings]]
name = "token"
secretIdentifier = "TOKEN"

[[stores]]
name = "vaultish"
type = "db"
readOnly = true
allowDirectAccess = false
mappings = [{ name = "db_password", secretIdentifier = "prod/db/password" }]
"""


def _json_config(path: Path, stores: list[dict[str, object]], **top: object) -> Path:
    path.write_text(json.dumps({"stores": stores, **top}), encoding="utf-8")
    return path


# -- files --------------------------------------------------------------------


def test_toml_file_with_stores_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secretstores.toml"
    path.write_text(TOML, encoding="utf-8")
    monkeypatch.setenv("APP_TOKEN", "from-env")
    with SecretStores.from_file(path) as stores:
        app, other = stores.stores["app"], stores.stores["vaultish"]
        assert (app.type, app.cache_ttl, app.config.prefix) == ("env", 5.0, "APP_")
        assert dict(app.mappings) == {"token": "TOKEN"}
        assert (other.read_only, other.allow_direct_access) == (True, False)
        assert dict(other.mappings) == {"db_password": "prod/db/password"}
        assert stores.config.cache.ttl == 30.0
        assert stores.config.source == str(path)
        assert stores.render_string("{{ secrets.app.token }}") == "from-env"


def test_json_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SVC_KEY", "json-value")
    path = _json_config(tmp_path / "c.json", [
        {"name": "svc", "type": "env", "configuration": {"prefix": "SVC_"},
         "mappings": [{"name": "key", "secretIdentifier": "KEY"}]},
    ])
    with SecretStores.from_file(path) as stores:
        assert stores.render_string("{{ secrets.svc.key }}") == "json-value"


def test_json_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"stores": [\n  {"name": "a",}\n]}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.json:2:"):
        load_config_file(path)


def test_toml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[[stores]\nname = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="TOML syntax error"):
        load_config_file(path)


def test_top_level_must_be_an_object(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(ConfigError, match="top level"):
        load_config_file(path)


# -- discovery ----------------------------------------------------------------


def test_discovery_order(tmp_path: Path) -> None:
    cwd = tmp_path / "project"
    cwd.mkdir()
    assert find_config_file(None, environ={}, cwd=cwd) is None
    (cwd / "secretstores.json").write_text("{}")
    assert find_config_file(None, environ={}, cwd=cwd) == cwd / "secretstores.json"
    (cwd / "secretstores.toml").write_text("")
    # two default files: which one was meant cannot be guessed (TOML used to win silently)
    with pytest.raises(ConfigError, match=r"secretstores\.toml and secretstores\.json"):
        find_config_file(None, environ={}, cwd=cwd)
    (cwd / "secretstores.json").unlink()
    assert find_config_file(None, environ={}, cwd=cwd) == cwd / "secretstores.toml"
    (cwd / "secretstores.json").write_text("{}")
    from_env = tmp_path / "env.json"
    from_env.write_text("{}")
    environ = {"SECRETSTORES_CONFIG": str(from_env)}
    assert find_config_file(None, environ=environ, cwd=cwd) == from_env
    explicit = tmp_path / "explicit.toml"
    explicit.write_text("")
    assert find_config_file(explicit, environ=environ, cwd=cwd) == explicit


def test_named_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--config"):
        find_config_file(tmp_path / "nope.json", environ={}, cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"\$SECRETSTORES_CONFIG"):
        find_config_file(None, environ={"SECRETSTORES_CONFIG": str(tmp_path / "no.toml")},
                         cwd=tmp_path)


def test_discover_uses_the_current_directory(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # the repository's conftest chdirs into tmp_path
    (tmp_path / "secretstores.toml").write_text(
        '[[stores]]\nname = "here"\ntype = "env"\n', encoding="utf-8")
    with SecretStores.discover() as stores:
        assert "here" in stores.stores
    other = _json_config(tmp_path / "other.json", [{"name": "there", "type": "env"}])
    monkeypatch.setenv("SECRETSTORES_CONFIG", str(other))
    with SecretStores.discover() as stores:
        assert "there" in stores.stores and "here" not in stores.stores


# -- interpolation --------------------------------------------------------------


def test_interpolation(make_stores) -> None:
    environ = {"DB_FILE": "/tmp/x.db", "T": "tbl"}
    stores = make_stores({"stores": [{
        "name": "d", "type": "db",
        "configuration": {"url": "sqlite:///${DB_FILE}", "table": "${T}_${MISSING:-v2}",
                          "keyFile": "/keys/$$HOME/${UNSET:-}k"},
    }]}, environ=environ)
    config = stores.stores["d"].config
    assert config.url == "sqlite:////tmp/x.db"
    assert config.table == "tbl_v2"
    assert config.key_file == "/keys/$HOME/k"


def test_unset_variable_is_a_problem_naming_it() -> None:
    with pytest.raises(ConfigError) as info:
        SecretStores.from_dict({"stores": [{
            "name": "d", "type": "db", "configuration": {"url": "sqlite:///${NOT_SET_VAR}"}}]},
            environ={})
    assert "NOT_SET_VAR" in str(info.value)
    assert "store 'd'" in str(info.value)


# -- validation -----------------------------------------------------------------


def test_four_mistakes_give_one_error_with_four_problems(tmp_path: Path) -> None:
    path = _json_config(tmp_path / "four.json", [
        {"name": "no_type"},
        {"name": "typo", "type": "env", "cachettl": 5},
        {"name": "bad_allow", "type": "env", "configuration": {"allow": "APP_*"}},
        {"name": "bad_mapping", "type": "env", "mappings": [{"name": "x"}]},
    ])
    with pytest.raises(ConfigError) as info:
        SecretStores.from_file(path)
    problems = info.value.problems
    assert len(problems) == 4, problems
    message = str(info.value)
    assert "4 problems" in message and str(path) in message
    assert "store 'no_type'" in problems[0] and "'type'" in problems[0]
    assert "store 'typo'" in problems[1] and "'cachettl'" in problems[1]
    assert "cacheTtl" in problems[1]  # says what was expected
    assert "store 'bad_allow'" in problems[2] and "allow" in problems[2]
    assert "array" in problems[2]
    assert "store 'bad_mapping'" in problems[3] and "secretIdentifier" in problems[3]


@pytest.mark.parametrize(("store", "expected"), [
    ({"name": "1bad", "type": "env"}, "letters, digits and underscores"),
    ({"name": "s", "type": "env", "cacheTtl": -1}, "cacheTtl"),
    ({"name": "s", "type": "env", "cacheTtl": "60"}, "cacheTtl"),
    ({"name": "s", "type": "env", "readOnly": "yes"}, "readOnly"),
    ({"name": "s", "type": "env", "allowDirectAccess": False}, "no mappings"),
    ({"name": "s", "type": "db", "configuration": {"url": "mysql://x"}}, "url"),
    ({"name": "s", "type": "db", "configuration": {"table": "x; drop"}}, "table"),
    ({"name": "s", "type": "env", "configuration": []}, "expected an object"),
    ({"type": "env"}, "stores[0]: missing required field 'name'"),
    ({"name": "s", "type": "env", "mappings": {"a": "b"}}, "mappings"),
])
def test_each_kind_of_mistake(store: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        SecretStores.from_dict({"stores": [store]})
    assert expected in str(info.value)


def test_duplicate_store_and_mapping_names() -> None:
    with pytest.raises(ConfigError) as info:
        SecretStores.from_dict({"stores": [
            {"name": "a", "type": "env"},
            {"name": "a", "type": "env", "mappings": [
                {"name": "m", "secretIdentifier": "X"}, {"name": "m", "secretIdentifier": "Y"}]},
        ]})
    assert len(info.value.problems) == 2
    assert "used twice" in str(info.value) and "used by another store" in str(info.value)


def test_top_level_and_cache_mistakes_are_listed_together() -> None:
    with pytest.raises(ConfigError) as info:
        SecretStores.from_dict({"store": [], "cache": {"ttl": "x", "enabled": 1},
                                "defaultStores": "no"})
    text = str(info.value)
    assert "'store'" in text and "cache.ttl" in text and "cache.enabled" in text
    assert "defaultStores" in text
    assert len(info.value.problems) == 4


def test_secret_field_values_never_in_messages(toy_file, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    monkeypatch.setenv("LEAKY", CANARY)
    path = toy_file({})
    with pytest.raises(ConfigError) as info:
        SecretStores.from_dict({"stores": [
            # a secret field whose value fails validation
            {"name": "a", "type": "toy", "configuration": {"path": path, "token": CANARY}},
            # the same, with the value coming from an environment variable
            {"name": "b", "type": "toy", "configuration": {"path": path, "token": "${LEAKY}"}},
            # a secret value in a field the type does not know
            {"name": "c", "type": "toy", "configuration": {"path": path, "pasword": CANARY}},
            # a secret value given where another type is expected
            {"name": "d", "type": "toy", "configuration": {"path": [CANARY]}},
            {"name": "e", "type": "env", "configuration": {"allow": [CANARY, 1]}},
        ]})
    assert len(info.value.problems) == 5
    assert "store 'a': configuration.token" in str(info.value)
    assert CANARY not in str(info.value)
    assert CANARY not in repr(info.value)
    assert CANARY not in caplog.text


def test_secret_fields_hidden_from_reprs(make_stores, toy_file) -> None:
    token = "toy-" + CANARY
    stores = make_stores({"stores": [
        {"name": "a", "type": "toy", "configuration": {"path": toy_file({}), "token": token}}]})
    assert stores.stores["a"].config.token == token
    assert CANARY not in repr(stores.stores["a"].config)
    assert CANARY not in repr(stores.stores["a"])
    assert CANARY not in repr(stores)


def test_known_provider_type_names_the_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETSTORES_LOAD_PLUGINS", "")  # whatever is installed, load none
    with pytest.raises(PluginNotInstalledError) as info:
        SecretStores.from_dict({"stores": [
            {"name": "aws", "type": "aws_secrets_manager", "configuration": {"region": "x"}},
            {"name": "vault", "type": "hashicorp_vault"},
        ]})
    text = str(info.value)
    assert "pip install secretstores-aws" in text
    assert "pip install secretstores-vault" in text
    assert isinstance(info.value, ConfigError)


def test_unknown_type_lists_known_types() -> None:
    with pytest.raises(ConfigError) as info:
        SecretStores.from_dict({"stores": [{"name": "x", "type": "nosuch"}]})
    assert not isinstance(info.value, PluginNotInstalledError)
    assert "unknown store type 'nosuch'" in str(info.value)
    assert "db" in str(info.value) and "env" in str(info.value)


# -- store options ------------------------------------------------------------------


def test_mappings_as_allow_list(make_stores, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPOSED", "ok")
    monkeypatch.setenv("HIDDEN", "no")
    stores = make_stores({"stores": [{
        "name": "s", "type": "env", "allowDirectAccess": False,
        "mappings": [{"name": "exposed", "secretIdentifier": "EXPOSED"}]}]})
    assert stores.render_string("{{ secrets.s.exposed }}") == "ok"
    assert stores.get("s", "exposed") == "ok"
    with count_fetch_calls(stores.plugins) as calls, \
            pytest.raises(TemplateError, match="allowDirectAccess"):
        stores.render_string("{{ secrets.s.HIDDEN }}")
    with pytest.raises(TemplateError, match="allowDirectAccess"):
        stores.render_string("{{ secrets.s.[HIDDEN] }}")
    with pytest.raises(TemplateError, match="allowDirectAccess"):
        stores.render_string("{{ secrets.s['HIDDEN'] }}")
    with pytest.raises(UnknownReferenceError):
        stores.get("s", "HIDDEN")
    assert calls == []  # refused before asking the store


def test_direct_access_allowed_by_default(make_stores, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIRECT", "d")
    stores = make_stores({"stores": [{
        "name": "s", "type": "env", "mappings": [{"name": "m", "secretIdentifier": "DIRECT"}]}]})
    assert stores.render_string("{{ secrets.s.m }}-{{ secrets.s.DIRECT }}") == "d-d"


def test_read_only_store_refuses_writes(make_stores, tmp_path: Path) -> None:
    stores = make_stores({"stores": [
        {"name": "ro", "type": "db", "readOnly": True,
         "configuration": {"url": f"sqlite:///{tmp_path / 'ro.db'}"}},
        {"name": "e", "type": "env"},
    ]})
    assert stores.stores["ro"].read_only and stores.stores["e"].read_only
    for name in ("ro", "e"):
        with pytest.raises(ReadOnlyStoreError) as info:
            stores.put(name, "x", CANARY)
        assert CANARY not in str(info.value)
        with pytest.raises(ReadOnlyStoreError):
            stores.delete(name, "x")
    with pytest.raises(ReadOnlyStoreError, match="readOnly"):
        stores.put("ro", "x", "y")


def test_cache_ttl_settings(make_stores) -> None:
    stores = make_stores({"defaultStores": ["local"], "stores": [
        {"name": "short", "type": "env", "cacheTtl": 2.5},
        {"name": "off", "type": "env", "cacheTtl": 0},
        {"name": "dflt", "type": "env"},
    ]})
    assert DEFAULT_CACHE_TTL == 60.0
    assert stores.runtime("short").ttl == 2.5
    assert stores.runtime("off").ttl == 0
    assert stores.runtime("dflt").ttl == 60.0
    assert stores.runtime("local").ttl == 60.0
    other = make_stores({"cache": {"ttl": 10}, "stores": [{"name": "dflt", "type": "env"}]})
    assert other.runtime("dflt").ttl == 10.0


# -- default stores -------------------------------------------------------------------


def test_default_stores_exist_without_configuration(make_stores,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_VAR", "from-env")
    stores = make_stores(None)
    assert set(stores.stores) == {"local", "env", "manager"}
    assert stores.stores["local"].type == "db"
    assert stores.stores["env"].type == "env"
    assert not stores.stores["local"].read_only
    stores.put("local", "greeting", "hello")
    assert stores.render_string("{{ secrets.local.greeting }} {{ secrets.env.SOME_VAR }}") == \
        "hello from-env"
    # the default database lives in the data directory
    assert (Path(os.environ["SECRETSTORES_HOME"]) / "data" / "secrets.db").is_file()


def test_default_stores_false(make_stores) -> None:
    stores = make_stores({"defaultStores": False, "stores": [{"name": "only", "type": "env"}]})
    assert set(stores.stores) == {"only"}
    assert set(make_stores({"defaultStores": False}).stores) == set()


def test_configured_store_replaces_a_default(make_stores, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mine.db'}"
    stores = make_stores({"defaultStores": True, "stores": [
        {"name": "local", "type": "db", "configuration": {"url": url}}]})
    assert stores.stores["local"].config.url == url
    # the manager (DB by default) uses the same database as local
    assert stores.stores["manager"].config.url == url
    assert set(stores.stores) == {"local", "env", "manager"}
