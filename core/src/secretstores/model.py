"""Value types that cross the hook boundary between the core and provider plugins."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any

import attrs


class Status(enum.Enum):
    """What a store answered for one identifier."""

    FOUND = "found"
    NOT_FOUND = "not found"
    DENIED = "denied"
    UNAVAILABLE = "unavailable"


@attrs.frozen(repr=False)
class FetchResult:
    """The answer for one identifier of a fetch batch.

    Build one with :meth:`found`, :meth:`not_found`, :meth:`denied` or
    :meth:`unavailable`. ``message`` explains a failure and never holds a value;
    the repr never shows the value.
    """

    status: Status
    value: str | None = None
    message: str = ""

    @classmethod
    def found(cls, value: str) -> FetchResult:
        """The store holds the secret; ``value`` is its text."""
        return cls(Status.FOUND, value)

    @classmethod
    def not_found(cls, message: str = "not found") -> FetchResult:
        """The store has no secret with this identifier."""
        return cls(Status.NOT_FOUND, None, message)

    @classmethod
    def denied(cls, message: str = "access denied") -> FetchResult:
        """The store holds the secret but refuses to give it to these credentials."""
        return cls(Status.DENIED, None, message)

    @classmethod
    def unavailable(cls, message: str = "store unavailable") -> FetchResult:
        """The store could not answer for this identifier (network, server error)."""
        return cls(Status.UNAVAILABLE, None, message)

    def __repr__(self) -> str:
        shown = "<hidden>" if self.value is not None else "None"
        return f"FetchResult(status={self.status.name}, value={shown}, message={self.message!r})"


@attrs.frozen
class Session:
    """What the authenticate hook returns: a ready client and when it stops working.

    ``client`` is whatever the provider's other hooks need (an SDK client, a
    connection pool). When ``expires_at`` (seconds since the epoch) is set, the
    core authenticates again ``renew_before`` seconds before that time. ``close``
    is called when the owning SecretStores closes (not when a session is replaced).
    """

    client: Any = attrs.field(repr=lambda c: f"<{type(c).__name__}>")
    expires_at: float | None = None
    renew_before: float = 30.0
    close: Callable[[], None] | None = attrs.field(default=None, repr=False)


@attrs.frozen
class StoreType:
    """A store type a plugin provides, as returned by ``secretstores_store_types``.

    ``config_class`` is an attrs class whose fields (with ``alias`` set to the
    JSON field name, e.g. ``accessKeyId``) validate the store's ``configuration``
    object. ``writable`` says whether the type can store secrets at all.
    """

    name: str
    config_class: type
    description: str = ""
    writable: bool = False


@attrs.frozen
class SecretMapping:
    """A friendly name for a secret identifier in one store (seed: secret mapping)."""

    name: str
    secret_identifier: str = attrs.field(alias="secretIdentifier")


@attrs.frozen
class StoreSpec:
    """One validated store of the configuration, as the hooks see it.

    ``config`` is an instance of the store type's ``config_class``; secret
    fields in it are kept out of its repr by the plugin (``repr=False``).
    """

    name: str
    type: str
    config: Any = attrs.field(repr=False)
    mappings: Mapping[str, str] = attrs.field(factory=dict)
    cache_ttl: float | None = None
    allow_direct_access: bool = True
    read_only: bool = False

    def resolve(self, reference: str) -> str | None:
        """Return the identifier a reference means: a mapping's target, or itself.

        Returns None when ``reference`` is not a mapping and direct access is off.
        """
        if reference in self.mappings:
            return self.mappings[reference]
        if self.allow_direct_access:
            return reference
        return None
