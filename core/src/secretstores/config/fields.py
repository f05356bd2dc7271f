"""Helpers for provider configuration classes, and the validator that lists all problems.

A provider's ``config_class`` is an attrs class whose fields carry the JSON
field name as ``alias``::

    @attrs.frozen
    class VaultConfig:
        address: str = required_field("address")
        token: str | None = optional_field("token", secret=True)
        mount_path: str = optional_field("mountPath", default="secret")

Fields marked ``secret`` are kept out of reprs and out of error messages.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs

_SECRET = "secretstores_secret"
_Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]
_Kind = type | tuple[type, ...]

_KIND_NAMES = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
               list: "an array", dict: "an object"}


def _expected(kind: _Kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)


def _matches(value: Any, kind: _Kind) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    for k in kinds:
        if k is float:
            if is_finite_number(value):
                return True
        elif k is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return True
        elif k is list:
            if isinstance(value, list | tuple):
                return True
        elif isinstance(value, k):
            return True
    return False


class _BuiltinCheckError(ValueError):
    """A failed built-in check: its message never holds the value."""


def _checker(kind: _Kind, *, required: bool, extra: _Validator | None) -> _Validator:
    """The built-in check of a field's type (and non-emptiness), then ``extra``."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None and not required:
            return
        if not _matches(value, kind):
            raise _BuiltinCheckError(f"expected {_expected(kind)}, got {kind_of(value)}")
        if required and isinstance(value, str) and not value.strip():
            raise _BuiltinCheckError("must not be empty")
        if extra is not None:
            extra(instance, attribute, value)

    return check


def required_field(
    alias: str, *, type: _Kind = str, secret: bool = False,
    validator: _Validator | None = None,
) -> Any:
    """A required field named ``alias`` in JSON.

    :param type: the JSON type expected: ``str`` (the default), ``int``, ``float``
        (any finite number), ``bool``, ``list``, ``dict``, or a tuple of them. A
        required string must not be empty.
    :param secret: the value is a credential: kept out of reprs and messages.
    :param validator: an attrs-style validator ``(instance, attribute, value)``
        run after the type check; raise ``ValueError`` or ``TypeError`` with a
        message that never quotes a secret value.
    """
    return attrs.field(
        alias=alias,
        validator=_checker(type, required=True, extra=validator),
        repr=not secret,
        metadata={_SECRET: secret},
    )


def optional_field(
    alias: str,
    *,
    type: _Kind = str,
    default: Any = None,
    secret: bool = False,
    validator: _Validator | None = None,
) -> Any:
    """An optional field named ``alias`` in JSON; ``null`` and absence mean ``default``.

    ``type``, ``secret`` and ``validator`` as for :func:`required_field`; the
    type check always runs, with or without a validator.
    """
    return attrs.field(
        alias=alias,
        default=default,
        validator=_checker(type, required=False, extra=validator),
        repr=not secret,
        metadata={_SECRET: secret},
    )


def is_secret(attribute: attrs.Attribute[Any]) -> bool:
    """Whether a configuration field holds a credential (kept out of messages)."""
    return bool(attribute.metadata.get(_SECRET, False))


def structure(cls: type, data: Any, where: str) -> tuple[Any | None, list[str]]:
    """Build ``cls`` from the JSON object ``data``, collecting every problem.

    :return: the instance (or None when there were problems) and the problems,
        each starting with ``where`` (e.g. ``store 'vault': configuration``).
    """
    if not isinstance(data, Mapping):
        return None, [f"{where}: expected an object, got {kind_of(data)}"]
    problems: list[str] = []
    fields = attrs.fields(cls)
    known = {f.alias: f for f in fields}
    meant = unknown_fields(data, list(known), where, problems)
    kwargs: dict[str, Any] = {}
    for field in fields:
        alias = field.alias
        assert alias is not None
        if alias not in data:
            if field.default is attrs.NOTHING and alias not in meant:
                problems.append(f"{where}: missing required field '{alias}'")
            continue
        value = data[alias]
        if value is None and field.default is not attrs.NOTHING:
            continue  # null: the default
        if field.validator is not None:
            try:
                field.validator(None, field, value)
            except (TypeError, ValueError) as exc:
                problems.append(f"{where}.{alias}: {_describe(exc, field, value)}")
                continue
        kwargs[alias] = value
    if problems:
        return None, problems
    try:
        return cls(**kwargs), []
    except (TypeError, ValueError) as exc:
        return None, [f"{where}: {exc}"]


def unknown_fields(data: Mapping[str, Any], known: list[str], where: str,
                   problems: list[str]) -> set[str]:
    """Report each key of ``data`` that is not in ``known``, with the closest known
    name when one is close; return the known names so suggested.

    A misspelled field is one problem: the caller does not also report the field it
    stands for as missing (``adress`` is not followed by "missing 'address'").
    """
    from secretstores.config.suggest import closest

    meant: set[str] = set()
    for key in data:
        if key in known:
            continue
        match = closest(str(key), [k for k in known if k not in data]) \
            if isinstance(key, str) else None
        if match is not None:
            meant.add(match)
            problems.append(f"{where}: unknown field '{key}' (did you mean '{match}'?)")
        else:
            expected = ", ".join(known) or "no fields"
            problems.append(f"{where}: unknown field '{key}' (expected one of: {expected})")
    return meant


def _describe(exc: Exception, field: attrs.Attribute[Any], value: Any) -> str:
    message = str(exc)
    if isinstance(exc, _BuiltinCheckError):
        return message
    if is_secret(field) or message.startswith("'"):
        # attrs' own validators quote the value in their message: never show it.
        if isinstance(exc, TypeError):
            return f"has the wrong type ({type(value).__name__})"
        return "has an invalid value"
    return message


#: Integers longer than this are refused before anything converts them (Python
#: refuses to turn an integer of more than 4300 digits into text, and to turn one
#: much above 10**308 into a float).
_MAX_DIGITS = 300


def is_finite_number(value: Any) -> bool:
    """Whether ``value`` is a JSON number a float can hold (not a boolean, NaN or
    infinite, and not an integer too large to convert)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value.bit_length() <= _MAX_DIGITS * 4
    return isinstance(value, float) and math.isfinite(value)


def shown_number(value: Any) -> str:
    """`` 12.5`` for a number worth quoting in a message, else nothing (a huge integer's
    digits help no one and cannot always be printed)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    if isinstance(value, int) and value.bit_length() > 64:
        return f" of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    return f" {value!r}"


def kind_of(value: Any) -> str:
    """How a JSON value is named in messages ("a string", "an array", ...)."""
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)

