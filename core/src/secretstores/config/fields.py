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

from collections.abc import Callable, Mapping
from typing import Any

import attrs

_SECRET = "secretstores_secret"
_Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _is_str(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")


def _is_optional_str(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _is_str(instance, attribute, value)


def required_field(
    alias: str, *, secret: bool = False, validator: _Validator | None = None
) -> Any:
    """A required string field named ``alias`` in JSON."""
    validators: list[_Validator] = [_is_str]
    if validator is not None:
        validators.append(validator)
    return attrs.field(
        alias=alias,
        validator=validators,
        repr=not secret,
        metadata={_SECRET: secret},
    )


def optional_field(
    alias: str,
    *,
    default: Any = None,
    secret: bool = False,
    validator: _Validator | None = None,
) -> Any:
    """An optional field named ``alias`` in JSON; a string unless ``validator`` says otherwise."""
    validators: list[_Validator] = [validator] if validator is not None else [_is_optional_str]
    return attrs.field(
        alias=alias,
        default=default,
        validator=validators,
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
    for key in data:
        if key not in known:
            expected = ", ".join(known) or "no fields"
            problems.append(f"{where}: unknown field '{key}' (expected one of: {expected})")
    kwargs: dict[str, Any] = {}
    for field in fields:
        alias = field.alias
        assert alias is not None
        if alias not in data:
            if field.default is attrs.NOTHING:
                problems.append(f"{where}: missing required field '{alias}'")
            continue
        value = data[alias]
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


def _describe(exc: Exception, field: attrs.Attribute[Any], value: Any) -> str:
    message = str(exc)
    if is_secret(field) or message.startswith("'"):
        # attrs' own validators quote the value in their message: never show it.
        if isinstance(exc, TypeError):
            return f"has the wrong type ({type(value).__name__})"
        return "has an invalid value"
    return message


def kind_of(value: Any) -> str:
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)

