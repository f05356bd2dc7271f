"""Hostile templates get a clear refusal naming the line and the limit: numbers, strings,
lists, output, CPU time, nesting, and constant folding that would hang the compiler."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from secretstores import TemplateError, TemplateLimits
from secretstores.api import SecretStores
from secretstores.cli import main

SMALL = TemplateLimits(max_output=100_000, max_string=100_000, max_integer_bits=4096,
                       cpu_seconds=0.3)


@pytest.fixture
def stores(make_stores, tmp_path: Path) -> SecretStores:
    return make_stores({"defaultStores": False, "stores": [
        {"name": "s", "type": "db", "readOnly": False,
         "configuration": {"url": f"sqlite:///{tmp_path}/s.db"}}]}, limits=SMALL)


def refusal(stores: SecretStores, source: str) -> str:
    with pytest.raises(TemplateError) as info:
        stores.render_string(source, name="t.j2")
    [problem] = info.value.problems
    return problem


@pytest.mark.parametrize("source, fragment", [
    # numbers, including constants Jinja2 would fold at compile time
    ("{{ 9**(9**9) }}", "'**' would build an integer"),
    ("\n{% set e = 10**9 %}{{ 7**e > 1 }}", "'**' would build an integer"),
    ("{{ (2**3000) * (2**2000) }}", "'*' would build an integer"),
    ("{% set ns = namespace(n=2) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}"
     "{% endfor %}", "'*' would build an integer"),
    # repetition and concatenation
    ("{{ 'a' * 10**10 }}", "'*' would build 10000000000"),
    ("{{ [1] * 10**10 }}", "'*' would build 10000000000"),
    ("{% set ns = namespace(s='a') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
     "{% endfor %}", "'~' would build"),
    ("{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}"
     "{% endfor %}", "'+' would build"),
    # widths and counts of filters and string methods
    ("{{ 'x' | center(1000000000) }}", "center would build"),
    ("{{ 'x' | indent(1000000000) }}", "indent would build"),
    ("{{ 'x'.ljust(10**9) }}", "str.ljust() would build"),
    ("{{ 'x'.zfill(10**9) }}", "str.zfill() would build"),
    ("{{ ('a' * 90000) | replace('a', 'aaaa') }}", "replace would build"),
    ("{{ (range(90000) | map('string') | list) | join('-' * 100) }}", "join would build"),
    ("{{ lipsum(100000, max=100000) }}", "lipsum would build"),
    ("{{ [[1] * 90000, [1] * 90000] | sum(start=[]) }}", "sum would build"),
    # formatting
    ("{{ '{:>1000000000}'.format(1) }}", "a format width would build"),
    ("{{ '{0:{1}}'.format(1, 10**9) }}", "nested fields in format specifications"),
    ("{{ '%*d' % (10**9, 1) }}", "'*' width or precision is not allowed"),
    ("{{ '%1000000000d' % 1 }}", "'%' formatting would build"),
    ("{{ '%1000000000d' | format(1) }}", "'%' formatting would build"),
    # output and CPU time
    ("{% for i in range(100000) %}{% for j in range(100) %}xxxxxxxxxx{% endfor %}"
     "{% endfor %}", "the render wrote more than 100000 characters"),
    ("{% set r = range(100000) | list %}{% for i in r %}{% for j in r %}{% endfor %}"
     "{% endfor %}", "the render ran out of time (limit: 0.3 s of CPU)"),
    ("{% macro spin(n) %}{% for i in range(100000) %}{{ '' }}{% endfor %}{{ spin(n) }}"
     "{% endmacro %}{{ spin(0) }}", "the render ran out of time"),
    ("{% macro down(n) %}{{ down(n) }}{% endmacro %}{{ down(0) }}",
     "RecursionError: the template nests too deeply"),
    # the sandbox refuses changes to lists, dicts and sets
    ("{% set l = [] %}{{ l.append(1) }}", "access to attribute 'append' of a list is unsafe"),
    ("{% set d = {} %}{{ d.update(a=1) }}", "access to attribute 'update' of a mapping"),
])
def test_hostile_templates_are_refused(stores: SecretStores, source: str, fragment: str) -> None:
    problem = refusal(stores, source)
    assert fragment in problem
    line = source.count("\n") + 1
    assert problem.startswith((f"t.j2:{line}: ", "t.j2:?: "))


@pytest.mark.parametrize("source", [
    "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
    "{{ x" + " | upper" * 3000 + " }}",
    "{{ x" + ".y" * 3000 + " }}",
    "{{ " + "[" * 3000 + "]" * 3000 + " }}",
])
def test_deep_nesting_is_a_clear_error(stores: SecretStores, source: str) -> None:
    assert "nests too deeply" in refusal(stores, source)


def test_ordinary_arithmetic_and_strings_still_work(stores: SecretStores) -> None:
    assert stores.render_string(
        "{{ 2**100 }}|{{ 'ab' * 3 }}|{{ [1, 2] + [3] }}|{{ '%05d' % 42 }}|{{ '{:>4}'.format(7) }}"
        "|{% for i in range(3) %}{{ i ~ 'x' }}{% endfor %}|{{ 'a,b' | replace(',', ';') }}"
        "|{{ 7 // 2 }}|{{ 10 % 3 }}|{{ 'x' | center(5) }}|{{ lipsum(1, false, 1, 2) | length > 0 }}"
    ) == "1267650600228229401496703205376|ababab|[1, 2, 3]|00042|   7|0x1x2x|a;b|3|1|  x  |True"


def test_limits_are_the_host_applications_to_raise(make_stores, tmp_path: Path) -> None:
    roomy = make_stores({"defaultStores": False, "stores": []},
                        limits=TemplateLimits(max_integer_bits=100_000))
    assert len(roomy.render_string("{{ 2**50000 > 1 }}")) == 4
    default = make_stores({"defaultStores": False, "stores": []})
    with pytest.raises(TemplateError, match="limit: 16384"):
        default.render_string("{{ 2**50000 > 1 }}")


def test_the_cli_refuses_without_a_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["render", "-"], input="{{ 9**(9**9) }}")
    assert result.exit_code == 1
    assert result.stderr.startswith("secretstores: error: <stdin>:1: '**' would build")
    assert "Traceback" not in result.stderr
