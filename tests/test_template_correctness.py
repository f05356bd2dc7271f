"""Templates, correct before fast: Jinja2 scoping, lazy problem values, every problem at
once, ``default`` at any depth, JSON secrets as mappings, printing a store, compile
errors, dynamic templates batched, and the asyncio path never blocking the loop.

Each test here failed on the renderer before the rework (issue 10's findings).
"""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from secretstores import TemplateError
from secretstores.api import SecretStores
from secretstores.errors import SecretStoresError
from secretstores.testing import count_fetch_calls, record_events

CLOSED_PORT_URL = "postgresql://postgres@127.0.0.1:1/nothing"


@pytest.fixture
def stores(make_stores, tmp_path: Path, toy_file, monkeypatch: pytest.MonkeyPatch
           ) -> SecretStores:
    monkeypatch.setenv("APP_TOKEN", "env-token")
    made = make_stores({"defaultStores": False, "stores": [
        {"name": "s", "type": "db", "readOnly": False,
         "configuration": {"url": f"sqlite:///{tmp_path}/s.db"},
         "mappings": [{"name": "app", "secretIdentifier": "apps/app"}]},
        {"name": "toy", "type": "toy",
         "configuration": {"path": toy_file({"ok": "toy-ok", "refused": "never-shown"}),
                           "deny": ["refused"]}},
        {"name": "env", "type": "env", "configuration": {"allow": ["APP_*"]}},
        {"name": "down", "type": "db", "configuration": {"url": CLOSED_PORT_URL}},
    ]})
    made.put("s", "x", "real-x")
    made.put("s", "plain", "not-json")
    made.put("s", "apps/app", json.dumps(
        {"user": "admin", "password": "pw-1", "port": 5432, "items": "own-items-key",
         "nested": {"inner": {"deep": "bottom"}}}))
    made.put("s", "obj", json.dumps({"b": "2", "a": "1", "c": {"d": "3"}}))
    made.put("s", "arr", json.dumps(["first", "second"]))
    made.invalidate()
    return made


def problems(stores: SecretStores, source: str, **options: Any) -> list[str]:
    with pytest.raises(TemplateError) as info:
        stores.render_string(source, name="t.j2", **options)
    assert info.value.__context__ is None and info.value.__cause__ is None
    return info.value.problems


# -- 1. render_data: leaves are told apart by position, not by printed path --------------


def test_render_data_leaves_whose_paths_print_alike_stay_apart(stores: SecretStores) -> None:
    data = {"a.b": "{{ 'from a.b key' }}", "a": {"b": "{{ 'from nested a/b' }}"},
            1: "{{ 'int key' }}", "1": "{{ 'str key' }}"}
    assert stores.render_data(data) == {"a.b": "from a.b key", "a": {"b": "from nested a/b"},
                                        1: "int key", "1": "str key"}


def test_render_data_error_paths_are_unambiguous(stores: SecretStores) -> None:
    data = {"a.b": "{{ nope1 }}", "a": {"b": "{{ nope2 }}"}, 1: "{{ nope3 }}", "1": "{{ n4 }}"}
    with pytest.raises(TemplateError) as info:
        stores.render_data(data)
    assert [p.split(":")[0] for p in info.value.problems] == [
        'config["a.b"]', "config.a.b", "config[1]", 'config["1"]']


# -- 2. only the global `secrets` is bound to the stores ----------------------------------


