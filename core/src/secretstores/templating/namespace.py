"""The ``secrets`` object templates see, and the secret values it hands out.

``secrets.STORE`` is a :class:`StoreNamespace`; ``secrets.STORE.KEY`` is a
:class:`SecretText` (a ``str`` whose repr hides the value) or, when the store
has no such secret, a :class:`MissingSecret` (an undefined value, so
``| default(...)`` and ``is defined`` work). A JSON object secret is drilled
into with ``.key`` or ``["key"]``. Denied and unreachable secrets raise at once:
``default`` never hides them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from jinja2 import StrictUndefined

from secretstores.errors import (
    AccessDeniedError,
    SecretLookupError,
    SecretNotFoundError,
    StoreUnavailableError,
    UnknownReferenceError,
    UnknownStoreError,
)
from secretstores.model import FetchResult, Status, StoreSpec

#: Finds one secret: (store spec, identifier) -> result.
Resolver = Callable[[StoreSpec, str], FetchResult]


class SecretText(str):
    """A secret's value: a ``str`` that hides itself in reprs and drills into JSON."""

    _label: str
    _parsed: Any

    def __new__(cls, value: str, label: str) -> SecretText:
        obj = super().__new__(cls, value)
        obj._label = label
        return obj

    def __repr__(self) -> str:
        return f"<secret {self._label}>"

    def __getitem__(self, key: Any) -> Any:
        if not isinstance(key, str):
            return str.__getitem__(self, key)
        try:
            parsed = self._parsed
        except AttributeError:
            try:
                parsed = json.loads(self)
            except ValueError:
                parsed = None
            self._parsed = parsed
        label = f"{self._label}.{key}" if key.isidentifier() else f"{self._label}[{key!r}]"
        if not isinstance(parsed, dict):
            raise SecretLookupError(
                f"{label}: cannot drill into '{key}': the secret is not a JSON object",
                reference=label,
            )
        if key not in parsed:
            return MissingSecret(hint=f"{label}: the secret has no key '{key}'", name=label)
        value = parsed[key]
        text = value if isinstance(value, str) else json.dumps(value)
        return SecretText(text, label)


def caller_template_line() -> int | None:
    """The line of the template whose code is running further up this thread's stack."""
    frame = sys._getframe(1)
    while frame is not None:
        template = frame.f_globals.get("__jinja_template__")
        if template is not None:
            return int(template.get_corresponding_lineno(frame.f_lineno))
        frame = frame.f_back  # type: ignore[assignment]
    return None


class MissingSecret(StrictUndefined):
    """A secret that does not exist: undefined, so ``| default(...)`` can replace it.

    Given a ``problems`` list, writing it out records ``(line, message)`` there
    and renders nothing, so one render reports every missing secret at once;
    any other use raises :class:`SecretNotFoundError` at once.
    """

    __slots__ = ("_problems",)

    def __init__(self, hint: str | None = None, name: str | None = None,
                 problems: list[tuple[int | None, str]] | None = None) -> None:
        super().__init__(hint=hint, name=name)
        self._problems = problems

    def __str__(self) -> str:  # type: ignore[override]
        if self._problems is None:
            return self._fail_with_undefined_error()  # type: ignore[no-any-return]
        self._problems.append((caller_template_line(), self._undefined_hint or "not found"))
        return ""

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> Any:
        raise SecretNotFoundError(self._undefined_hint or "secret not found",
                                  reference=self._undefined_name)

    # StrictUndefined binds these to its own method at class creation: rebind.
    __iter__ = __len__ = __bool__ = __eq__ = __ne__ = __hash__ = (  # type: ignore[assignment]
        __contains__
    ) = _fail_with_undefined_error


class StoreNamespace:
    """``secrets.STORE``: resolves mapping names and raw identifiers in one store."""

    __slots__ = ("_resolve", "_spec")

    def __init__(self, spec: StoreSpec, resolve: Resolver) -> None:
        self._spec = spec
        self._resolve = resolve

    def __repr__(self) -> str:
        return f"<secret store {self._spec.name}>"

    def __getitem__(self, key: Any) -> Any:
        spec = self._spec
        if not isinstance(key, str):
            raise UnknownReferenceError(
                f"secret references must be strings, got {type(key).__name__}", store=spec.name
            )
        label = f"secrets.{spec.name}.{key}" if key.isidentifier() else \
            f"secrets.{spec.name}.[{key}]"
        identifier = spec.resolve(key)
        if identifier is None:
            raise UnknownReferenceError(
                f"{label}: '{key}' is not a mapping of this store and direct access is off "
                f"(allowDirectAccess: false)", store=spec.name, reference=key)
        result = self._resolve(spec, identifier)
        if result.status is Status.FOUND:
            return SecretText(result.value or "", label)
        if result.status is Status.NOT_FOUND:
            return MissingSecret(hint=f"{label}: not found ({result.message})", name=label)
        error = AccessDeniedError if result.status is Status.DENIED else StoreUnavailableError
        if error is StoreUnavailableError:
            raise StoreUnavailableError(f"{label}: {result.message}", store=spec.name)
        raise AccessDeniedError(f"{label}: {result.message}", store=spec.name, reference=key)

    __getattr__ = __getitem__


class SecretsNamespace:
    """The global ``secrets``: one :class:`StoreNamespace` per configured store."""

    __slots__ = ("_resolve", "_stores")

    def __init__(self, stores: dict[str, StoreSpec], resolve: Resolver) -> None:
        self._stores = stores
        self._resolve = resolve

    def __repr__(self) -> str:
        return "<secrets>"

    def __getitem__(self, name: Any) -> StoreNamespace:
        spec = self._stores.get(name) if isinstance(name, str) else None
        if spec is None:
            known = ", ".join(sorted(self._stores)) or "none"
            raise UnknownStoreError(
                f"secrets.{name}: unknown store '{name}' (configured stores: {known})",
                reference=str(name))
        return StoreNamespace(spec, self._resolve)

    __getattr__ = __getitem__
