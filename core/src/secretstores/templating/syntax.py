"""The seed's raw-identifier syntax, ``secrets.STORE.[raw-identifier]``.

``.[...]`` is not Jinja2 syntax, so template source is rewritten before
parsing: inside ``{{ }}`` and ``{% %}`` tags, ``.[text]`` becomes
``["text"]``. Text inside the brackets is taken literally (it may hold ``:``,
``/``, ``@``, ``.``, ``-``, ``?``, ``=``); lines are never added or removed, so
error line numbers stay right.
"""

from __future__ import annotations

import re

_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
# a string literal (left alone) or a ``.[raw]`` (rewritten)
_RAW = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|\.\s*\[([^\[\]'"\n]+)\]""",
                  re.DOTALL)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rewrite_raw(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return match.group(1)
    return "[" + _quote(match.group(2).strip()) + "]"


def _rewrite_tag(match: re.Match[str]) -> str:
    return _RAW.sub(_rewrite_raw, match.group(0))


def rewrite_raw_identifiers(source: str) -> str:
    """Return ``source`` with every ``.[raw]`` inside a tag turned into ``["raw"]``."""
    if ".[" not in source and ". [" not in source:
        return source
    return _TAG.sub(_rewrite_tag, source)
