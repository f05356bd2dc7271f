"""No render error holds a secret value: a corpus of error-provoking templates through the
CLI and the API, with canary values in every store (the contract suite runs the same
corpus against every store type, Vault's and AWS's included)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from secretstores import TemplateError
from secretstores.api import SecretStores
from secretstores.cli import main
from secretstores.testing import (
    CANARY,
    ERROR_TEMPLATES,
    error_templates,
    exception_texts,
    leaked_forms,
)

INNER = {"pw": "canary-inner-Hh3k-never", "n": "918273645", "list": ["canary-item-Pq4z-never"]}
CANARIES = [CANARY, INNER["pw"], INNER["n"], *INNER["list"]]


@pytest.fixture
def config(tmp_path: Path, toy_file, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("APP_PLAIN", CANARY)
    monkeypatch.setenv("APP_OBJ", json.dumps(INNER))
    path = tmp_path / "secretstores.json"
    path.write_text(json.dumps({"defaultStores": False, "stores": [
        {"name": "local", "type": "db", "readOnly": False,
         "configuration": {"url": f"sqlite:///{tmp_path}/local.db"},
         "mappings": [{"name": "plain", "secretIdentifier": "app/plain"},
                      {"name": "obj", "secretIdentifier": "app/obj"}]},
        {"name": "env", "type": "env", "configuration": {"allow": ["APP_*"]}},
        {"name": "toy", "type": "toy",
         "configuration": {"path": toy_file({"plain": CANARY, "obj": INNER})}},
    ]}))
    with SecretStores.from_file(path) as stores:
        stores.put("local", "app/plain", CANARY)
        stores.put("local", "app/obj", json.dumps(INNER))
    return path


SOURCES = [("local", "plain", "obj"), ("env", "APP_PLAIN", "APP_OBJ"), ("toy", "plain", "obj")]


def test_the_corpus_is_large_enough() -> None:
    assert len(ERROR_TEMPLATES) >= 30


@pytest.mark.parametrize("store, plain, obj", SOURCES)
def test_api_errors_hold_no_value(config: Path, store: str, plain: str, obj: str) -> None:
    with SecretStores.from_file(config) as stores:
        for template in error_templates(store, plain, obj):
            with pytest.raises(TemplateError) as info:
                stores.render_string(template)
            assert info.value.__context__ is None and info.value.__cause__ is None, template
            for text in exception_texts(info.value):
                assert not leaked_forms(text, CANARIES), (template, text)


@pytest.mark.parametrize("store, plain, obj", SOURCES)
def test_cli_errors_hold_no_value(config: Path, store: str, plain: str, obj: str) -> None:
    runner = CliRunner()
    for template in error_templates(store, plain, obj):
        result = runner.invoke(main, ["--config", str(config), "render", "-"], input=template)
        assert result.exit_code == 1, (template, result.output)
        assert result.stdout == "", template
        assert result.stderr.startswith("secretstores: error: "), result.stderr
        assert "<stdin>:1: " in result.stderr
        assert "Traceback" not in result.stderr
        assert not leaked_forms(result.stderr, CANARIES), (template, result.stderr)


def test_mapping_names_and_drilled_values_in_one_template(config: Path) -> None:
    """Several failures in one render: each listed, none showing a value."""
    source = ("{{ {}[secrets.local.obj.pw] }}\n{{ secrets.local[secrets.local.plain] }}\n"
              "{{ secrets[secrets.env.APP_PLAIN] }}\n{{ secrets.toy.obj.list[9] }}\n"
              "{{ ('{0:' ~ secrets.toy.plain ~ '}').format(1) }}")
    with SecretStores.from_file(config) as stores, pytest.raises(TemplateError) as info:
        stores.render_string(source, name="t.j2")
    assert info.value.problems == [
        "t.j2:1: a mapping has no key <computed>",
        "t.j2:2: secrets.local[<computed>]: not found",
        "t.j2:3: secrets[<computed>]: unknown store <computed> (configured stores: env, "
        "local, toy)",
        "t.j2:4: secrets.toy.obj.list: the array has no item 9",
        "t.j2:5: ValueError: an operation was given an invalid value (details are not "
        "shown: they may hold secret values)",
    ]


def test_a_computed_key_equal_to_a_constant_elsewhere_stays_hidden(config: Path) -> None:
    with SecretStores.from_file(config) as stores, pytest.raises(TemplateError) as info:
        stores.render_string("{{ {}[secrets.local.plain[:6]] }}{{ 'canary' }}{{ true }}")
    assert info.value.problems == ["<string>:1: a mapping has no key <computed>"]


def test_no_value_in_the_frames_or_reprs_an_error_tracker_would_capture(config: Path) -> None:
    """Error trackers record the local variables of every frame of a traceback."""
    with SecretStores.from_file(config) as stores:
        for source, render in (("{{ secrets.local.plain }}{{ nope }}", stores.render_string),
                               ("A={{ secrets.local.plain }}\nB\n", stores.render_env)):
            with pytest.raises(TemplateError) as info:
                render(source)
            tb = info.value.__traceback__
            while tb is not None:
                for value in tb.tb_frame.f_locals.values():
                    for text in _texts(value):
                        assert not leaked_forms(text, CANARIES), (tb.tb_frame.f_code.co_name)
                tb = tb.tb_next
        compiled = stores._renderer.compile("{{ secrets.local.plain }}", "<string>")
        assert not leaked_forms(repr(compiled), CANARIES)


def _texts(value: object) -> list[str]:
    """The plain text a value holds, one level into containers."""
    items = list(value.values()) if isinstance(value, dict) else \
        list(value) if isinstance(value, list | tuple) else [value]
    return [str.__str__(item) for item in items if isinstance(item, str)]
