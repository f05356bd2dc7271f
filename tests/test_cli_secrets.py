"""get, put, list and export as an operator runs them: a real process, a real db store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from dotenv import dotenv_values

CANARY = "canary-secrets-Qw8-never-print"
DB_CREDS = {"username": "app", "password": CANARY, "port": 5432, "hosts": ["a", {"x": "y"}]}


def cli(*args: str, stdin: str | None = "", env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the command in a child process (stdin empty unless given)."""
    return subprocess.run(
        [sys.executable, "-m", "secretstores", *args],
        input=stdin, capture_output=True, text=True, env={**os.environ, **(env or {})},
        cwd=cwd, timeout=120,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    return result


def one_line_error(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The single error line of a failed command; it never holds the canary."""
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert CANARY not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def config(tmp_path: Path) -> str:
    """Two db stores over one SQLite file: ``s`` with a mapping ``app`` -> ``myapp``,
    ``r`` with direct access off."""
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"stores": [
        {"name": "s", "type": "db",
         "mappings": [{"name": "app", "secretIdentifier": "myapp"}]},
        {"name": "r", "type": "db", "allowDirectAccess": False, "configuration":
            {"table": "restricted"},
         "mappings": [{"name": "db", "secretIdentifier": "db_creds"}]},
    ]}))
    ok(cli("-c", str(path), "put", "s", "db_creds", stdin=json.dumps(DB_CREDS)))
    return str(path)


# -- get -----------------------------------------------------------------------------


def test_get_drills_into_a_json_secret_like_templates(config: str) -> None:
    assert ok(cli("-c", config, "get", "s", "db_creds.password")).stdout == CANARY + "\n"
    assert ok(cli("-c", config, "get", "s", "db_creds.port")).stdout == "5432\n"
    assert ok(cli("-c", config, "get", "s", "db_creds.hosts[1].x")).stdout == "y\n"
    assert ok(cli("-c", config, "get", "s", 'db_creds["username"]')).stdout == "app\n"
    # the same through a template, for comparison
    rendered = ok(cli("-c", config, "render", "-",
                      stdin="{{ secrets.s.db_creds.password }}"))
    assert rendered.stdout == CANARY


def test_get_prefers_a_secret_whose_name_holds_the_dot(config: str) -> None:
    ok(cli("-c", config, "put", "s", "db_creds.password", stdin="whole-name"))
    assert ok(cli("-c", config, "get", "s", "db_creds.password")).stdout == "whole-name\n"


def test_get_missing_key_is_one_clear_line(config: str) -> None:
    line = one_line_error(cli("-c", config, "get", "s", "db_creds.passwrd"))
    assert "db_creds has no key 'passwrd'" in line
    line = one_line_error(cli("-c", config, "get", "s", "db_creds.port.x"))
    assert "db_creds.port is not a JSON object or array" in line


def test_get_json_and_no_newline(config: str) -> None:
    whole = ok(cli("-c", config, "get", "--json", "s", "db_creds")).stdout
    assert json.loads(whole) == DB_CREDS
    assert json.loads(ok(cli("-c", config, "get", "--json", "s", "db_creds.port")).stdout) \
        == 5432
    ok(cli("-c", config, "put", "s", "plain", stdin='say "hi"'))
    assert ok(cli("-c", config, "get", "--json", "s", "plain")).stdout == '"say \\"hi\\""\n'
    assert ok(cli("-c", config, "get", "-n", "s", "plain")).stdout == 'say "hi"'
    assert ok(cli("-c", config, "get", "-n", "--json", "s", "db_creds.username")).stdout \
        == '"app"'


def test_get_suggests_mappings_and_stores(config: str) -> None:
    ok(cli("-c", config, "put", "s", "app", stdin="v"))
    line = one_line_error(cli("-c", config, "get", "s", "ap"))
    assert "did you mean 'app'?" in line
    line = one_line_error(cli("-c", config, "get", "ss", "app"))
    assert "unknown store 'ss' (did you mean 's'?)" in line


# -- put -----------------------------------------------------------------------------


def test_put_one_key_keeps_the_others(config: str) -> None:
    result = ok(cli("-c", config, "put", "s", "db_creds#password", stdin="rotated\n"))
    assert "stored db_creds#password in s" in result.stderr
    stored = json.loads(ok(cli("-c", config, "get", "s", "db_creds")).stdout)
    assert stored == {**DB_CREDS, "password": "rotated"}
    # a key of a secret that does not exist yet makes the object
    ok(cli("-c", config, "put", "s", "fresh#token", stdin="t"))
    assert json.loads(ok(cli("-c", config, "get", "s", "fresh")).stdout) == {"token": "t"}


def test_put_json_input_stays_json(config: str) -> None:
    ok(cli("-c", config, "put", "s", "cfg", stdin='{\n  "a": 1,\n  "b": {"c": "d"}\n}\n'))
    assert json.loads(ok(cli("-c", config, "get", "s", "cfg")).stdout) == \
        {"a": 1, "b": {"c": "d"}}
    assert ok(cli("-c", config, "get", "s", "cfg.b.c")).stdout == "d\n"


def test_put_refuses_to_replace_json_with_plain_and_back_without_force(config: str) -> None:
    line = one_line_error(cli("-c", config, "put", "s", "db_creds", stdin="plain"))
    assert "holds a JSON object" in line and "--force" in line and "db_creds#KEY" in line
    assert json.loads(ok(cli("-c", config, "get", "s", "db_creds")).stdout) == DB_CREDS
    # broken JSON is named as such
    line = one_line_error(cli("-c", config, "put", "s", "db_creds", stdin='{"username": '))
    assert "starts like JSON but is not valid JSON" in line
    ok(cli("-c", config, "put", "s", "plain", stdin="text"))
    line = one_line_error(cli("-c", config, "put", "s", "plain", stdin='{"a": 1}'))
    assert "holds a plain value" in line
    line = one_line_error(cli("-c", config, "put", "s", "plain#a", stdin="1"))
    assert "not a JSON object" in line
    assert ok(cli("-c", config, "get", "s", "plain")).stdout == "text\n"
    ok(cli("-c", config, "put", "--force", "s", "db_creds", stdin="plain now"))
    assert ok(cli("-c", config, "get", "s", "db_creds")).stdout == "plain now\n"
    # same kind: no --force needed
    ok(cli("-c", config, "put", "s", "plain", stdin="other text"))


def test_put_through_a_mapping_writes_its_target(config: str) -> None:
    ok(cli("-c", config, "put", "s", "app", stdin="via-mapping"))
    assert ok(cli("-c", config, "get", "s", "app")).stdout == "via-mapping\n"
    assert ok(cli("-c", config, "get", "s", "myapp")).stdout == "via-mapping\n"
    names = json.loads(ok(cli("-c", config, "list", "--json", "s")).stdout)
    assert "myapp" in names and "app" not in names
    # delete goes through the mapping too
    ok(cli("-c", config, "delete", "s", "app"))
    assert cli("-c", config, "get", "s", "myapp").returncode == 1


def test_put_refuses_empty_input_unless_allowed(config: str) -> None:
    line = one_line_error(cli("-c", config, "put", "s", "empty", stdin=""))
    assert "empty" in line and "--allow-empty" in line
    one_line_error(cli("-c", config, "get", "s", "empty"))  # nothing was written
    ok(cli("-c", config, "put", "--allow-empty", "s", "empty", stdin="\n"))
    assert ok(cli("-c", config, "get", "-n", "s", "empty")).stdout == ""


def test_put_name_without_key_is_a_usage_error(config: str) -> None:
    result = cli("-c", config, "put", "s", "x#", stdin="v")
    assert result.returncode == 2
    assert "NAME#KEY" in result.stderr


# -- list ----------------------------------------------------------------------------


def test_list_json(config: str) -> None:
    ok(cli("-c", config, "put", "s", "b", stdin="1"))
    assert json.loads(ok(cli("-c", config, "list", "--json", "s")).stdout) == ["b", "db_creds"]
    assert ok(cli("-c", config, "list", "s")).stdout == "b\ndb_creds\n"


def test_list_honours_allow_direct_access_false(config: str) -> None:
    ok(cli("-c", config, "put", "r", "db_creds", stdin="x"))
    ok(cli("-c", config, "put", "r", "not_mapped", stdin="y"))
    assert ok(cli("-c", config, "list", "r")).stdout == "db\n"
    assert json.loads(ok(cli("-c", config, "list", "--json", "r")).stdout) == ["db"]


def test_get_and_put_on_a_store_without_direct_access(config: str) -> None:
    ok(cli("-c", config, "put", "r", "db", stdin='{"password": "pw"}'))
    assert ok(cli("-c", config, "get", "r", "db.password")).stdout == "pw\n"
    line = one_line_error(cli("-c", config, "get", "r", "db_creds"))
    assert "'db_creds' is not a mapping of this store" in line
    assert "allowDirectAccess: false" in line


# -- export --------------------------------------------------------------------------

TRICKY = "it's \"quoted\" $HOME `id` \\ back\nsecond line # not a comment"


@pytest.fixture
def exported(config: str) -> str:
    ok(cli("-c", config, "put", "s", "tricky", stdin=TRICKY + "\n"))
    return config


def test_export_dotenv_reads_back_exactly(exported: str, tmp_path: Path) -> None:
    out = ok(cli("-c", exported, "export", "s.tricky", "PW=s.db_creds.password")).stdout
    env_file = tmp_path / "x.env"
    env_file.write_text(out)
    assert dotenv_values(env_file, interpolate=False) == {"TRICKY": TRICKY, "PW": CANARY}


def test_export_shell_evaluates_to_the_values(exported: str) -> None:
    out = ok(cli("-c", exported, "export", "-f", "shell", "s.tricky",
                 "PW=s.db_creds.password")).stdout
    shell = subprocess.run(["sh", "-c", out + 'printf "%s|%s" "$TRICKY" "$PW"'],
                           capture_output=True, text=True, timeout=60, env={})
    assert shell.stdout == f"{TRICKY}|{CANARY}"


def test_export_json_and_yaml(exported: str) -> None:
    yaml = pytest.importorskip("yaml")
    args = ("s.tricky", "ON=s.db_creds.port")
    as_json = json.loads(ok(cli("-c", exported, "export", "-f", "json", *args)).stdout)
    assert as_json == {"TRICKY": TRICKY, "ON": "5432"}
    as_yaml = yaml.safe_load(ok(cli("-c", exported, "export", "-f", "yaml", *args)).stdout)
    assert as_yaml == {"TRICKY": TRICKY, "ON": "5432"}  # "ON" not read as a boolean


def test_export_every_secret_a_template_uses(exported: str, tmp_path: Path) -> None:
    template = tmp_path / "t.j2"
    template.write_text("a={{ secrets.s.tricky }}\nb={{ secrets.s.db_creds.username }}\n")
    out = ok(cli("-c", exported, "export", "-f", "json", "-t", str(template))).stdout
    assert json.loads(out) == {"TRICKY": TRICKY, "DB_CREDS_USERNAME": "app"}


def test_export_lists_every_problem_and_prints_nothing(exported: str) -> None:
    result = cli("-c", exported, "export", "s.nope", "s.db_creds.nokey", "X=sss.a",
                 "1BAD=s.tricky", "A=s.tricky", "A=s.db_creds.password")
    line = one_line_error(result)
    assert result.stdout == ""
    for part in ("nope: not found", "no key 'nokey'", "unknown store 'sss'",
                 "the variable A is also", "'1BAD' is not a variable name"):
        assert part in line, part


def test_export_without_references_is_a_usage_error(exported: str) -> None:
    assert cli("-c", exported, "export").returncode == 2


def test_put_key_detects_a_write_made_meanwhile(config: str) -> None:
    """Check, then set: the secret is read before the value is read from stdin and again
    before writing; a change made in between (here, while stdin is still open) wins and
    nothing is written."""
    ok(cli("-c", config, "put", "s", "shared", stdin='{"a": "1"}'))
    writer = subprocess.Popen(
        [sys.executable, "-m", "secretstores", "-v", "-c", config, "put", "s", "shared#b"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert writer.stderr is not None and writer.stdin is not None
    stderr = writer.stderr
    first_read = threading.Event()

    def watch() -> None:
        for line in stderr:  # the first read is reported before stdin is read
            if "shared: store" in line:
                first_read.set()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    # a guard against hanging (a put that never reads first), not a timing assertion
    if not first_read.wait(timeout=120):
        writer.kill()
        writer.wait()
        pytest.fail("put did not read the secret before reading its value")
    watcher.join()
    ok(cli("-c", config, "put", "s", "shared", stdin='{"a": "other writer"}'))
    writer.stdin.write("2")
    writer.stdin.close()
    rest = writer.stderr.read()
    assert writer.wait(timeout=120) == 1
    assert "changed while this write was prepared" in rest
    assert "nothing was written" in rest
    assert json.loads(ok(cli("-c", config, "get", "s", "shared")).stdout) == \
        {"a": "other writer"}


def test_export_of_a_template_keeps_keys_with_quotes_and_dots(config: str,
                                                              tmp_path: Path) -> None:
    ok(cli("-c", config, "put", "s", "odd", stdin=json.dumps(
        {'a"b': "quoted", "c.d": "dotted", "e\\f": "slashed"})))
    template = tmp_path / "t.j2"
    template.write_text('{{ secrets.s.odd["a\\"b"] }} {{ secrets.s.odd["c.d"] }} '
                        '{{ secrets.s.odd["e\\\\f"] }}')
    exported = json.loads(ok(cli("-c", config, "export", "-t", str(template),
                                 "-f", "json")).stdout)
    assert sorted(exported.values()) == ["dotted", "quoted", "slashed"]
