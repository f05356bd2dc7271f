"""The values templates handle: secrets, and the problems that stand in for them.

``secrets.STORE.KEY`` is one of:

:class:`SecretText`
    a found secret: a ``str`` whose repr hides it.
:class:`SecretMapping` / :class:`SecretList`
    a found secret whose text is a JSON object / array: a ``dict`` / ``list``
    (``.key``, ``["key"]``, iteration, ``.items()``, ``| dictsort``, ``in``,
    ``| length``) that prints as the secret's text; what is drilled out of it
    is a secret too.
:class:`MissingSecret`
    a secret or JSON key that does not exist: undefined, so ``| default(...)``
    and ``is defined`` work at any depth of drilling.
:class:`FailedSecret`
    a secret the render cannot have (denied, store unavailable, unknown store or
    mapping): defined, so ``default`` never hides it.

A problem value records its problem where the template uses it and prints as
nothing, so the render goes on and one error lists every problem; any other
use (a test, arithmetic, iteration, a repr) records it and stops the template.
A branch that never runs never fails. A secret printed through ``repr`` (inside a
list, or with ``| pprint``) shows as ``<secret ...>``, never its value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from jinja2 import StrictUndefined
from jinja2.exceptions import SecurityError
from jinja2.utils import missing

from secretstores.errors import SecretLookupError, SecretNotFoundError
from secretstores.templating import state as render_state
from secretstores.templating.state import COMPUTED, fail, note, part, shown


def _repr(label: str) -> str:
    """A secret's repr: a placeholder, never the value (Python puts reprs into its own
    error messages, so a repr is not a problem by itself)."""
    return f"<secret {label}>"


def secret_value(text: str, label: str) -> Any:
    """The template value of a found secret: a mapping or a list when the text is a
    JSON object or array, else :class:`SecretText`."""
    if text.startswith(("{", "[")) or (text[:1].isspace() and text.lstrip()[:1] in ("{", "[")):
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, dict):
            return SecretMapping(parsed, text, label)
        if isinstance(parsed, list):
            return SecretList(parsed, text, label)
    return SecretText(text, label)


def _child(label: str, key: Any, value: Any) -> Any:
    label += part(key)
    if isinstance(value, dict):
        return SecretMapping(value, json.dumps(value), label)
    if isinstance(value, list):
        return SecretList(value, json.dumps(value), label)
    return SecretText(value if isinstance(value, str) else json.dumps(value), label)


def secret_text(value: Any) -> str | None:
    """The text of a secret value (for redaction), or None for anything else."""
    if isinstance(value, SecretText):
        return str.__str__(value)
    if isinstance(value, SecretMapping | SecretList):
        return value._text
    return None


class SecretText(str):
    """A found secret's value: a ``str`` that hides itself in reprs."""

    _label: str

    def __new__(cls, value: str, label: str) -> SecretText:
        obj = super().__new__(cls, value)
        obj._label = label
        return obj

    def __repr__(self) -> str:
        return _repr(self._label)

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return MissingSecret(f"{self._label}: the secret is not a JSON object, so it has "
                                 f"no key {shown(key)}", name=self._label + part(key))
        return str.__getitem__(self, key)


class _JsonSecret:
    """What a found JSON container secret shares: it prints as the secret's text, as
    stored, and hides itself in reprs (the container class sets both attributes)."""

    __slots__ = ()
    _text: str
    _label: str

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return _repr(self._label)


