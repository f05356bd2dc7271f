"""Escaping and encoding filters for the formats configurations are written in.

``json``
    a JSON string literal, quotes included: ``{"key": {{ secrets.s.k | json }}}``.
``yaml``
    a double-quoted YAML scalar: ``password: {{ secrets.s.k | yaml }}``.
``shell``
    one POSIX shell word: ``curl -H {{ ("Bearer " ~ secrets.s.k) | shell }}``.
``dotenv``
    a double-quoted dotenv value: ``TOKEN={{ secrets.s.k | dotenv }}``.
``b64encode`` / ``b64decode``
    standard Base64 of the value's UTF-8 bytes, and back.
``urlencode`` (Jinja2's own) covers URLs.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import shlex
from typing import Any

from secretstores.templating.state import fail


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


_DOTENV_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"}
_DOTENV_SPECIAL = re.compile(r'[\\"\n\r]')


def dotenv_filter(value: Any) -> str:
    """Quote ``value`` as a double-quoted dotenv value: backslash, double quote,
    newline and carriage return escaped, so it cannot end the value or the line."""
    return '"' + _DOTENV_SPECIAL.sub(lambda m: _DOTENV_ESCAPES[m.group()], _text(value)) + '"'


def b64encode_filter(value: Any) -> str:
    """Standard Base64 of the value's UTF-8 bytes."""
    return base64.b64encode(_text(value).encode("utf-8")).decode("ascii")


def b64decode_filter(value: Any) -> str:
    """Decode standard Base64 into UTF-8 text; a value that is not Base64 of UTF-8
    text is a template problem (the message never shows the value)."""
    try:
        return base64.b64decode(_text(value).encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return fail("b64decode: the value is not Base64 of UTF-8 text")  # type: ignore[no-any-return]


FILTERS = {
    "json": json_filter,
    "yaml": yaml_filter,
    "shell": shell_filter,
    "dotenv": dotenv_filter,
    "b64encode": b64encode_filter,
    "b64decode": b64decode_filter,
}

__all__ = ["FILTERS"]
