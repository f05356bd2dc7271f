"""Escaping filters for the formats configurations are written in.

``json``
    a JSON string literal, quotes included: ``{"key": {{ secrets.s.k | json }}}``.
``yaml``
    a double-quoted YAML scalar: ``password: {{ secrets.s.k | yaml }}``.
``shell``
    one POSIX shell word: ``curl -H {{ ("Bearer " ~ secrets.s.k) | shell }}``.
``urlencode`` (Jinja2's own) covers URLs.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any


def _text(value: Any) -> str:
    return str(value)


def json_filter(value: Any) -> str:
    """Quote ``value`` as a JSON string literal (non-strings are JSON-encoded as is)."""
    if isinstance(value, bool | int | float) or value is None:
        return json.dumps(value)
    return json.dumps(_text(value))


#: Characters YAML forbids unescaped (C1 controls, DEL, BOM, non-characters) or folds
#: into spaces inside a double-quoted scalar (NEL, LS, PS); JSON leaves them raw.
_YAML_ESCAPE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")


def yaml_filter(value: Any) -> str:
    """Quote ``value`` as a double-quoted YAML scalar (JSON strings are valid YAML)."""
    text = json.dumps(_text(value), ensure_ascii=False)
    return _YAML_ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def shell_filter(value: Any) -> str:
    """Quote ``value`` as a single POSIX shell word."""
    return shlex.quote(_text(value))


FILTERS = {
    "json": json_filter,
    "yaml": yaml_filter,
    "shell": shell_filter,
}

__all__ = ["FILTERS"]
