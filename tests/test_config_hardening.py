"""Hostile configuration gets a clear refusal: odd numbers, encodings, nesting, shapes,
names and duplicate keys; and an allow-list cannot be bypassed through a default store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from secretstores import ConfigError
from secretstores.api import SecretStores


def store(tmp_path: Path, **fields: Any) -> dict[str, Any]:
    return {"defaultStores": False, "stores": [
        {"name": "s", "type": "db", "configuration": {"url": f"sqlite:///{tmp_path}/s.db"},
         **fields}]}


@pytest.mark.parametrize("fields, fragment", [
    ({"cacheTtl": 10**400}, "cacheTtl: expected a finite number of seconds"),
    ({"cacheTtl": 10**5000}, "got a number of about 5001 digits"),
    ({"timeout": 10**5000}, "timeout: expected a number of seconds"),
    ({"retries": 10**5000}, "retries: expected a whole number from 0 to 1000"),
    ({"cacheTtl": float("nan")}, "got a number nan"),
    ({"staleIfError": float("inf")}, "got a number inf"),
    ({"deadline": -1}, "deadline: expected a number of seconds greater than 0"),
])
def test_odd_numbers_are_clear_errors(tmp_path: Path, fields: dict[str, Any],
                                      fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        SecretStores.from_dict(store(tmp_path, **fields))
    assert fragment in str(info.value)


@pytest.mark.parametrize("data", [[1, 2], "stores", 42, True])
def test_a_configuration_that_is_not_an_object(data: Any) -> None:
    with pytest.raises(ConfigError, match="must be an object with a 'stores' array"):
        SecretStores.from_dict(data)


def test_a_configuration_nested_too_deeply(tmp_path: Path) -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(100_000):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(ConfigError, match="nests too deeply"):
        SecretStores.from_dict({"stores": [{"name": "x", "type": "env", "configuration": deep}]})


@pytest.mark.parametrize("name, content, fragment", [
    ("c.json", b'{"stores": [], "x": "\xff"}', "not UTF-8 text (byte 21)"),
    ("c.toml", b'x = "\xfe"', "not UTF-8 text"),
    ("c.json", b'{"cache": {"ttl": ' + b"1" * 5000 + b"}}", "a number is too long"),
    ("c.json", b'{"cache": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nests too deeply"),
    ("c.toml", b"a = " + b"[" * 100_000 + b"]" * 100_000, "nests too deeply"),
    ("c.json", b'{"stores": [], "stores": []}', "the key 'stores' appears twice"),
    ("c.json", b'{"stores": [{"name": "a", "type": "env", "type": "db"}]}',
     "the key 'type' appears twice"),
    ("c.json", b'\xef\xbb\xbf{"defaultStores": false}', None),  # a UTF-8 BOM is fine
])
def test_hostile_files_are_clear_errors(tmp_path: Path, name: str, content: bytes,
                                        fragment: str | None) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    if fragment is None:
        assert SecretStores.from_file(path).stores == {}
        return
    with pytest.raises(ConfigError) as info:
        SecretStores.from_file(path)
    assert fragment in str(info.value) and str(path) in str(info.value)
    result = subprocess.run([sys.executable, "-m", "secretstores.cli", "-c", str(path),
                             "stores"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and fragment in result.stderr


@pytest.mark.parametrize("name", ["_x", "__class__", "a.b", "a b", "1a", "a-b", ""])
def test_store_names_must_be_usable_in_templates(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        SecretStores.from_dict({"stores": [{"name": name, "type": "env"}]})
    assert "name" in str(info.value)


@pytest.mark.parametrize("name", ["for", "if", "none", "true", "in", "a_1", "Z"])
def test_names_that_are_jinja_words_work(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORDS", "ok")
    stores = SecretStores.from_dict({"stores": [{"name": name, "type": "env"}]})
    assert stores.render_string(f"{{{{ secrets.{name}.WORDS }}}}") == "ok"


# -- default stores: convenience without a configuration, opt-in with one ----------------


def test_without_a_configuration_the_default_stores_exist() -> None:
    assert set(SecretStores.from_dict(None).stores) == {"local", "env", "manager"}


def test_a_configuration_has_only_its_own_stores(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "host-credential")
    config = {"stores": [
        {"name": "local", "type": "db", "allowDirectAccess": False,
         "configuration": {"url": f"sqlite:///{tmp_path}/s.db"},
         "mappings": [{"name": "shown", "secretIdentifier": "shown"}]}]}
    stores = SecretStores.from_dict(config)
    assert set(stores.stores) == {"local"}
    with pytest.raises(Exception) as info:
        stores.render_string("{{ secrets.manager.hidden_secret }}"
                             "{{ secrets.env.AWS_SECRET_ACCESS_KEY }}")
    assert "unknown store 'manager'" in str(info.value)
    assert "host-credential" not in str(info.value)


@pytest.mark.parametrize("restricted", [
    {"name": "local", "type": "db", "allowDirectAccess": False,
     "mappings": [{"name": "m", "secretIdentifier": "m"}]},
    {"name": "app", "type": "env", "configuration": {"allow": ["APP_*"]}},
    {"name": "app", "type": "env", "configuration": {"prefix": "APP_"}},
    {"name": "app", "type": "env", "allowDirectAccess": False,
     "mappings": [{"name": "t", "secretIdentifier": "APP_T"}]},
])
def test_a_default_store_may_not_bypass_an_allow_list(tmp_path: Path,
                                                     restricted: dict[str, Any]) -> None:
    if restricted["type"] == "db":
        restricted["configuration"] = {"url": f"sqlite:///{tmp_path}/s.db"}
    with pytest.raises(ConfigError) as info:
        SecretStores.from_dict({"defaultStores": True, "stores": [restricted]})
    assert "would bypass that" in str(info.value)


def test_default_stores_can_be_chosen_by_name(tmp_path: Path) -> None:
    stores = SecretStores.from_dict({"defaultStores": ["env"], "stores": [
        {"name": "s", "type": "db", "configuration": {"url": f"sqlite:///{tmp_path}/s.db"}}]})
    assert set(stores.stores) == {"s", "env"}
    with pytest.raises(ConfigError, match="'defaultStores': expected true, false, or an array"):
        SecretStores.from_dict({"defaultStores": ["vault"]})


def test_the_cli_without_a_file_keeps_its_convenience(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "secretstores.cli", "stores"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert {"local", "env", "manager"} <= {line.split()[0] for line in
                                           result.stdout.splitlines()[1:]}


def test_duplicate_keys_in_a_configuration_given_as_text(tmp_path: Path) -> None:
    path = tmp_path / "secretstores.json"
    path.write_text(json.dumps({"stores": []})[:-1] + ', "stores": []}')
    with pytest.raises(ConfigError, match="appears twice"):
        SecretStores.discover(path)
