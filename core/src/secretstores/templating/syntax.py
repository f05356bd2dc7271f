"""The seed's raw-identifier syntax, ``secrets.STORE.[raw-identifier]``.

``.[...]`` is not Jinja2 syntax, so template source is rewritten before
parsing: ``.[text]`` becomes ``["text"]``. The rewrite follows Jinja2's own
lexing rules, so it happens only where Jinja2 reads expressions: inside
``{{ }}`` and ``{% %}`` tags, outside string literals, never in template text,
``{# comments #}`` or ``{% raw %}`` blocks. A tag ends where Jinja2 ends it (its
closing delimiter counts only when brackets are balanced, so ``{{ {"a": 1}}}``
and ``{{ "}}" ~ x }}`` are read as Jinja2 reads them).

The text inside the brackets is taken literally up to the first ``]`` on the
same line (it may hold ``:``, ``/``, ``@``, ``.``, ``-``, ``?``, ``=``, quotes);
surrounding spaces are dropped, and spaces between the dot and the bracket are
allowed. Lines are never added or removed, so error line numbers stay right.
"""

from __future__ import annotations

import re

from jinja2 import TemplateSyntaxError

#: Anything that may hold a raw identifier: a dot, optional blanks, a bracket.
_MAYBE = re.compile(r"\.[ \t]*\[")
#: Where Jinja2's lexer leaves template text: a raw block, an expression, a
#: statement, a comment (a raw block first: at one position it wins, as in Jinja2).
_OPEN = re.compile(r"(?P<raw>\{%[-+]?\s*raw\s*-?%\})|(?P<var>\{\{)|(?P<block>\{%)|(?P<comment>\{#)")
_RAW_END = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}")
_COMMENT_END = "#}"
_STRING = re.compile(r"""'([^'\\]*(?:\\.[^'\\]*)*)'|"([^"\\]*(?:\\.[^"\\]*)*)\"""", re.DOTALL)
_RAW_IDENTIFIER = re.compile(r"\.[ \t]*\[([^\]\n\r]*)\]")
_CLOSE = {")": "(", "]": "[", "}": "{"}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _line(source: str, position: int) -> int:
    return source.count("\n", 0, position) + 1


def _rewrite_tag(source: str, start: int, end_delimiter: str, out: list[str],
                 name: str | None) -> int:
    """Copy one tag's inside from ``start`` into ``out``, rewriting ``.[raw]``; return
    where the tag ends (after its delimiter), or the end of the source."""
    stack: list[str] = []
    copied = position = start
    length = len(source)
    while position < length:
        char = source[position]
        if char in "'\"":
            match = _STRING.match(source, position)
            position = match.end() if match else position + 1
            continue
        if not stack and source.startswith(end_delimiter, position):
            out.append(source[copied:position])
            return position
        if char in "([{":
            stack.append(char)
        elif char in _CLOSE:
            if stack and stack[-1] == _CLOSE[char]:
                stack.pop()
        elif char == "." and _MAYBE.match(source, position):
            match = _RAW_IDENTIFIER.match(source, position)
            text = match.group(1) if match else None
            if text is None:
                raise TemplateSyntaxError(
                    "'.[' starts a raw identifier that is not closed by ']' on the same line",
                    _line(source, position), name)
            if end_delimiter in text:
                raise TemplateSyntaxError(
                    f"'.[' starts a raw identifier that is not closed by ']' before the tag "
                    f"ends with '{end_delimiter}'", _line(source, position), name)
            if not text.strip():
                raise TemplateSyntaxError("'.[]' holds no raw identifier",
                                          _line(source, position), name)
            assert match is not None
            out.append(source[copied:position])
            out.append("[" + _quote(text.strip()) + "]")
            position = copied = match.end()
            continue
        position += 1
    out.append(source[copied:])
    return length


def rewrite_raw_identifiers(source: str, name: str | None = None) -> str:
    """Return ``source`` with every ``.[raw]`` inside a tag turned into ``["raw"]``.

    Raises :class:`jinja2.TemplateSyntaxError` (with the line) for a ``.[`` that
    is not closed on its line or holds nothing.
    """
    if not _MAYBE.search(source):
        return source
    out: list[str] = []
    position = 0
    while True:
        match = _OPEN.search(source, position)
        if match is None:
            break
        kind = match.lastgroup
        if kind == "raw":
            closing = _RAW_END.search(source, match.end())
            stop = closing.end() if closing else len(source)
            out.append(source[position:stop])
            position = stop
        elif kind == "comment":
            closing_at = source.find(_COMMENT_END, match.end())
            stop = closing_at + len(_COMMENT_END) if closing_at >= 0 else len(source)
            out.append(source[position:stop])
            position = stop
        else:
            out.append(source[position:match.end()])
            position = _rewrite_tag(source, match.end(), "}}" if kind == "var" else "%}",
                                    out, name)
        if position >= len(source):
            return "".join(out)
    out.append(source[position:])
    return "".join(out)
