"""Configuration files, suggestions, warnings and the small things of the command."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from secretstores.api import SecretStores
from secretstores.errors import ConfigError, TemplateError

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, stdin: str | None = "", env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the command in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "secretstores", *args],
        input=stdin, capture_output=True, text=True, env={**os.environ, **(env or {})},
        cwd=cwd, timeout=120,
    )


def error_line(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- configuration files -----------------------------------------------------------------


def test_yaml_configuration_is_read_as_yaml(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    for suffix in (".yaml", ".yml"):
        path = tmp_path / f"c{suffix}"
        path.write_text("stores:\n  - name: app\n    type: env\n    configuration:\n"
                        "      prefix: APP_\n")
        result = cli("-c", str(path), "get", "app", "TOKEN", env={"APP_TOKEN": "t0k"})
        assert result.returncode == 0, result.stderr
        assert result.stdout == "t0k\n"


def test_yaml_errors_name_the_file_and_line(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    path = tmp_path / "c.yaml"
    path.write_text("stores:\n  - name: a\n    type: env\n    name: b\n")
    line = error_line(cli("-c", str(path), "stores"))
    assert f"{path}:4:5: YAML syntax error: the key 'name' appears twice" in line
    path.write_text("stores: [\n")
    assert f"{path}:" in error_line(cli("-c", str(path), "stores"))


def test_yaml_default_file_is_found(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    (tmp_path / "secretstores.yml").write_text("stores:\n  - {name: only, type: env}\n")
    result = cli("stores", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [row["name"] for row in json.loads(result.stdout)] == ["only"]


def test_two_default_files_are_an_error(tmp_path: Path) -> None:
    (tmp_path / "secretstores.toml").write_text('[[stores]]\nname = "t"\ntype = "env"\n')
    (tmp_path / "secretstores.json").write_text('{"stores": [{"name": "j", "type": "env"}]}')
    line = error_line(cli("stores", cwd=tmp_path))
    assert "secretstores.toml and secretstores.json are both in" in line
    assert "--config" in line
    # naming one is fine
    assert cli("-c", "secretstores.json", "stores", cwd=tmp_path).returncode == 0


def test_empty_configuration_has_its_own_message(tmp_path: Path) -> None:
    line = error_line(cli("-c", os.devnull, "stores"))
    assert "does not exist" not in line
    assert f"{os.devnull} is empty" in line
    empty = tmp_path / "empty.toml"
    empty.write_text("\n")
    assert f"{empty} is empty" in error_line(cli("-c", str(empty), "stores"))
    missing = tmp_path / "missing.json"
    assert "does not exist" in error_line(cli("-c", str(missing), "stores"))
    assert "is a directory" in error_line(cli("-c", str(tmp_path), "stores"))


def test_json_error_says_other_suffixes_are_read_as_json(tmp_path: Path) -> None:
    path = tmp_path / "c.conf"
    path.write_text("stores = []\n")
    line = error_line(cli("-c", str(path), "stores"))
    assert "JSON syntax error" in line and "read as JSON" in line


# -- did you mean ---------------------------------------------------------------------


def test_misspelled_field_is_one_problem_with_a_suggestion() -> None:
    with pytest.raises(ConfigError) as caught:
        SecretStores.from_dict({"stores": [
            {"name": "v", "type": "toy", "configuration": {"pth": "x.json"}},
            {"nmae": "w", "type": "db"},
            {"name": "m", "type": "db", "mappings": [{"name": "a", "secretIdentifer": "b"}]},
        ], "cahce": {}})
    problems = caught.value.problems
    assert "store 'v': configuration: unknown field 'pth' (did you mean 'path'?)" in problems
    assert "stores[1]: unknown field 'nmae' (did you mean 'name'?)" in problems
    assert ("store 'm': mappings[0]: unknown field 'secretIdentifer' "
            "(did you mean 'secretIdentifier'?)") in problems
    assert "top level: unknown field 'cahce' (did you mean 'cache'?)" in problems
    assert not [p for p in problems if "missing required field" in p], problems
    assert len(problems) == 4


def test_misspelled_vault_address_through_the_command(tmp_path: Path) -> None:
    pytest.importorskip("secretstores_vault")
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"stores": [{"name": "v", "type": "hashicorp_vault",
                                            "configuration": {"adress": "http://x:8200"}}]}))
    line = error_line(cli("-c", str(path), "stores"))
    assert "unknown field 'adress' (did you mean 'address'?)" in line
    assert "missing required field 'address'" not in line


def test_unknown_field_far_from_any_lists_the_expected_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        SecretStores.from_dict({"stores": [{"name": "d", "type": "db",
                                            "configuration": {"zzzzzz": 1}}]})
    assert caught.value.problems == [
        "store 'd': configuration: unknown field 'zzzzzz' (expected one of: url, table, "
        "keyFile)"]


def test_template_suggests_mappings_and_stores() -> None:
    stores = SecretStores.from_dict({"stores": [
        {"name": "v", "type": "db", "mappings": [{"name": "app", "secretIdentifier": "x"}]},
        {"name": "r", "type": "db", "allowDirectAccess": False, "configuration":
            {"table": "other"}, "mappings": [{"name": "app", "secretIdentifier": "x"}]}]})
    try:
        with pytest.raises(TemplateError) as caught:
            stores.render_string("{{ secrets.v.ap }}|{{ secrets.r.ap }}|{{ secrets.vv.app }}",
                                 name="t.j2")
    finally:
        stores.close()
    problems = caught.value.problems
    assert any(p.startswith("t.j2:1: secrets.v.ap: not found") and
               p.endswith("(did you mean secrets.v.app?)") for p in problems), problems
    assert any("'ap' is not a mapping of store 'r' (did you mean 'app'?)" in p
               for p in problems), problems
    assert any("unknown store 'vv' (did you mean 'v'?)" in p for p in problems), problems


def test_unknown_plugin_name_is_warned_about() -> None:
    pytest.importorskip("secretstores_vault")
    result = cli("plugins", env={"SECRETSTORES_LOAD_PLUGINS": "vualt"})
    assert result.returncode == 0, result.stderr
    assert ("secretstores: warning: SECRETSTORES_LOAD_PLUGINS names 'vualt', but no installed "
            "plugin has that name (did you mean 'vault'?)") in result.stderr
    result = cli("stores", env={"SECRETSTORES_DISABLE_PLUGINS": "nothing_like_it"})
    assert "SECRETSTORES_DISABLE_PLUGINS names 'nothing_like_it'" in result.stderr
    quiet = cli("stores", env={"SECRETSTORES_LOAD_PLUGINS": "vault"})
    assert "warning" not in quiet.stderr


# -- the small things ------------------------------------------------------------------


def test_migrate_dry_run_says_would(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"stores": [
        {"name": "a", "type": "db"},
        {"name": "b", "type": "db", "configuration": {"table": "other"}}]}))
    assert cli("-c", str(path), "put", "a", "one", stdin="1").returncode == 0
    result = cli("-c", str(path), "migrate", "--from", "a", "--to", "b", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "would copy\tone\n"
    assert "1 copied" not in result.stderr
    assert "dry run: nothing was written" in result.stderr
    assert "1 would be copied" in result.stderr
    assert cli("-c", str(path), "get", "b", "one").returncode == 1  # nothing written
    real = cli("-c", str(path), "migrate", "--from", "a", "--to", "b")
    assert real.stdout == "copied\tone\n"


def test_usage_errors_exit_2_and_errors_exit_1() -> None:
    assert cli("cache", "clear", "--ref", "x").returncode == 2
    assert cli("get", "local").returncode == 2
    assert cli("no-such-command").returncode == 2
    assert cli("get", "local", "absent").returncode == 1
    assert cli("delete", "local", "absent").returncode == 1


def test_stores_has_a_header_and_singular_plurals(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"stores": [
        {"name": "one", "type": "env", "mappings": [{"name": "a", "secretIdentifier": "A"}]},
        {"name": "two", "type": "env", "mappings": [
            {"name": "a", "secretIdentifier": "A"}, {"name": "b", "secretIdentifier": "B"}]}]}))
    lines = cli("-c", str(path), "stores").stdout.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "MODE", "MAPPINGS", "CAPABILITIES"]
    assert "1 mapping " in lines[1] and "1 mappings" not in lines[1]
    assert "2 mappings" in lines[2]


def test_readme_says_where_the_demo_keeps_its_secrets() -> None:
    demo = (ROOT / "scripts" / "demo").read_text()
    home = re.search(r'SECRETSTORES_HOME="\$PWD/([^"]+)"', demo)
    assert home is not None
    readme = (ROOT / "README.md").read_text()
    assert f"SECRETSTORES_HOME=$PWD/{home.group(1)}" in readme
    assert "secretstores get local openai_key" in readme
