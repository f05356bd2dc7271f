"""Property-based attacks on every input a user controls: configurations (as data and
as files), templates and identifiers. Whatever hypothesis makes, the answer is a
result or one of the project's own errors, never another exception.

The examples are derandomized (the same in every run, so CI is repeatable) and
bounded in number; each template renders under small limits, so the whole module
stays within a few seconds of CPU per test. Run with ``--hypothesis-seed=N`` and
``-p no:randomly`` to explore other examples locally.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretstores import SecretStoresError, TemplateLimits
from secretstores.api import SecretStores

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
SMALL = TemplateLimits(max_output=20_000, max_string=20_000, max_integer_bits=4_096,
                       cpu_seconds=0.2)

# -- configurations ---------------------------------------------------------------------

FIELDS = ["name", "type", "configuration", "mappings", "secretIdentifier", "stores",
          "cache", "ttl", "cacheTtl", "staleIfError", "timeout", "deadline", "retries",
          "concurrency", "readOnly", "allowDirectAccess", "defaultStores", "url", "table",
          "keyFile", "directory", "enabled", "address", "token", "db", "env", "local",
          "toy", "path", "prefix", "negativeTtl", "refreshAhead", "memoryEntries", ""]
numbers = st.one_of(st.integers(), st.integers(min_value=10**300, max_value=10**400),
                    st.floats(allow_nan=True, allow_infinity=True))
leaves = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=20),
                   st.sampled_from(["db", "env", "toy", "hashicorp_vault", "x.y", "_a", "for"]))
keys = st.one_of(st.sampled_from(FIELDS), st.text(max_size=8))
documents = st.recursive(
    leaves,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(keys, children, max_size=6)),
    max_leaves=30)
store_definitions = st.fixed_dictionaries(
    {"name": st.one_of(st.sampled_from(["s", "local", "a-b", "x y", "9", "for"]),
                       st.text(max_size=6)),
     "type": st.sampled_from(["db", "env", "toy", "nope", ""])},
    optional={"configuration": documents, "mappings": documents, "cacheTtl": numbers,
              "readOnly": leaves, "allowDirectAccess": leaves, "retries": numbers,
              "timeout": numbers, "deadline": numbers, "concurrency": numbers})
configurations = st.one_of(
    documents,
    st.fixed_dictionaries({"stores": st.lists(store_definitions, max_size=3)},
                          optional={"cache": documents, "defaultStores": leaves}))


@FUZZ
@given(configurations)
def test_any_configuration_is_loaded_or_refused_clearly(data: Any) -> None:
    try:
        stores = SecretStores.from_dict(data)
    except SecretStoresError as exc:
        assert str(exc)
    else:
        stores.close()


@FUZZ
@given(st.one_of(st.binary(max_size=200),
                 configurations.map(lambda d: json.dumps(d, allow_nan=True).encode()),
                 st.builds(lambda depth: b"[" * depth + b"]" * depth,
                           st.integers(min_value=0, max_value=200_000))),
       st.sampled_from(["c.json", "c.toml"]))
def test_any_configuration_file_is_loaded_or_refused_clearly(tmp_path: Path, content: bytes,
                                                             name: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    try:
        stores = SecretStores.from_file(path)
    except SecretStoresError as exc:
        assert str(exc)
    else:
        stores.close()


# -- templates and identifiers ----------------------------------------------------------

PIECES = ["{{ ", " }}", "{% ", " %}", "{# ", " #}", "secrets", ".", "s", "k", "obj", "pw",
          "[", "]", ".[", "a/b", "(", ")", "'", '"', "|", " upper", " default('d')",
          " tojson", " length", " b64decode", " json", " shell", " dotenv", "**", "*", "~",
          "+", "9", "99", "for x in ", "range(9)", "endfor", "if ", "endif", "set ",
          "= ", "macro m(secrets)", "endmacro", "m(secrets)", "raw", "endraw", "x", ",",
          "{}", "[]", "1/0", " is defined", "namespace()", "lipsum", "\n", "\r", "\x00",
          "loop.index", "'%s' % ", ".format(", "__class__", "mro()", "secrets[x]"]
templates = st.one_of(st.lists(st.sampled_from(PIECES), max_size=24).map("".join),
                      st.text(max_size=60))


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Any:
    directory = tmp_path_factory.mktemp("fuzz")
    # module-scoped: the cache is off so that nothing is written outside tmp_path
    made = SecretStores.from_dict({"defaultStores": False, "cache": {"enabled": False},
                                   "stores": [
        {"name": "s", "type": "db", "readOnly": False,
         "configuration": {"url": f"sqlite:///{directory}/s.db"}}]}, limits=SMALL)
    made.put("s", "k", "fuzz-canary-value")
    made.put("s", "obj", json.dumps({"pw": "fuzz-inner-canary", "n": [1, 2]}))
    made.put("s", "a/b", "fuzz-path-canary")
    yield made
    made.close()


@FUZZ
@given(templates)
def test_any_template_renders_or_fails_clearly(stores: SecretStores, source: str) -> None:
    try:
        out = stores.render_string(source, name="t.j2", context={"x": "k"})
    except SecretStoresError as exc:
        text = str(exc)
        assert text.startswith("t.j2") or "t.j2" in text
        for canary in ("fuzz-canary-value", "fuzz-inner-canary", "fuzz-path-canary"):
            assert canary not in text
    else:
        assert isinstance(out, str) and len(out) <= SMALL.max_output
    with contextlib.suppress(SecretStoresError):
        assert isinstance(stores.references(source), list)


@FUZZ
@given(st.text(max_size=40))
def test_any_identifier_is_answered(stores: SecretStores, identifier: str) -> None:
    result = stores.fetch("s", [identifier])
    assert set(result) == {identifier}
    try:
        out = stores.render_string("{{ secrets.s[x] | default('none') }}", name="t.j2",
                                   context={"x": identifier})
    except SecretStoresError as exc:
        assert "t.j2:1" in str(exc)
    else:
        assert out in {"none", "fuzz-canary-value", "fuzz-path-canary"} or identifier == "obj"
