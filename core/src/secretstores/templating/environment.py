"""The sandboxed Jinja2 environment secretstores renders with."""

from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from secretstores.templating.filters import FILTERS
from secretstores.templating.namespace import SecretsNamespace, SecretText, StoreNamespace

_OURS = (SecretsNamespace, StoreNamespace, SecretText)


class SecretsEnvironment(SandboxedEnvironment):
    """A sandboxed, strict environment where ``.name`` on secrets means a lookup.

    Templates may come from less-trusted users of a host application: the
    sandbox refuses ``_``-prefixed names and unsafe attributes, and an unknown
    variable fails when used (``StrictUndefined``). On the ``secrets`` objects
    and on secret values, ``.name`` always means "look up name" (a store, a
    mapping, a JSON key), never a Python attribute.
    """

    def __init__(self, **options: Any) -> None:
        options.setdefault("undefined", StrictUndefined)
        options.setdefault("keep_trailing_newline", True)
        options.setdefault("autoescape", False)
        super().__init__(**options)
        self.filters.update(FILTERS)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, _OURS) and not attribute.startswith("_"):
            return obj[attribute]
        return super().getattr(obj, attribute)
