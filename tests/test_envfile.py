"""Env files for ``run --env-file``: dotenv lines, parsed before any value goes in, so no
value can start another variable; the ``dotenv`` filter for rendering .env files."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from dotenv import dotenv_values
from hypothesis import given, settings
from hypothesis import strategies as st

from secretstores import TemplateError
from secretstores.api import SecretStores
from secretstores.templating.filters import dotenv_filter

TRICKY = "abc\nLD_PRELOAD=/tmp/evil.so"
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq\nhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
QUOTES = "it's a \"quoted\" \\ value # not a comment $HOME ${HOME}"


@pytest.fixture
def stores(make_stores, tmp_path: Path) -> SecretStores:
    made = make_stores({"defaultStores": False, "stores": [
        {"name": "local", "type": "db", "readOnly": False,
         "configuration": {"url": f"sqlite:///{tmp_path}/s.db"}}]})
    for name, value in (("tricky", TRICKY), ("pem", PEM), ("quotes", QUOTES),
                        ("plain", "p1"), ("nul", "a\x00b"), ("name", "NOT-A-NAME")):
        made.put("local", name, value)
    return made


def test_a_value_never_starts_another_variable(stores: SecretStores) -> None:
    assert stores.render_env("TOKEN={{ secrets.local.tricky }}\n") == {"TOKEN": TRICKY}


@pytest.mark.parametrize("line", [
    "V={{ secrets.local.%s }}",
    'V="{{ secrets.local.%s }}"',
    "V='{{ secrets.local.%s }}'",
    "export V={{ secrets.local.%s }}",
    "  V = {{ secrets.local.%s }}   # a comment",
])
@pytest.mark.parametrize("name, value", [("tricky", TRICKY), ("pem", PEM), ("quotes", QUOTES)])
def test_values_go_in_as_they_are_whatever_the_quoting(stores: SecretStores, line: str,
                                                       name: str, value: str) -> None:
    assert stores.render_env(line % name) == {"V": value}


def test_dotenv_rules_apply_to_the_template_text(stores: SecretStores) -> None:
    source = ("# comment\n\nA=plain text  # trailing comment\nB=\"line\\nbreak\"\nC='$HOME'\n"
              "D=Bearer {{ secrets.local.plain }}\nE=\nexport F={{ secrets.local.plain }}x\n"
              "{% for i in range(2) %}L{{ i }}={{ i }}\n{% endfor %}")
    assert stores.render_env(source) == {
        "A": "plain text", "B": "line\nbreak", "C": "$HOME", "D": "Bearer p1", "E": "",
        "F": "p1x", "L0": "0", "L1": "1"}


def test_every_problem_of_an_env_file_at_once(stores: SecretStores) -> None:
    source = ("OK=1\nnot a variable line\n'BAD KEY'=x\nNOEQUALS\nQ=\"open\n"
              "{{ secrets.local.name }}=x\nN={{ secrets.local.nul }}\nM={{ secrets.local.nope }}\n")
    with pytest.raises(TemplateError) as info:
        stores.render_env(source, name="app.env")
    problems = info.value.problems
    assert [p.split(":")[1] for p in problems] == ["2", "3", "4", "5", "6", "7", "8"]
    assert "expected KEY=value" in problems[0]
    assert "'BAD KEY' is not a valid variable name" in problems[1]
    assert "NOEQUALS: expected KEY=value" in problems[2]
    assert "a quote may be left open" in problems[3]
    assert "a variable name the template computed is not a valid name" in problems[4]
    assert "NUL character" in problems[5]
    assert "secrets.local.nope: not found" in problems[6]
    assert "NOT-A-NAME" not in str(info.value) and "a\x00b" not in str(info.value)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=40))
def test_dotenv_filter_round_trips_through_python_dotenv(value: str) -> None:
    parsed = dotenv_values(stream=io.StringIO(f"K={dotenv_filter(value)}\nNEXT=1\n"),
                           interpolate=False)
    assert parsed == {"K": value, "NEXT": "1"}


def test_dotenv_filter_in_a_rendered_env_file(stores: SecretStores) -> None:
    text = stores.render_string("T={{ secrets.local.tricky | dotenv }}\n")
    assert dotenv_values(stream=io.StringIO(text), interpolate=False) == {"T": TRICKY}


def test_run_gives_the_child_exactly_the_values(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"defaultStores": False, "stores": [
        {"name": "local", "type": "db", "readOnly": False,
         "configuration": {"url": f"sqlite:///{tmp_path}/s.db"}}]}))
    with SecretStores.from_file(config) as stores:
        stores.put("local", "tricky", TRICKY)
        stores.put("local", "pem", PEM)
    env_file = tmp_path / "app.env.j2"
    env_file.write_text("TOKEN={{ secrets.local.tricky }}\nKEY=\"{{ secrets.local.pem }}\"\n")
    child = "import json, os; print(json.dumps({k: os.environ.get(k) for k in " \
            "('TOKEN', 'KEY', 'LD_PRELOAD')}))"
    result = subprocess.run(
        [sys.executable, "-m", "secretstores.cli", "--config", str(config), "run",
         "--env-file", str(env_file), "--", sys.executable, "-c", child],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"TOKEN": TRICKY, "KEY": PEM, "LD_PRELOAD": None}


@pytest.mark.parametrize("source, expected", [
    ("{% macro m() %}{{ secrets.local.tricky }}{% endmacro %}A={{ m() }}", {"A": TRICKY}),
    ("{% set x %}{{ secrets.local.tricky }}{% endset %}A={{ x }}", {"A": TRICKY}),
    ("{% set x %}{{ secrets.local.plain }}{% endset %}A={{ x | upper }}", {"A": "P1"}),
    ("{% macro line(k, v) %}{{ k }}={{ v }}{% endmacro %}X={{ line('A', secrets.local.plain) }}",
     {"X": "A=p1"}),
])
def test_values_written_in_macros_and_set_blocks(stores: SecretStores, source: str,
                                                 expected: dict[str, str]) -> None:
    """Placeholders stand only for what the file itself writes: a macro's or a set
    block's output is a value once written out, whole, never a placeholder token."""
    assert stores.render_env(source) == expected


@pytest.mark.parametrize("source", [
    "{% filter replace('Z', secrets.local.tricky) %}TOKEN=Z{% endfilter %}",
    "A={% filter upper %}{{ secrets.local.plain }}{% endfilter %}",
    "{% macro m() %}{{ caller() }}{% endmacro %}{% call m() %}T={{ secrets.local.tricky }}"
    "{% endcall %}",
])
def test_blocks_whose_output_would_not_be_a_value_are_refused(stores: SecretStores,
                                                              source: str) -> None:
    with pytest.raises(TemplateError) as info:
        stores.render_env(source, name="app.env")
    assert "env files cannot use" in str(info.value)
    assert "LD_PRELOAD" not in str(info.value)


def test_a_macro_writing_a_whole_line_gives_an_invalid_name_not_a_variable(
        stores: SecretStores) -> None:
    source = "{% macro line(k, v) %}{{ k }}={{ v }}{% endmacro %}{{ line('A', 'x') }}\n"
    with pytest.raises(TemplateError, match="a variable name the template computed"):
        stores.render_env(source)