@pytest.mark.parametrize("source, expected", [
    ('{% macro show(secrets) %}{{ secrets.s.x }}{% endmacro %}'
     '{{ show({"s": {"x": "plain arg"}}) }}', "plain arg"),
    ('{% for secrets in [{"s": {"x": "loop"}}] %}{{ secrets.s.x }}{% endfor %}'
     '|{{ secrets.s.x }}', "loop|real-x"),
    ('{% set secrets = {"s": {"x": "set"}} %}{{ secrets.s.x }}', "set"),
    ('{% with secrets = {"s": {"x": "with"}} %}{{ secrets.s.x }}{% endwith %}'
     '|{{ secrets.s.x }}', "with|real-x"),
    ('{% macro m() %}{% set secrets = {"s": {"x": "inner"}} %}{{ secrets.s.x }}{% endmacro %}'
     '{{ m() }}|{{ secrets.s.x }}', "inner|real-x"),
    ('{% macro outer(secrets) %}{{ caller() }}{% endmacro %}'
     '{% call outer({"s": {"x": "arg"}}) %}{{ secrets.s.x }}{% endcall %}', "real-x"),
    ('{% macro m() %}{{ caller({"s": {"x": "from caller"}}) }}{% endmacro %}'
     '{% call(secrets) m() %}{{ secrets.s.x }}{% endcall %}', "from caller"),
    ('{% if true %}{% set secrets = {"s": {"x": "if-set"}} %}{% endif %}{{ secrets.s.x }}',
     "if-set"),
])
def test_a_local_secrets_is_never_the_stores(stores: SecretStores, source: str,
                                             expected: str) -> None:
    assert stores.render_string(source) == expected


def test_a_bare_secrets_is_dynamic_and_still_reads_the_stores(stores: SecretStores) -> None:
    source = "{% set all = secrets %}{{ all.s.x }}|{{ all['s'].plain }}"
    assert stores.render_string(source) == "real-x|not-json"


# -- 3. the asyncio path never does I/O on the event loop ---------------------------------


def _gated_stores(make_stores, toy_file, gate: Path) -> SecretStores:
    return make_stores({"defaultStores": False, "stores": [
        {"name": "slow", "type": "toy",
         "configuration": {"path": toy_file({"k": "gated-value"}, name="gated.json"),
                           "gate": str(gate)}}]})


@pytest.mark.parametrize("source", [
    "{% set all = secrets %}{{ all.slow.k }}",        # bare secrets: dynamic
    "{% set n = 'k' %}{{ secrets.slow[n] }}",         # computed key: dynamic
    "{{ secrets.slow.k }}",                           # static, not cached
])
def test_async_render_keeps_the_loop_running_while_a_store_is_slow(
        make_stores, toy_file, tmp_path: Path, source: str) -> None:
    """The store's read waits until the loop itself opens the gate: if the read ran
    on the loop thread, the gate would never open and the read would give up."""
    gate = tmp_path / "gate"
    stores = _gated_stores(make_stores, toy_file, gate)

    async def main() -> tuple[str, float]:
        stalls: list[float] = []

        async def ticker() -> None:
            last = time.monotonic()
            while True:
                await asyncio.sleep(0.01)
                now = time.monotonic()
                stalls.append(now - last)
                last = now

        async def open_gate() -> None:
            await asyncio.sleep(0.2)
            gate.touch()

        tick = asyncio.create_task(ticker())
        opener = asyncio.create_task(open_gate())
        text = await stores.render_string_async(source)
        await opener
        tick.cancel()
        return text, max(stalls)

    text, worst_stall = asyncio.run(main())
    assert text == "gated-value"
    assert worst_stall < 0.2  # the loop ran on while the read waited for the gate


class RecordingExecutor(ThreadPoolExecutor):
    """The loop's default executor (what ``asyncio.to_thread`` runs on), counting jobs."""

    jobs = 0

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        RecordingExecutor.jobs += 1
        return super().submit(*args, **kwargs)


def _run_counting_thread_hops(coroutine_factory: Any) -> tuple[Any, int]:
    async def main() -> Any:
        asyncio.get_running_loop().set_default_executor(RecordingExecutor(2))
        return await coroutine_factory()

    RecordingExecutor.jobs = 0
    result = asyncio.run(main())
    return result, RecordingExecutor.jobs


def test_async_render_inline_when_cached_and_in_a_thread_otherwise(make_stores, toy_file,
                                                                   tmp_path: Path) -> None:
    """Cached: rendered on the loop with the values it found there, no thread and no
    store (the gate is shut, so a read would hang); not cached: in a thread."""
    gate = tmp_path / "gate"
    gate.touch()
    stores = _gated_stores(make_stores, toy_file, gate)
    text, hops = _run_counting_thread_hops(
        lambda: stores.render_string_async("{{ secrets.slow.k }}"))
    assert (text, hops) == ("gated-value", 1)
    gate.unlink()  # from here, any read would block until it gives up
    text, hops = _run_counting_thread_hops(
        lambda: stores.render_string_async("{{ secrets.slow.k }}"))
    assert (text, hops) == ("gated-value", 0)
    gate.touch()
    text, hops = _run_counting_thread_hops(  # dynamic: always off the loop
        lambda: stores.render_string_async("{% set s = secrets %}{{ s.slow.k }}"))
    assert (text, hops) == ("gated-value", 1)


