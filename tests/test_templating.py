"""Templating: the ``secrets`` namespace, raw identifiers, drill-down, strict errors, filters,
the sandbox, reference collection, batching and parallel fetches."""

from __future__ import annotations

import json
import shlex
import threading
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from secretstores import FetchResult, Session, StoreType, TemplateError, hookimpl
from secretstores.api import SecretStores
from secretstores.plugins import get_plugins
from secretstores.templating.references import Reference
from secretstores.testing import CANARY, count_fetch_calls

RAW_IDS = [
    "arn:aws:secretsmanager:us-east-1:123456789:secret:my-secret",
    "projects/p/secrets/s/versions/3",
    "user@example.com",
    "app.config-v2",
    "path/to/secret?version=3",
    "kv/data/app#field=x",
]

CLOSED_PORT_URL = "postgresql://postgres@127.0.0.1:1/nothing"


@pytest.fixture
def stores(make_stores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SecretStores:
    monkeypatch.setenv("APP_TOKEN", "env-token")
    monkeypatch.setenv("FORBIDDEN", "never-shown")
    made = make_stores({"stores": [
        {"name": "vault", "type": "db", "configuration": {"url": f"sqlite:///{tmp_path}/v.db"},
         "mappings": [{"name": "api_key", "secretIdentifier": "services/api/key"},
                      {"name": "db_creds", "secretIdentifier": "prod/db"}]},
        {"name": "env", "type": "env", "configuration": {"allow": ["APP_*"]}},
        {"name": "down", "type": "db", "configuration": {"url": CLOSED_PORT_URL}},
    ]})
    made.put("vault", "services/api/key", "api-key-value")
    made.put("vault", "prod/db", json.dumps(
        {"username": "admin", "password": "pw-1", "port": 5432,
         "nested": {"inner": {"deep": "bottom"}}, "odd key": "spaced"}))
    for identifier in RAW_IDS:
        made.put("vault", identifier, f"value-of-{identifier}")
    made.invalidate()
    return made


# -- lookups ---------------------------------------------------------------------------


def test_mapping_lookup(stores: SecretStores) -> None:
    assert stores.render_string("Bearer {{ secrets.vault.api_key }}") == "Bearer api-key-value"
    assert stores.render_string("{{ secrets['vault']['api_key'] }}") == "api-key-value"


@pytest.mark.parametrize("identifier", RAW_IDS)
def test_raw_identifiers(stores: SecretStores, identifier: str) -> None:
    expected = f"value-of-{identifier}"
    assert stores.render_string(f"{{{{ secrets.vault.[{identifier}] }}}}") == expected
    assert stores.render_string(f'{{{{ secrets.vault["{identifier}"] }}}}') == expected
    assert stores.render_string(f"{{{{ secrets.vault['{identifier}'] }}}}") == expected
    # inside a statement tag, and with drill-down syntax after it
    assert stores.render_string(
        f"{{% if secrets.vault.[{identifier}] == '{expected}' %}}yes{{% endif %}}") == "yes"


def test_raw_syntax_outside_tags_is_text(stores: SecretStores) -> None:
    assert stores.render_string("a.[b] {{ secrets.vault.[user@example.com] }}") == \
        "a.[b] value-of-user@example.com"


def test_raw_syntax_inside_string_literals_is_text(stores: SecretStores) -> None:
    out = stores.render_string(
        """{{ "see item.[1]" }}|{{ 'it\\'s .[x]' ~ secrets.vault.[user@example.com] }}""")
    assert out == "see item.[1]|it's .[x]value-of-user@example.com"


def test_json_drill_down(stores: SecretStores) -> None:
    out = stores.render_string(
        "{{ secrets.vault.db_creds.username }}|{{ secrets.vault.db_creds['password'] }}|"
        "{{ secrets.vault.db_creds.port }}|{{ secrets.vault.db_creds.nested.inner.deep }}|"
        "{{ secrets.vault.db_creds['nested']['inner'].deep }}|"
        "{{ secrets.vault.db_creds['odd key'] }}|{{ secrets.vault.[prod/db].password }}|"
        "{{ secrets.vault.db_creds.nested.inner | length }}")
    assert out == "admin|pw-1|5432|bottom|bottom|spaced|pw-1|1"  # a JSON object: its keys
    assert stores.render_string("{{ secrets.vault.db_creds.missing | default('d') }}") == "d"
    with pytest.raises(TemplateError, match="no key 'missing'"):
        stores.render_string("{{ secrets.vault.db_creds.missing }}")
    with pytest.raises(TemplateError, match="not a JSON object"):
        stores.render_string("{{ secrets.vault.api_key.field }}")


def test_context_variables(stores: SecretStores) -> None:
    out = stores.render_string("{{ user }}:{{ secrets.vault.api_key }}:{{ n + 1 }}",
                               context={"user": "bob", "n": 1})
    assert out == "bob:api-key-value:2"
    # a context cannot replace the secrets namespace
    assert stores.render_string("{{ secrets.vault.api_key }}",
                                context={"secrets": {"vault": {"api_key": "fake"}}}) == \
        "api-key-value"


def test_dynamic_reference_is_fetched_when_reached(stores: SecretStores) -> None:
    out = stores.render_string("{% for k in keys %}{{ secrets.vault[k] }};{% endfor %}",
                               context={"keys": ["api_key", "user@example.com"]})
    assert out == "api-key-value;value-of-user@example.com;"


# -- strict errors ---------------------------------------------------------------------


def _error(stores: SecretStores, source: str, name: str = "conf.j2") -> TemplateError:
    with pytest.raises(TemplateError) as info:
        stores.render_string(source, name=name)
    return info.value


def test_unknown_store(stores: SecretStores) -> None:
    error = _error(stores, "line one\n{{ secrets.nowhere.key }}")
    assert str(error).startswith("conf.j2:2: secrets.nowhere.key: unknown store 'nowhere'")
    assert "vault" in str(error)  # lists the configured stores
    assert error.template == "conf.j2"


def test_unknown_mapping(make_stores, tmp_path: Path) -> None:
    stores = make_stores({"stores": [{
        "name": "strict", "type": "db", "allowDirectAccess": False,
        "configuration": {"url": f"sqlite:///{tmp_path}/s.db"},
        "mappings": [{"name": "known", "secretIdentifier": "k"}]}]})
    error = _error(stores, "\n\n{{ secrets.strict.unknown }}")
    assert "conf.j2:3: secrets.strict.unknown: 'unknown' is not a mapping of store 'strict'" \
        in str(error)


def test_missing_secret(stores: SecretStores) -> None:
    error = _error(stores, "a\nb\nc {{ secrets.vault.[no/such/secret] }}")
    assert str(error).startswith("conf.j2:3: secrets.vault.[no/such/secret]: not found")
    assert stores.render_string("{{ secrets.vault.[no/such] | default('fallback') }}") == \
        "fallback"
    assert stores.render_string("{{ 'y' if secrets.vault.[no/such] is defined else 'n' }}") == "n"
    error = _error(stores, "{{ secrets.env.APP_UNSET }}")
    assert "secrets.env.APP_UNSET: not found" in str(error)


def test_denied(stores: SecretStores) -> None:
    error = _error(stores, "\n{{ secrets.env.FORBIDDEN }}")
    assert str(error).startswith("conf.j2:2: secrets.env.FORBIDDEN: access denied")
    assert "never-shown" not in str(error)
    # default() covers only "not found"
    error = _error(stores, "{{ secrets.env.FORBIDDEN | default('x') }}")
    assert "access denied" in str(error)


def test_store_unreachable(stores: SecretStores) -> None:
    error = _error(stores, "\n\n\n{{ secrets.down.[a/b] }}")
    assert str(error).startswith("conf.j2:4: secrets.down.[a/b]: store unavailable")
    assert "PostgreSQL" in str(error)
    error = _error(stores, "{{ secrets.down.x | default('x') }}")
    assert "store unavailable" in str(error)


def test_several_problems_at_once(stores: SecretStores) -> None:
    error = _error(stores, "{{ secrets.nowhere.a }}\n{{ secrets.elsewhere.b }}\n"
                           "{{ secrets.vault.api_key }}")
    assert len(error.problems) == 2
    assert error.problems[0].startswith("conf.j2:1: secrets.nowhere.a")
    assert error.problems[1].startswith("conf.j2:2: secrets.elsewhere.b")
    error = _error(stores, "{{ secrets.env.FORBIDDEN }}\n{{ secrets.down.x }}\n"
                           "{{ secrets.vault.api_key }}")
    assert [p.split(": ")[0] for p in error.problems] == ["conf.j2:1", "conf.j2:2"]
    assert "access denied" in error.problems[0] and "store unavailable" in error.problems[1]
    assert "2 problems" in str(error)


def test_every_missing_secret_written_out_is_listed_together(stores: SecretStores) -> None:
    error = _error(stores, "key={{ secrets.vault.api_key }}\n"
                           "a={{ secrets.vault.[no/one] }}\n"
                           "b={{ secrets.vault.[no/two] | default('ok') }}\n"
                           "{% if secrets.vault.[no/three] is defined %}x{% endif %}\n"
                           "c={{ 'prefix-' ~ secrets.vault.[no/four] }}\n"
                           "d={{ secrets.vault.db_creds.password }}")
    assert [p.split(": ")[0] for p in error.problems] == ["conf.j2:2", "conf.j2:5"]
    assert "secrets.vault.[no/one]: not found" in error.problems[0]
    assert "secrets.vault.[no/four]: not found" in error.problems[1]
    assert "api-key-value" not in str(error) and "pw-1" not in str(error)


def test_values_never_in_errors(make_stores, tmp_path: Path) -> None:
    stores = make_stores({"stores": [{"name": "s", "type": "db",
                                      "configuration": {"url": f"sqlite:///{tmp_path}/c.db"}}]})
    stores.put("s", "plain", CANARY)
    stores.put("s", "obj", json.dumps({"inner": CANARY}))
    for source in ("{{ secrets.s.plain.x }}", "{{ secrets.s.plain + 1 }}",
                   "{{ secrets.s.plain ~ undefined_var }}", "{{ secrets.s.obj.inner + 1 }}",
                   "{{ secrets.s.plain | int + [] }}", "{{ secrets.s.plain[1000] }}",
                   "{% set x = secrets.s.plain %}{{ x.__class__ }}",
                   "{{ secrets.s.plain | dictsort }}", "{{ secrets.s.obj.inner.y }}"):
        error = _error(stores, source)
        assert CANARY not in str(error), source
        assert CANARY[3:-3] not in str(error), source
    assert CANARY not in stores.render_string("{{ secrets.s.plain | pprint }}")


def test_strict_undefined_plain_variables(stores: SecretStores) -> None:
    error = _error(stores, "ok\n{{ not_given }}")
    assert "conf.j2:2" in str(error) and "not_given" in str(error)
    assert stores.render_string("{{ not_given | default('d') }}") == "d"


def test_syntax_error_names_the_line(stores: SecretStores) -> None:
    error = _error(stores, "a\n{{ secrets.vault.api_key }\n")
    assert str(error).startswith("conf.j2:2: syntax error")


# -- filters -----------------------------------------------------------------------------

NASTY = [
    "plain",
    'with "double" and \'single\' quotes',
    "multi\nline\r\nvalue\t\\",
    "unicode: é ü 日本 😀 \u2028 \u0085 \ufeff \x7f",
    "$HOME `id` $(rm -rf /) ; | & > < * ? [a] {b} ~ # !",
    "- starts with dash: and colon",
    "yes",
    "",
    "null",
    "0755",
    "{json: like}",
    "\x01\x1b[31m",
]


@pytest.mark.parametrize("value", NASTY)
def test_json_filter_round_trip(make_stores, value: str, tmp_path: Path) -> None:
    stores = _with_value(make_stores, tmp_path, value)
    assert json.loads(stores.render_string("{{ secrets.s.v | json }}")) == value
    doc = stores.render_string('{"password": {{ secrets.s.v | json }}}')
    assert json.loads(doc) == {"password": value}


@pytest.mark.parametrize("value", NASTY)
def test_yaml_filter_round_trip(make_stores, value: str, tmp_path: Path) -> None:
    stores = _with_value(make_stores, tmp_path, value)
    doc = stores.render_string("password: {{ secrets.s.v | yaml }}\nother: 1\n")
    assert yaml.safe_load(doc) == {"password": value, "other": 1}


@pytest.mark.parametrize("value", NASTY)
def test_shell_filter_round_trip(make_stores, value: str, tmp_path: Path) -> None:
    stores = _with_value(make_stores, tmp_path, value)
    line = stores.render_string("curl -H {{ ('Authorization: ' ~ secrets.s.v) | shell }} x")
    assert shlex.split(line) == ["curl", "-H", "Authorization: " + value, "x"]


def test_json_filter_keeps_numbers(stores: SecretStores) -> None:
    assert stores.render_string("{{ 5 | json }} {{ none | json }} {{ true | json }}") == \
        "5 null true"


def _with_value(make_stores: Any, tmp_path: Path, value: str) -> SecretStores:
    stores = make_stores({"stores": [{"name": "s", "type": "db",
                                      "configuration": {"url": f"sqlite:///{tmp_path}/f.db"}}]})
    stores.put("s", "v", value)
    return stores  # type: ignore[no-any-return]


# -- sandbox -------------------------------------------------------------------------------


@pytest.mark.parametrize("source", [
    "{{ secrets.__class__ }}",
    "{{ secrets._stores }}",
    "{{ secrets._resolve }}",
    "{{ secrets.vault.__class__ }}",
    "{{ secrets.vault._spec }}",
    "{{ secrets.vault.api_key.__class__ }}",
    "{{ secrets.vault.api_key._label }}",
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ range.__self__ }}",
    "{{ (secrets.vault | attr('_spec')) }}",
    "{{ secrets.vault | attr('__class__') }}",
    "{{ self.__init__.__globals__ }}",
    "{{ ''.format.__self__ }}",
    "{{ '{0.__class__}'.format(secrets) }}",
])
def test_sandbox_refuses_internals(stores: SecretStores, source: str) -> None:
    with pytest.raises(TemplateError):
        stores.render_string(source)