class SecretMapping(_JsonSecret, dict[str, Any]):
    """A found secret that is a JSON object: a read-only mapping of secrets that
    prints as the secret's text and hides itself in reprs."""

    __slots__ = ("_label", "_text")

    def __init__(self, parsed: dict[str, Any], text: str, label: str) -> None:
        super().__init__(parsed)
        self._text = text
        self._label = label

    def raw(self) -> dict[str, Any]:
        """The parsed JSON object."""
        return dict(dict.items(self))

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str) and dict.__contains__(self, key):
            return _child(self._label, key, dict.__getitem__(self, key))
        return MissingSecret(f"{self._label}: the secret has no key {shown(key)}",
                             name=self._label + part(key))

    def get(self, key: Any, default: Any = None) -> Any:  # type: ignore[override]
        return self[key] if dict.__contains__(self, key) else default

    def items(self) -> list[tuple[str, Any]]:  # type: ignore[override]
        """``(key, value)`` pairs, the values secrets too."""
        return [(key, self[key]) for key in dict.keys(self)]

    def values(self) -> list[Any]:  # type: ignore[override]
        """The values, secrets too."""
        return [self[key] for key in dict.keys(self)]


class SecretList(_JsonSecret, list[Any]):
    """A found secret that is a JSON array: a read-only list of secrets that prints as
    the secret's text and hides itself in reprs."""

    __slots__ = ("_label", "_text")

    def __init__(self, parsed: list[Any], text: str, label: str) -> None:
        super().__init__(parsed)
        self._text = text
        self._label = label

    def raw(self) -> list[Any]:
        """The parsed JSON array."""
        return list(list.__iter__(self))

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, int) and not isinstance(key, bool):
            if -len(self) <= key < len(self):
                return _child(self._label, key, list.__getitem__(self, key))
            return MissingSecret(f"{self._label}: the array has no item {shown(key)}",
                                 name=self._label + part(key))
        if isinstance(key, slice):
            return [_child(self._label, i, item) for i, item in
                    zip(range(len(self))[key], list.__getitem__(self, key), strict=True)]
        return MissingSecret(f"{self._label}: the secret is a JSON array, so it has no key "
                             f"{shown(key)}", name=self._label + part(key))

    def _children(self) -> list[Any]:
        return [_child(self._label, i, item) for i, item in enumerate(list.__iter__(self))]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._children())

    def __reversed__(self) -> Iterator[Any]:
        return iter(self._children()[::-1])


#: Names that are a JSON object secret's methods when it has no key of that name.
MAPPING_METHODS = frozenset({"items", "keys", "values"})


def _safe_type(obj: Any) -> str:
    if isinstance(obj, SecretText | SecretMapping | SecretList):
        return "a secret value"
    if isinstance(obj, dict):
        return "a mapping"
    if isinstance(obj, list | tuple):
        return "a list"
    if isinstance(obj, str):
        return "a string"
    return f"a {type(obj).__name__} value"


class SafeUndefined(StrictUndefined):
    """An undefined value whose message names only what the template's source says.

    Printing it records the problem and prints nothing (so every undefined value
    of a render is listed together); any other use records it and stops.
    """

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        name, obj = self._undefined_name, self._undefined_obj
        if self._undefined_exception is SecurityError:
            return f"access to attribute {shown(name)} of {_safe_type(obj)} is unsafe " \
                   f"(refused by the sandbox)"
        if self._undefined_hint:  # Jinja's own hints hold only names from the source
            return self._undefined_hint
        if obj is missing:
            return f"{shown(name)} is undefined"
        what = "key" if isinstance(name, str) else "item"
        return f"{_safe_type(obj)} has no {what} {shown(name)}"

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> Any:
        return fail(self._undefined_message)

    def __str__(self) -> str:  # type: ignore[override]
        return note(self._undefined_message)

    def __repr__(self) -> str:
        if render_state.current() is not None:
            note(self._undefined_message)
        return "Undefined"

    # StrictUndefined binds these to its own method at class creation: rebind.
    __iter__ = __len__ = __bool__ = __eq__ = __ne__ = __hash__ = (  # type: ignore[assignment]
        __contains__
    ) = _fail_with_undefined_error
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = (  # type: ignore[assignment]
        __truediv__
    ) = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = (
        __pos__) = __neg__ = __call__ = __lt__ = __le__ = __gt__ = __ge__ = (
        __int__) = __float__ = __complex__ = __pow__ = __rpow__ = _fail_with_undefined_error


