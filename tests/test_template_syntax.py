"""The ``.[raw-identifier]`` rewrite follows Jinja2's lexing: tags only, never text, comments,
raw blocks or string literals; balanced brackets; lines kept."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secretstores import TemplateError
from secretstores.api import SecretStores
from secretstores.templating.syntax import rewrite_raw_identifiers


@pytest.fixture
def stores(make_stores, tmp_path: Path) -> SecretStores:
    made = make_stores({"defaultStores": False, "stores": [
        {"name": "s", "type": "db", "readOnly": False,
         "configuration": {"url": f"sqlite:///{tmp_path}/s.db"}}]})
    made.put("s", "a/b", "slash")
    made.put("s", "it's \"q\"", "quotes")
    return made


@pytest.mark.parametrize("source, expected", [
    # raw blocks, comments and text are left exactly as written
    ("{% raw %}{{ secrets.s.[a/b] }}{% endraw %}", "{{ secrets.s.[a/b] }}"),
    ("{%- raw -%} .[a/b] {%- endraw %}|{{ secrets.s.[a/b] }}", ".[a/b]|slash"),
    ("{# secrets.s.[a/b] #}{{ secrets.s.[a/b] }}", "slash"),
    ("x.[a/b] {{ secrets.s.[a/b] }}", "x.[a/b] slash"),
    # a string literal holding the end of the tag, or a .[
    ('{{ "}}" ~ secrets.s.[a/b] }}', "}}slash"),
    ("{{ '.[a/b]' ~ secrets.s.[a/b] }}", ".[a/b]slash"),
    ('{{ "it\\"s }} .[x]" ~ secrets.s.[a/b] }}', 'it"s }} .[x]slash'),
    # braces balanced as Jinja2 balances them: the tag ends at the right }}
    ('{{ {"k": secrets.s.[a/b]}["k"] }}', "slash"),
    ("{{ {'k': {'j': secrets.s.[a/b]}}['k']['j']}}", "slash"),
    # blanks between the dot and the bracket, one or many .[ in a tag
    ("{{ secrets.s.  [a/b] }}", "slash"),
    ("{{ secrets.s.\t[ a/b ] }}", "slash"),
    ("{{ secrets.s.[a/b] ~ secrets.s . [a/b] }}", "slashslash"),
    # quotes inside the raw text are taken literally
    ("{{ secrets.s.[it's \"q\"] }}", "quotes"),
    # statement tags, with whitespace control
    ("{%- if secrets.s.[a/b] == 'slash' -%} yes {%- endif %}", "yes"),
    ("{% set v = secrets.s.[a/b] %}{{ v }}", "slash"),
])
def test_raw_identifiers_only_where_jinja_reads_expressions(stores: SecretStores, source: str,
                                                           expected: str) -> None:
    assert stores.render_string(source) == expected


def test_lines_are_kept_for_error_messages(stores: SecretStores) -> None:
    source = ("{{ secrets.s.[a/b] }}\n{# .[c] #}\n{% raw %}\n.[d]\n{% endraw %}\n"
              "{{ secrets.s.[nope/x] }}")
    with pytest.raises(TemplateError) as info:
        stores.render_string(source, name="t.j2")
    assert info.value.problems[0].startswith("t.j2:6: secrets.s.[nope/x]: not found")


@pytest.mark.parametrize("source, line, fragment", [
    ("ok\n{{ secrets.s.[a/b }}", 2, "not closed by ']'"),
    ("{{ secrets.s.[a/b\n] }}", 1, "not closed by ']'"),
    ("\n\n{{ secrets.s.[  ] }}", 3, "holds no raw identifier"),
])
def test_a_broken_raw_identifier_names_its_line(stores: SecretStores, source: str, line: int,
                                               fragment: str) -> None:
    with pytest.raises(TemplateError) as info:
        stores.render_string(source, name="t.j2")
    [problem] = info.value.problems
    assert problem.startswith(f"t.j2:{line}: syntax error: ")
    assert fragment in problem


# Text outside tags, comments and raw blocks is never touched; inside tags only .[...]
# changes; and the rewrite never adds or removes a line.
_pieces = st.sampled_from([
    "text ", ".[a/b]", ". [x]", "{{ v.[k] }}", "{{ '.[s]' }}", '{{ "}}" }}', "{# .[c] #}",
    "{% raw %}.[r]{% endraw %}", "\n", "{{ {'a': 1}['a'] }}", "{% if x.[y] %}", "]", "[",
    "{{ x }}", "}}", "{%", "#}", "'", '"',
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_pieces, max_size=12))
def test_rewrite_keeps_lines_and_text(parts: list[str]) -> None:
    source = "".join(parts)
    try:
        rewritten = rewrite_raw_identifiers(source)
    except jinja2.TemplateSyntaxError:
        return  # an unterminated .[ is refused, with its line
    assert rewritten.count("\n") == source.count("\n")
    if ".[" not in source and ". [" not in source:
        assert rewritten == source


def test_rewritten_text_parses_as_jinja_reads_it() -> None:
    env = jinja2.Environment()
    source = "a.[b] {{ x.[k/1] ~ '.[no]' }} {# .[c] #} {% raw %}.[d]{% endraw %}"
    rewritten = rewrite_raw_identifiers(source)
    assert rewritten == "a.[b] {{ x[\"k/1\"] ~ '.[no]' }} {# .[c] #} {% raw %}.[d]{% endraw %}"
    assert env.from_string(rewritten).render(x={"k/1": "v"}) == "a.[b] v.[no]  .[d]"


def test_a_carriage_return_ends_a_raw_identifier_as_jinja_ends_a_line(
        stores: SecretStores) -> None:
    with pytest.raises(TemplateError, match="not closed by"):
        stores.render_string("{{ secrets.s.[a\rb] }}")
    with pytest.raises(TemplateError, match="before the tag ends with '}}'"):
        stores.render_string("{{ secrets.s.[a}}b] }}")