def test_async_render_data(stores: SecretStores) -> None:
    out = asyncio.run(stores.render_data_async({"a": ["{{ secrets.s.x }}"], "b": "plain"}))
    assert out == {"a": ["real-x"], "b": "plain"}


# -- 6, 7. every problem at once, as one TemplateError -----------------------------------


def test_every_kind_of_problem_in_one_error(stores: SecretStores) -> None:
    found = problems(stores, "\n".join([
        "{{ secrets.s.missing_one }}",
        "{{ secrets.s.missing_two }}",
        "{{ secrets.s.app.no_such_key }}",
        "{{ secrets.nostore.x }}",
        "{{ secrets.toy.refused }}",
        "{{ undefined_var }}",
    ]))
    assert [p.split(": ")[0] for p in found] == [f"t.j2:{n}" for n in range(1, 7)]
    assert "secrets.s.missing_one: not found" in found[0]
    assert "secrets.s.missing_two: not found" in found[1]
    assert "secrets.s.app: the secret has no key 'no_such_key'" in found[2]
    assert "unknown store 'nostore'" in found[3]
    assert "secrets.toy.refused: access denied" in found[4]
    assert "'undefined_var' is undefined" in found[5]


def test_unknown_store_and_missing_secret_reported_in_the_same_run(stores: SecretStores) -> None:
    found = problems(stores, "{{ secrets.nostore.a }}\n{{ secrets.s.nope }}")
    assert len(found) == 2


def test_render_data_reports_every_leaf(stores: SecretStores) -> None:
    with pytest.raises(TemplateError) as info:
        stores.render_data({"a": "{{ secrets.s.nope }}", "b": ["{{ 1 / 0 }}", "{{ ok"],
                            "c": "{{ secrets.s.x }}"})
    # a syntax error is found before anything is fetched, for every leaf at once
    assert [p.split(":")[0] for p in info.value.problems] == ["config.b[1]"]
    with pytest.raises(TemplateError) as info:
        stores.render_data({"a": "{{ secrets.s.nope }}", "b": ["{{ 1 / 0 }}", "{{ ok }}"]})
    assert [p.split(":")[0] for p in info.value.problems] == ["config.a", "config.b[0]",
                                                              "config.b[1]"]