class MissingSecret(SafeUndefined):
    """A secret or JSON key that does not exist.

    Undefined, so ``| default(...)`` and ``is defined`` work; drilling into it
    gives another missing value, so ``default`` covers every depth.
    """

    __slots__ = ()

    def __init__(self, hint: str, name: str | None = None) -> None:
        super().__init__(hint=hint, name=name)

    @property
    def _undefined_message(self) -> str:
        return self._undefined_hint or "not found"

    def __getitem__(self, key: Any) -> MissingSecret:  # type: ignore[override]
        return MissingSecret(self._undefined_message, name=(self._undefined_name or "") +
                             part(key))

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> Any:
        return fail(self._undefined_message, SecretNotFoundError)

    def __str__(self) -> str:  # type: ignore[override]
        if render_state.current() is None:
            raise SecretNotFoundError(self._undefined_message, reference=self._undefined_name)
        return note(self._undefined_message)

    def __repr__(self) -> str:
        if render_state.current() is not None:
            note(self._undefined_message)
        return f"<missing secret {self._undefined_name or ''}>".replace(" >", ">")

    __iter__ = __len__ = __bool__ = __eq__ = __ne__ = __hash__ = (  # type: ignore[assignment]
        __contains__
    ) = _fail_with_undefined_error
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = (  # type: ignore[assignment]
        __truediv__
    ) = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = (
        __pos__) = __neg__ = __call__ = __lt__ = __le__ = __gt__ = __ge__ = (
        __int__) = __float__ = __complex__ = __pow__ = __rpow__ = _fail_with_undefined_error


class FailedSecret:
    """A secret the render cannot have: denied, unavailable, or a reference the
    configuration does not allow. Defined (``default`` does not hide it); printing
    it records the problem, any other use (tests included) records it and stops the
    template.

    ``reported`` says the problem was recorded before rendering (a static
    reference to an unknown store or mapping): uses then add nothing.
    """

    __slots__ = ("_error", "_message", "_reported")

    def __init__(self, message: str, *, reported: bool = False,
                 error: type[Exception] = SecretLookupError) -> None:
        self._message = message
        self._reported = reported
        self._error = error

    def __repr__(self) -> str:
        if render_state.current() is not None:
            self.__str__()
        return "<failed secret>"

    def __str__(self) -> str:
        if self._reported and render_state.current() is not None:
            return ""
        return note(self._message)

    def __getitem__(self, key: Any) -> FailedSecret:
        return self

    def fail(self, *args: Any, **kwargs: Any) -> Any:
        """Record the problem (unless recorded before) and stop the template."""
        state = render_state.current()
        if state is None:
            raise self._error(self._message)
        if not self._reported:
            state.report(self._message)
        raise render_state.ProblemReported(self._message)

    __iter__ = __len__ = __bool__ = __eq__ = __ne__ = __hash__ = __contains__ = fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = fail
    __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __pos__ = fail
    __neg__ = __call__ = __lt__ = __le__ = __gt__ = __ge__ = __int__ = __float__ = fail
    __complex__ = __pow__ = __rpow__ = __reversed__ = fail


class PendingSecret(str):
    """A value a first, probing render stands in for a run-time reference that is not
    cached yet (see :mod:`secretstores.templating.render`); never printed for real."""

    def __new__(cls) -> PendingSecret:
        return super().__new__(cls, "")

    def __getitem__(self, key: Any) -> PendingSecret:  # type: ignore[override]
        return self

    def __repr__(self) -> str:
        return f"<pending secret {COMPUTED}>"


#: Template values whose ``.name`` means "look up name", never a Python attribute.
LOOKUP_TYPES: tuple[type, ...] = (SecretText, SecretMapping, SecretList, MissingSecret,
                                  FailedSecret, PendingSecret)