# -- references, batching, parallelism ----------------------------------------------------------


def test_references_without_fetching(stores: SecretStores) -> None:
    source = ("{{ secrets.vault.api_key }}\n"
              "{{ secrets.aws.[arn:aws:secretsmanager:us-east-1:1:secret:x].password }}\n"
              "{{ secrets.vault.db_creds['nested'].inner }}\n"
              "{% if x %}{{ secrets.env.APP_TOKEN }}{% endif %}\n"
              "{{ secrets.vault[name] }}")
    with count_fetch_calls(stores.plugins) as calls:
        refs = stores.references(source, name="t.j2")
    assert calls == []
    assert refs == [
        Reference("vault", "api_key", (), 1),
        Reference("aws", "arn:aws:secretsmanager:us-east-1:1:secret:x", ("password",), 2),
        Reference("vault", "db_creds", ("nested", "inner"), 3),
        Reference("env", "APP_TOKEN", (), 4),
        Reference("vault", None, (), 5),
    ]
    assert str(refs[1]) == "secrets.aws.[arn:aws:secretsmanager:us-east-1:1:secret:x].password"


def test_hundred_references_five_stores_five_fetches(make_stores, toy_file) -> None:
    stores_def = []
    for s in range(5):
        data = {f"k{i}/id": f"s{s}-v{i}" for i in range(10)}
        stores_def.append({"name": f"toy{s}", "type": "toy",
                           "configuration": {"path": toy_file(data, f"t{s}.json")}})
    stores = make_stores({"stores": stores_def, "defaultStores": False})
    lines = [f"{{{{ secrets.toy{n % 5}.[k{(n // 5) % 10}/id] }}}}" for n in range(100)]
    with count_fetch_calls(stores.plugins) as calls:
        out = stores.render_string("\n".join(lines))
    assert out.splitlines() == [f"s{n % 5}-v{(n // 5) % 10}" for n in range(100)]
    assert len(calls) == 5
    assert sorted(name for name, _ in calls) == [f"toy{s}" for s in range(5)]
    for _, identifiers in calls:
        assert sorted(identifiers) == sorted(f"k{i}/id" for i in range(10))
    # rendered again: everything comes from the cache
    with count_fetch_calls(stores.plugins) as calls:
        assert stores.render_string("\n".join(lines)) == out
    assert calls == []