def test_a_provider_error_of_any_kind_names_the_line(stores: SecretStores,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    found = problems(stores, "ok\n{{ secrets.down.x }}\n{{ secrets.s.nope }}")
    assert found[0].startswith("t.j2:2: secrets.down.x: store unavailable")
    assert found[1].startswith("t.j2:3: secrets.s.nope: not found")


@pytest.mark.parametrize("source, fragment", [
    ("{{ x | nosuchfilter }}", "No filter named 'nosuchfilter'"),
    ("{% if x is nosuchtest %}{% endif %}", "No test named 'nosuchtest'"),
    ("line\n{{ x.[ }}", "not closed by ']'"),
    ("{{ secrets.s.[] }}", "holds no raw identifier"),
])
def test_compile_errors_are_template_errors(stores: SecretStores, source: str,
                                            fragment: str) -> None:
    with pytest.raises(TemplateError) as info:
        stores.render_string(source, name="t.j2")
    assert isinstance(info.value, SecretStoresError)
    assert fragment in str(info.value)
    assert str(info.value).startswith(f"t.j2:{source.count(chr(10)) + 1}: syntax error")


def test_new_filters_compile(stores: SecretStores) -> None:
    assert stores.render_string("{{ 'a' | b64encode }}") == "YQ=="


# -- 8. branches that never run never fail ------------------------------------------------


def test_a_down_store_fails_only_the_branch_that_uses_it(stores: SecretStores) -> None:
    source = ("{% if env == 'prod' %}{{ secrets.down.token }}{% else %}"
              "{{ secrets.s.x }}{% endif %}|{{ secrets.toy.refused if env == 'prod' else 'd' }}")
    with count_fetch_calls(stores.plugins) as calls:
        assert stores.render_string(source, context={"env": "dev"}) == "real-x|d"
    # still one batch per store, the unused ones included
    assert sorted(store for store, _ in calls) == ["down", "s", "toy"]
    found = problems(stores, source, context={"env": "prod"})
    assert [p.split(": ")[1] for p in found] == ["secrets.down.token", "secrets.toy.refused"]


def test_unknown_stores_fail_even_in_branches_that_never_run(stores: SecretStores) -> None:
    """A typo is a mistake in every environment: found before anything runs."""
    found = problems(stores, "{% if false %}{{ secrets.nostore.x }}{% endif %}")
    assert "unknown store 'nostore'" in found[0]


def test_default_never_hides_denied_or_unavailable(stores: SecretStores) -> None:
    found = problems(stores, "{{ secrets.toy.refused | default('x') }}\n"
                             "{{ secrets.down.k | default('y') }}\n"
                             "{% if secrets.toy.refused is defined %}{{ secrets.toy.refused }}"
                             "{% endif %}")
    assert [p.split(":")[1] for p in found] == ["1", "2", "3"]


# -- 9. `default` covers a missing secret and a missing key at any depth ------------------


@pytest.mark.parametrize("source", [
    "{{ secrets.s.nope | default('d') }}",
    "{{ secrets.s.[nope].password | default('d') }}",
    "{{ secrets.s.nope.a.b.c | default('d') }}",
    "{{ secrets.s.app.missing | default('d') }}",
    "{{ secrets.s.app.nested.missing.deeper | default('d') }}",
    "{{ secrets.s.plain.password | default('d') }}",      # not JSON
    "{{ secrets.s.x.k | default('d') }}",                   # not JSON
    "{{ secrets.s.arr[7] | default('d') }}",
    "{% set k = 'nope' %}{{ secrets.s[k].field | default('d') }}",
    "{{ 'd' if secrets.s.app.missing is undefined }}",
])
def test_default_covers_every_depth(stores: SecretStores, source: str) -> None:
    assert stores.render_string(source) == "d"


def test_drilling_into_a_value_that_is_not_json_without_default(stores: SecretStores) -> None:
    found = problems(stores, "{{ secrets.s.plain.password }}")
    assert "secrets.s.plain: the secret is not a JSON object, so it has no key 'password'" \
        in found[0]


# -- 10. printing a store is an error; JSON secrets are mappings -------------------------


@pytest.mark.parametrize("source, hint", [
    ("{{ secrets.s }}", "secrets.s is a store, not a value: write secrets.s.NAME"),
    ("{{ secrets }}", "secrets is the set of stores, not a value"),
    ("{% set all = secrets %}{{ all }}", "secrets is the set of stores, not a value"),
])
def test_printing_a_store_or_the_namespace_says_what_to_write(stores: SecretStores,
                                                              source: str, hint: str) -> None:
    assert hint in problems(stores, source)[0]


@pytest.mark.parametrize("source, expected", [
    ("{% for k in secrets.s.obj %}{{ k }},{% endfor %}", "b,a,c,"),
    ("{{ secrets.s.obj | list }}", "['b', 'a', 'c']"),
    ("{% for k, v in secrets.s.obj.items() %}{{ k }}={{ v }};{% endfor %}",
     'b=2;a=1;c={"d": "3"};'),
    ("{% for k, v in secrets.s.obj | dictsort %}{{ k }}={{ v }};{% endfor %}",
     'a=1;b=2;c={"d": "3"};'),
    ("{{ secrets.s.obj.keys() | join(',') }}|{{ secrets.s.obj.values() | first }}", "b,a,c|2"),
    ("{{ 'a' in secrets.s.obj }}|{{ 'z' in secrets.s.obj }}", "True|False"),
    ("{{ secrets.s.obj | length }}|{{ secrets.s.obj is mapping }}|"
     "{{ secrets.s.x is mapping }}", "3|True|False"),
    ("{% for k, v in secrets.s.obj | dictsort %}{% if v is mapping %}{{ v.d }}{% endif %}"
     "{% endfor %}", "3"),
    ("{{ secrets.s.app['items'] }}|{{ secrets.s.app.items }}", "own-items-key|own-items-key"),
    ("{% for item in secrets.s.arr %}{{ item }};{% endfor %}{{ secrets.s.arr[1] }}",
     "first;second;second"),
    ("{{ secrets.s.obj }}", '{"b": "2", "a": "1", "c": {"d": "3"}}'),
    ("{{ secrets.s.obj | json }}", json.dumps('{"b": "2", "a": "1", "c": {"d": "3"}}')),
])
def test_json_secrets_are_mappings(stores: SecretStores, source: str, expected: str) -> None:
    assert stores.render_string(source) == expected


def test_a_plain_secret_is_still_a_string(stores: SecretStores) -> None:
    assert stores.render_string("{{ secrets.s.x | list | join('-') }}|{{ 'al' in secrets.s.x }}"
                                "|{{ secrets.s.x | length }}") == "r-e-a-l---x|True|6"


def test_items_of_a_secret_that_is_not_an_object(stores: SecretStores) -> None:
    found = problems(stores, "{% for k, v in secrets.s.x.items() %}{% endfor %}")
    assert found == ["t.j2:1: secrets.s.x: the secret is not a JSON object, so it has no "
                     "key 'items'"]


# -- dynamic templates: looked up when reached, still batched ----------------------------


def test_run_time_references_are_fetched_in_one_batch_per_store(make_stores, toy_file,
                                                                 tmp_path: Path) -> None:
    log = tmp_path / "reads.log"
    stores = make_stores({"defaultStores": False, "stores": [
        {"name": "t", "type": "toy",
         "configuration": {"path": toy_file({f"k{i}": f"v{i}" for i in range(6)}),
                           "log": str(log)}}]})
    source = ("{% for i in range(6) %}{{ secrets.t['k' ~ i] }},{% endfor %}"
              "{{ secrets.t['k' ~ 9] | default('none') }}")
    with count_fetch_calls(stores.plugins) as calls:
        assert stores.render_string(source) == "v0,v1,v2,v3,v4,v5,none"
    assert calls == [("t", [f"k{i}" for i in range(6)] + ["k9"])]
    with count_fetch_calls(stores.plugins) as calls:  # then from memory, nothing asked
        assert stores.render_string(source) == "v0,v1,v2,v3,v4,v5,none"
    assert calls == []
    assert sorted(log.read_text().split()) == sorted([f"k{i}" for i in range(6)] + ["k9"])


def test_a_value_that_decides_what_is_read_next(make_stores, toy_file) -> None:
    """The second render reaches references the probe could not see: they are read
    when reached, and the answer is right."""
    stores = make_stores({"defaultStores": False, "stores": [
        {"name": "t", "type": "toy",
         "configuration": {"path": toy_file({"pointer": "target", "target": "landed"})}}]})
    assert stores.render_string("{{ secrets.t[secrets.t.pointer] }}") == "landed"
    with record_events(stores.plugins) as recorder:
        assert stores.render_string("{{ secrets.t[secrets.t.pointer] }}") == "landed"
    assert recorder.calls == []


def test_references_lists_static_and_partial_references(stores: SecretStores) -> None:
    refs = stores.references("{{ secrets.s.x }}{{ secrets.s[name] }}"
                             "{% macro m(secrets) %}{{ secrets.s.hidden }}{% endmacro %}")
    assert [(r.store, r.key) for r in refs] == [("s", "x"), ("s", None)]


# -- what a hostile review of the above found -------------------------------------------


@pytest.mark.parametrize("source", [
    "{{ secrets | list | length }}",
    "{{ secrets.s | join }}",
    "{% for x in secrets %}{% endfor %}",
    "{{ 's' in secrets }}",
    "{{ secrets.s | length }}",
    "{{ secrets | pprint }}",
    "{{ [secrets.s] }}",
])
def test_a_store_or_the_namespace_cannot_be_iterated_or_listed(stores: SecretStores,
                                                              source: str) -> None:
    """Without this, Python iterated the namespace by asking for items 0, 1, 2... for ever."""
    assert "not a value" in problems(stores, source)[0]


@pytest.mark.parametrize("source", [
    "{% if secrets.toy.refused is defined %}on{% endif %}",
    "{% if secrets.down.x is defined %}on{% endif %}",
    "{% if secrets.toy.refused is not none %}on{% endif %}",
    "{% if secrets.toy.refused is string %}on{% endif %}",
    "{{ [secrets.toy.refused, 'a'] | select('defined') | list | length }}",
    "{{ secrets.toy.refused | pprint }}",
    "{{ [secrets.toy.refused] }}",
    "{% if secrets.s.nope is none %}on{% endif %}",
    "{% if secrets.s.nope is string %}on{% endif %}",
    "{{ [secrets.s.nope] }}",
    "{{ [undefined_name] }}",
])
def test_no_test_or_repr_hides_a_problem_value(stores: SecretStores, source: str) -> None:
    assert problems(stores, source)


def test_is_defined_still_tells_a_missing_secret(stores: SecretStores) -> None:
    assert stores.render_string("{{ secrets.s.nope is defined }}|{{ secrets.s.x is defined }}"
                                "|{{ [secrets.s.nope] | select('undefined') | list | length }}"
                                ) == "False|True|1"


@pytest.mark.parametrize("source, expected", [
    ("{{ secrets.s.obj | truncate(12) }}", '{"b":...'),
    ("{{ secrets.s.obj | wordwrap(10) }}", '{"b": "2",\n"a": "1",\n"c": {"d":\n"3"}}'),
    ("{{ secrets.s.obj | string | length }}", "37"),
    ("{{ secrets.s.obj | last }}", "c"),
    ("{{ secrets.s.obj[0] | default('d') }}", "d"),
    ("{{ secrets.s.arr | last }}|{{ secrets.s.arr | first }}", "second|first"),
    ("{{ secrets.s.arr | join('+') }}|{{ secrets.s.arr | length }}", "first+second|2"),
    ("{{ secrets.s.arr | reverse | join }}", "secondfirst"),
    ("{{ secrets.s.app | tojson }}", '{"items": "own-items-key", "nested": {"inner": '
     '{"deep": "bottom"}}, "password": "pw-1", "port": 5432, "user": "admin"}'),
    ("{{ secrets.s.x | truncate(4, leeway=0) }}|{{ secrets.s.x | last }}", "r...|x"),
])
def test_json_secrets_behave_in_string_and_sequence_filters(stores: SecretStores, source: str,
                                                           expected: str) -> None:
    assert stores.render_string(source) == expected


def test_a_deeply_nested_json_secret_does_not_break_error_reporting(stores: SecretStores) -> None:
    stores.put("s", "deep", "[" * 3000 + "]" * 3000)
    stores.invalidate()
    found = problems(stores, "{{ secrets.s.deep }}{{ nope }}\n"
                             "{{ secrets.s.missing }}{% if false %}{{ secrets.s.deep }}{% endif %}")
    assert found == ["t.j2:1: 'nope' is undefined",
                     "t.j2:2: secrets.s.missing: not found (no secret named 'missing')"]


def test_the_variables_references_compile_into_are_reserved(stores: SecretStores) -> None:
    from secretstores.templating.references import slot_variable

    variable = slot_variable("s", "x")
    for source in (f"{{% set {variable} = 'HIJACKED' %}}{{{{ secrets.s.x }}}}",
                   f"{{% for {variable} in ['HIJACKED'] %}}{{{{ secrets.s.x }}}}{{% endfor %}}",
                   f"{{{{ {variable} }}}}"):
        assert "are reserved" in problems(stores, source)[0]


def test_a_first_async_render_compiles_off_the_loop(stores: SecretStores) -> None:
    """Compiling works out each store's scope (identity hooks, key files): a template
    not compiled yet renders in a thread even when its values are all cached."""
    assert stores.render_string("{{ secrets.s.x }}") == "real-x"
    _, hops = _run_counting_thread_hops(
        lambda: stores.render_string_async("again: {{ secrets.s.x }}"))
    assert hops == 1
    text, hops = _run_counting_thread_hops(
        lambda: stores.render_string_async("again: {{ secrets.s.x }}"))
    assert (text, hops) == ("again: real-x", 0)
