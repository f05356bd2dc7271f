"""The ``secretstores`` command, run as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CANARY = "canary-cli-7Yt2-never-print"


def cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed command in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "secretstores.cli", *args],
        input=stdin, capture_output=True, text=True, env={**os.environ, **(env or {})},
        cwd=cwd, timeout=120,
    )


def test_version_and_help() -> None:
    result = cli("--version")
    assert result.returncode == 0
    assert "secretstores, version" in result.stdout
    assert "render" in cli("--help").stdout


def test_put_then_get_and_render_from_stdin() -> None:
    assert cli("put", "local", "openai_key", stdin=CANARY + "\n").returncode == 0
    got = cli("get", "local", "openai_key")
    assert got.stdout == CANARY + "\n"
    rendered = cli("render", "-", stdin="Authorization: Bearer {{ secrets.local.openai_key }}\n")
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stdout == f"Authorization: Bearer {CANARY}\n"


def test_render_to_file_is_private(tmp_path: Path) -> None:
    cli("put", "local", "k", stdin="v1")
    template = tmp_path / "t.j2"
    template.write_text("x={{ secrets.local.k }}")
    out = tmp_path / "out.txt"
    result = cli("render", str(template), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_text() == "x=v1"
    assert out.stat().st_mode & 0o777 == 0o600


def test_env_store_and_global_options_before_command(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"stores": [
        {"name": "app", "type": "env", "configuration": {"prefix": "APP_"},
         "mappings": [{"name": "token", "secretIdentifier": "TOKEN"}]},
        {"name": "env", "type": "env"}]}))
    result = cli("--config", str(config), "--env-prefix", "ARCHESTRA", "render", "-",
                 stdin="{{ secrets.app.token }}/{{ secrets.env.PLAIN }}",
                 env={"APP_TOKEN": "t0k", "PLAIN": "p"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "t0k/p"


def test_errors_are_one_line_without_traceback_or_value(tmp_path: Path) -> None:
    cli("put", "local", "present", stdin=CANARY)
    result = cli("render", "-", stdin="ok {{ secrets.local.present }}\n{{ secrets.nope.x }}\n"
                 "{{ secrets.local.absent }}")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("secretstores: error: ")
    assert "<stdin>:2" in lines[0] and "unknown store 'nope'" in lines[0]
    assert "Traceback" not in result.stderr
    assert CANARY not in result.stderr + result.stdout
    debug = cli("--debug", "render", "-", stdin="{{ secrets.nope.x }}")
    assert "Traceback" in debug.stderr


def test_invalid_configuration_lists_every_problem(tmp_path: Path) -> None:
    config = tmp_path / "secretstores.json"
    config.write_text(json.dumps({"stores": [
        {"name": "a", "type": "gcp_secret_manager", "configuration": {}},
        {"name": "b-bad", "type": "env", "configuration": {"prefix": 3}},
        {"type": "env"},
    ]}))
    # found as ./secretstores.json; the GCP plugin is not loaded (as if not installed)
    result = cli("stores", cwd=tmp_path, env={"SECRETSTORES_DISABLE_PLUGINS": "gcp"})
    assert result.returncode == 1
    message = result.stderr
    assert "pip install secretstores-gcp" in message
    assert "store 'b-bad'" in message and "prefix" in message
    assert "stores[2]: missing required field 'name'" in message


def test_put_never_takes_the_value_from_argv() -> None:
    result = cli("put", "local", "name", CANARY)
    assert result.returncode != 0
    assert cli("get", "local", "name").returncode == 1


def test_put_to_read_only_store_fails_clearly() -> None:
    result = cli("put", "env", "X", stdin=CANARY)
    assert result.returncode == 1
    assert "read-only" in result.stderr
    assert CANARY not in result.stderr


def test_get_missing_says_not_found() -> None:
    result = cli("get", "local", "nothing_here")
    assert result.returncode == 1
    assert "not found" in result.stderr or "no secret" in result.stderr


def test_run_passes_secrets_to_the_child_only(tmp_path: Path) -> None:
    cli("put", "local", "db_password", stdin=CANARY)
    env_file = tmp_path / "app.env.j2"
    env_file.write_text("# comment\nDB_PASSWORD={{ secrets.local.db_password }}\n"
                        "export MODE='prod'\n")
    script = (f"import os; print(os.environ['DB_PASSWORD'] == {CANARY!r}, "
              "os.environ['MODE'], os.environ['EXTRA'])")
    result = cli("run", "--env-file", str(env_file), "-e", "EXTRA={{ secrets.local.db_password "
                 "| length }}", "--", sys.executable, "-c", script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "prod", str(len(CANARY))]
    assert "DB_PASSWORD" not in os.environ


def test_run_propagates_the_exit_code() -> None:
    result = cli("run", "--", sys.executable, "-c", "raise SystemExit(7)")
    assert result.returncode == 7


def test_refs_lists_without_fetching(tmp_path: Path) -> None:
    template = "{{ secrets.aws.[arn:aws:secretsmanager:us-east-1:123456789:secret:my-secret] }}\n" \
               "{{ secrets.vault.[myapp/config].password }}\n"
    # neither store exists: listing references must not need them
    result = cli("refs", "--json", "-", stdin=template)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"store": "aws", "key": "arn:aws:secretsmanager:us-east-1:123456789:secret:my-secret",
         "path": [], "line": 1},
        {"store": "vault", "key": "myapp/config", "path": ["password"], "line": 2},
    ]


def test_stores_check_and_plugins() -> None:
    stores = cli("stores", "--check", "--json")
    assert stores.returncode == 0, stores.stderr
    rows = {row["name"]: row for row in json.loads(stores.stdout)}
    assert rows["local"]["type"] == "db" and rows["local"]["status"] == "ok"
    assert rows["env"]["readOnly"] is True
    plugins = json.loads(cli("plugins", "--json").stdout)
    builtin = {p["name"]: p for p in plugins if p.get("builtin")}
    assert builtin["secretstores.builtin.db_store"]["storeTypes"] == ["db"]
    assert "secretstores_fetch" in builtin["secretstores.builtin.env_store"]["hooks"]


def test_cache_clear_forces_a_new_fetch(tmp_path: Path) -> None:
    cli("put", "local", "k", stdin="old")
    assert cli("get", "local", "k").stdout == "old\n"
    # change the database behind the cache's back: a second process still sees the cached value
    db = cli("list", "local")
    assert "k" in db.stdout.split()
    import sqlite3

    home = Path(os.environ["SECRETSTORES_HOME"])
    with sqlite3.connect(home / "data" / "secrets.db") as connection:
        connection.execute("DELETE FROM secretstores_secrets WHERE name = 'k'")
    assert cli("get", "local", "k").stdout == "old\n"
    cleared = cli("cache", "clear", "--store", "local", "--ref", "k")
    assert cleared.returncode == 0
    assert cli("get", "local", "k").returncode == 1


def test_migrate_copies_verifies_and_is_idempotent(tmp_path: Path) -> None:
    config = tmp_path / "secretstores.toml"
    config.write_text(
        '[[stores]]\nname = "old"\ntype = "db"\n[stores.configuration]\n'
        f'url = "sqlite:///{tmp_path}/old.db"\n\n'
        '[[stores]]\nname = "new"\ntype = "db"\n[stores.configuration]\n'
        f'url = "sqlite:///{tmp_path}/new.db"\n')
    for name in ("a", "b", "c"):
        assert cli("put", "old", name, stdin=f"value-{name}", cwd=tmp_path).returncode == 0
    cli("put", "new", "c", stdin="different", cwd=tmp_path)
    first = cli("migrate", "--from", "old", "--to", "new", cwd=tmp_path)
    assert first.returncode == 1  # c is in conflict
    assert "copied\ta" in first.stdout and "copied\tb" in first.stdout
    assert "2 copied" in first.stderr and "1 conflict" in first.stderr
    assert "value-" not in first.stdout + first.stderr
    again = cli("migrate", "--from", "old", "--to", "new", "--overwrite", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "2 unchanged" in again.stderr and "1 copied" in again.stderr
    assert cli("get", "new", "c", cwd=tmp_path).stdout == "value-c\n"


@pytest.mark.parametrize("manager", ["DB", ""])
def test_manager_store_from_env_prefix(manager: str) -> None:
    env = {"ARCHESTRA_SECRETS_MANAGER": manager}
    assert cli("--env-prefix", "ARCHESTRA", "put", "manager", "m", stdin="mv",
               env=env).returncode == 0
    assert cli("get", "local", "m").stdout == "mv\n"


def test_vault_manager_without_plugin_falls_back_or_refuses() -> None:
    env = {"ARCHESTRA_SECRETS_MANAGER": "VAULT",
           "SECRETSTORES_DISABLE_PLUGINS": "vault"}
    loose = cli("--env-prefix", "ARCHESTRA", "stores", env=env)
    assert loose.returncode == 0
    assert "falling back to database storage" in loose.stderr
    strict = cli("--env-prefix", "ARCHESTRA", "--strict-manager", "stores", env=env)
    assert strict.returncode == 1
    assert "secretstores-vault" in strict.stderr