class BarrierStores:
    """A plugin whose fetch only completes when two stores are fetched at the same time."""

    def __init__(self) -> None:
        self.barrier = threading.Barrier(2, timeout=10)
        self.threads: set[str] = set()

    @hookimpl
    def secretstores_store_types(self):
        return [StoreType("barrier", BarrierConfig, capabilities={"batch_read"})]

    @hookimpl
    def secretstores_authenticate(self, store):
        return Session(client=None)

    @hookimpl
    def secretstores_fetch(self, store, identifiers):
        self.threads.add(threading.current_thread().name)
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            return {i: FetchResult.unavailable("fetched alone: not in parallel")
                    for i in identifiers}
        return {i: FetchResult.found(f"{store.name}:{i}") for i in identifiers}


@attrs.frozen
class BarrierConfig:
    """The ``barrier`` type has no configuration fields."""


def test_stores_are_fetched_in_parallel(make_stores) -> None:
    plugin = BarrierStores()
    get_plugins().register(plugin, name="barrier_plugin")
    stores = make_stores({"defaultStores": False, "stores": [
        {"name": "one", "type": "barrier"}, {"name": "two", "type": "barrier"}]})
    assert stores.render_string("{{ secrets.one.a }} {{ secrets.two.b }}") == "one:a two:b"
    assert len(plugin.threads) == 2
