"""Redaction: the forms a secret value takes in a message, and removing them.

One implementation for every message that may quote a value: template errors
(templating/state.py) and a provider's errors about a read or a write
(runtime/), so both hide the same forms.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "<redacted>"


def forms(text: str, *, json_leaves: bool = True) -> list[str]:
    """A value as messages might carry it: whole, transformed, and (``json_leaves``)
    each string and number of it when it is JSON. Credentials from a configuration
    are redacted without their JSON leaves: a service-account key's project and
    account names are not secret, and messages need them."""
    texts = [text]
    if json_leaves and text.lstrip()[:1] in ("{", "["):
        with contextlib.suppress(ValueError, RecursionError):
            texts += _leaves(json.loads(text))
    found: list[str] = []
    for item in texts:
        found += [item, item.upper(), item.lower(), quote(item, safe=""), quote_plus(item),
                  json.dumps(item)[1:-1], base64.b64encode(item.encode()).decode()]
    return found


def _leaves(value: Any) -> list[str]:
    """Every string and number inside a parsed JSON value (without recursion)."""
    leaves: list[str] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            leaves.append(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, int | float) and not isinstance(item, bool):
            leaves.append(str(item) if not isinstance(item, int) or item.bit_length() < 4000
                          else "")
    return leaves


def redact_forms(text: str, values: Iterable[str]) -> str:
    """``text`` with every form of every value (3 characters or more) replaced."""
    every = {form for value in values for form in forms(value) if len(form) >= 3}
    for form in sorted(every, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return text
