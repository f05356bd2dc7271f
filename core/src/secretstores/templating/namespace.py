"""The ``secrets`` object templates see, for references resolved at run time.

Static references (``secrets.STORE.KEY`` written out) are compiled into plain
variables and fetched before rendering; this namespace serves the rest: keys
computed at run time (``secrets.aws[name]``) and a ``secrets`` passed around
(``{% set s = secrets %}``). Lookups give the values of
:mod:`secretstores.templating.values`; printing the namespace or a store is an
error that says what to write instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from secretstores.errors import StoreError
from secretstores.model import FetchResult, Status, StoreSpec
from secretstores.templating.state import current, fail, note, part, shown
from secretstores.templating.values import FailedSecret, MissingSecret, PendingSecret, secret_value

#: Finds one secret: (store spec, identifier) -> result, or None while a probing
#: render collects references to fetch together.
Resolver = Callable[[StoreSpec, str], FetchResult | None]


def problem_value(label: str, result: FetchResult, *, literal: bool, hint: str = "") -> Any:
    """The template value of a result other than "found".

    ``literal`` says the reference is written out in the template; otherwise the
    store's message (which names the identifier) is left out. ``hint`` is added to
    "not found" (a " (did you mean ...?)" naming the mapping a typo most likely meant).
    """
    detail = f" ({result.message})" if literal and result.message else ""
    if result.status is Status.NOT_FOUND:
        return MissingSecret(f"{label}: not found{detail}{hint}", name=label)
    what = "access denied" if result.status is Status.DENIED else "store unavailable"
    reason = f": {result.message}" if literal and result.message else ""
    return FailedSecret(f"{label}: {what}{reason}")


class StoreNamespace:
    """``secrets.STORE``: resolves mapping names and identifiers in one store."""

    __slots__ = ("_resolve", "_spec")

    def __init__(self, spec: StoreSpec, resolve: Resolver) -> None:
        self._spec = spec
        self._resolve = resolve

    def __repr__(self) -> str:
        if current() is not None:
            note(self._problem())
        return f"<secret store {self._spec.name}>"

    def _problem(self) -> str:
        name = self._spec.name
        return (f"secrets.{name} is a store, not a value: write secrets.{name}.NAME "
                f"or secrets.{name}.[identifier]")

    def __str__(self) -> str:
        return note(self._problem())

    def _refuse(self, *args: Any) -> Any:
        return fail(self._problem())

    # a store cannot be listed, measured or searched from a template (without these,
    # Python would iterate it by asking for items 0, 1, 2... for ever)
    __iter__ = __len__ = __contains__ = __reversed__ = _refuse

    def __getitem__(self, key: Any) -> Any:
        spec = self._spec
        label = f"secrets.{spec.name}{part(key)}"
        if not isinstance(key, str):
            return FailedSecret(f"{label}: secret references are strings, not "
                                f"{type(key).__name__}")
        identifier = spec.resolve(key)
        if identifier is None:
            return FailedSecret(f"{label}: {shown(key)} is not a mapping of store "
                                f"'{spec.name}' and direct access is off "
                                f"(allowDirectAccess: false)")
        try:
            result = self._resolve(spec, identifier)
        except StoreError as exc:
            literal = shown(key) != "<computed>"
            return FailedSecret(f"{label}: store unavailable"
                                + (f": {exc.reason}" if literal else ""))
        if result is None:
            return PendingSecret()
        if result.status is Status.FOUND:
            return secret_value(result.value or "", label)
        return problem_value(label, result, literal=shown(key) != "<computed>")


class SecretsNamespace:
    """The global ``secrets``: one :class:`StoreNamespace` per configured store."""

    __slots__ = ("_resolve", "_stores")

    def __init__(self, stores: dict[str, StoreSpec], resolve: Resolver) -> None:
        self._stores = stores
        self._resolve = resolve

    _PROBLEM = "secrets is the set of stores, not a value: write secrets.STORE.NAME"

    def __repr__(self) -> str:
        if current() is not None:
            note(self._PROBLEM)
        return "<secrets>"

    def __str__(self) -> str:
        return note(self._PROBLEM)

    def _refuse(self, *args: Any) -> Any:
        return fail(self._PROBLEM)

    __iter__ = __len__ = __contains__ = __reversed__ = _refuse

    def __getitem__(self, name: Any) -> Any:
        spec = self._stores.get(name) if isinstance(name, str) else None
        if spec is None:
            known = ", ".join(sorted(self._stores)) or "none"
            return FailedSecret(f"secrets{part(name)}: unknown store {shown(name)} "
                                f"(configured stores: {known})")
        return StoreNamespace(spec, self._resolve)


#: Objects whose ``.name`` means "look up name" in templates.
NAMESPACE_TYPES: tuple[type, ...] = (SecretsNamespace, StoreNamespace)

__all__ = ["NAMESPACE_TYPES", "Resolver", "SecretsNamespace", "StoreNamespace", "problem_value"]
