"""Value types that cross the hook boundary between the core and provider plugins.

A provider meets these types in every hook: :class:`StoreType` (what it declares),
:class:`StoreSpec` (the validated store each hook is called for), :class:`Session`
(what authenticating returns), :class:`FetchResult` (the answer for one
identifier), and :class:`Capability` (what a type can do). Cross-cutting plugins
receive :class:`StoreEvent` after every store operation.
"""

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


class Capability(enum.Enum):
    """What a store type can do; each capability but ``versions`` is served by one hook.

    The core refuses an operation the store's type does not declare, before
    calling anything, with an error that says so.
    """

    #: Read one identifier at a time (``secretstores_read``); the core fans a batch out.
    READ = "read"
    #: Read many identifiers in one call (``secretstores_fetch``).
    BATCH_READ = "batch_read"
    #: Create a secret or give it a new value (``secretstores_store``).
    WRITE = "write"
    #: Delete a secret (``secretstores_delete``).
    DELETE = "delete"
    #: List the names of the secrets (``secretstores_list_names``).
    LIST = "list"
    #: Prove the store works with a cheap authenticated call (``secretstores_check``).
    CHECK = "check"
    #: Identifiers may pin a version (informational: no hook).
    VERSIONS = "versions"


#: The hook that serves each capability.
CAPABILITY_HOOKS: Mapping[Capability, str] = {
    Capability.READ: "secretstores_read",
    Capability.BATCH_READ: "secretstores_fetch",
    Capability.WRITE: "secretstores_store",
    Capability.DELETE: "secretstores_delete",
    Capability.LIST: "secretstores_list_names",
    Capability.CHECK: "secretstores_check",
}


@attrs.frozen(repr=False)
class FetchResult:
    """The answer for one identifier of a read.

    Build one with :meth:`found`, :meth:`not_found`, :meth:`denied`,
    :meth:`unavailable`, :meth:`transient`, :meth:`throttled` or
    :meth:`misconfigured`. ``message`` explains a failure and never holds a
    value; the repr never shows the value.

    ``retryable`` marks an unavailable answer that may succeed if asked again
    (:meth:`transient`, :meth:`throttled`: the core retries it, within the
    store's ``retries`` and ``deadline``); ``retry_after`` is the delay in
    seconds the store asked for, if it did.
    """

    status: Status
    value: str | None = None
    message: str = ""
    retryable: bool = False
    retry_after: float | None = None
    version: str | None = None
    expires_at: float | None = None
    #: Set by the core: the store could not be reached, timed out or kept failing
    #: (an outage, which the cache may ride out with a stale value).
    outage: bool = False
    #: Set by the core: the value was served from the cache past its TTL, because
    #: the store was unavailable (``staleIfError``).
    stale: bool = False

    @classmethod
    def found(cls, value: str, *, version: str | None = None,
              expires_at: float | None = None) -> FetchResult:
        """The store holds the secret; ``value`` is its text.

        :param version: the version the store answered with, if it says (for logs).
        :param expires_at: when the value stops being valid (a lease, seconds since
            the epoch): the cache keeps it no longer than that, nor than its TTL.
        """
        return cls(Status.FOUND, value, version=version, expires_at=expires_at)

    @classmethod
    def not_found(cls, message: str = "not found") -> FetchResult:
        """The store has no secret with this identifier (``| default`` covers it)."""
        return cls(Status.NOT_FOUND, None, message)

    @classmethod
    def denied(cls, message: str = "access denied") -> FetchResult:
        """The store holds the secret but refuses to give it to these credentials."""
        return cls(Status.DENIED, None, message)

    @classmethod
    def unavailable(cls, message: str = "store unavailable") -> FetchResult:
        """The store could not answer for this identifier, and asking again will not help."""
        return cls(Status.UNAVAILABLE, None, message)

    @classmethod
    def transient(cls, message: str = "store temporarily unavailable") -> FetchResult:
        """The store failed in a way that may pass (a 5xx, a dropped connection): retried."""
        return cls(Status.UNAVAILABLE, None, message, retryable=True)

    @classmethod
    def throttled(cls, message: str = "throttled",
                  retry_after: float | None = None) -> FetchResult:
        """The store asked to slow down, maybe saying for how long: retried after that delay."""
        return cls(Status.UNAVAILABLE, None, message, retryable=True, retry_after=retry_after)

    @classmethod
    def misconfigured(cls, message: str) -> FetchResult:
        """The store's address, mount or engine is wrong: never "not found", never retried.

        The message starts with ``misconfigured:`` and should name what is wrong
        (the address, the mount, the path).
        """
        return cls(Status.UNAVAILABLE, None, f"misconfigured: {message}")

    def __repr__(self) -> str:
        shown = "<hidden>" if self.value is not None else "None"
        return f"FetchResult(status={self.status.name}, value={shown}, message={self.message!r})"


@attrs.frozen
class Session:
    """What the authenticate hook returns: a ready client and when it stops working.

    ``client`` is whatever the provider's other hooks need (an SDK client, a
    connection pool); they receive it as their ``client`` argument. When
    ``expires_at`` (seconds since the epoch) is set, the core authenticates again
    ``renew_before`` seconds before that time. ``close`` is called when the
    owning ``SecretStores`` closes (not when a session is replaced, since other
    threads may still be using its client), and never in a forked child.
    """

    client: Any = attrs.field(repr=lambda c: f"<{type(c).__name__}>")
    expires_at: float | None = None
    renew_before: float = 30.0
    close: Callable[[], None] | None = attrs.field(default=None, repr=False)


def _capabilities(value: Any) -> frozenset[Capability]:
    return frozenset(Capability(item) if isinstance(item, str) else item for item in value)


@attrs.frozen
class StoreType:
    """A store type a plugin provides, as returned by ``secretstores_store_types``.

    :param name: what a store's ``"type"`` field says (``"hashicorp_vault"``).
    :param config_class: an attrs class whose fields (with ``alias`` set to the
        JSON field name, e.g. ``accessKeyId``) validate the store's
        ``configuration`` object; build fields with
        :func:`secretstores.config.required_field` and ``optional_field``.
    :param description: one line for ``secretstores plugins``.
    :param capabilities: what the type can do (:class:`Capability` members or
        their string values). It must include ``read`` or ``batch_read``, and
        the plugin must implement the hook of every capability it declares.
    :param batch_size: the most identifiers one ``secretstores_fetch`` call
        takes; the core splits bigger batches and runs the parts concurrently
        (None: no limit).
    :param read_only_by_default: stores of this type refuse writes unless they
        say ``"readOnly": false`` (external stores are read-only sources, as the
        gateway document says); only the built-in ``db`` type sets this False.
    :param thread_safe: False makes the core call the hooks of one store one at
        a time, for SDK clients that cannot be shared between threads.
    :param process_local: the store reads this process's own state (``env``): its
        values are cached in this process's memory only, never in the cache shared
        by every process of the user.
    """

    name: str
    config_class: type
    description: str = ""
    capabilities: frozenset[Capability] = attrs.field(
        default=frozenset({Capability.READ}), converter=_capabilities)
    batch_size: int | None = None
    read_only_by_default: bool = True
    thread_safe: bool = True
    process_local: bool = False

    def can(self, capability: Capability) -> bool:
        """Whether the type declares ``capability``."""
        return capability in self.capabilities

    @property
    def writable(self) -> bool:
        """Whether the type can write secrets at all."""
        return Capability.WRITE in self.capabilities


@attrs.frozen
class SecretMapping:
    """A friendly name for a secret identifier in one store (seed: secret mapping)."""

    name: str
    secret_identifier: str = attrs.field(alias="secretIdentifier")


#: Seconds one request to a store may take, unless the store's ``timeout`` says otherwise.
DEFAULT_TIMEOUT = 5.0
#: Seconds a whole operation (retries and waits included) may take, unless ``deadline`` says.
DEFAULT_DEADLINE = 10.0
#: Retries after a transient failure or throttling, unless ``retries`` says otherwise.
DEFAULT_RETRIES = 3
#: Requests one store may have in flight at once, unless ``concurrency`` says otherwise.
DEFAULT_CONCURRENCY = 20


@attrs.frozen
class StoreSpec:
    """One validated store of the configuration, as the hooks see it.

    ``config`` is an instance of the store type's ``config_class``; secret
    fields in it are kept out of its repr by the plugin (``repr=False``).
    ``timeout`` is what a provider gives its SDK as the connect and read
    timeout of one request; ``concurrency`` is how many requests the core may
    have in flight on the store's client at once (size connection pools for it).
    The core enforces ``deadline`` and ``retries`` itself.
    """

    name: str
    type: str
    config: Any = attrs.field(repr=False)
    mappings: Mapping[str, str] = attrs.field(factory=dict)
    cache_ttl: float | None = None
    allow_direct_access: bool = True
    read_only: bool = True
    timeout: float = DEFAULT_TIMEOUT
    deadline: float = DEFAULT_DEADLINE
    retries: int = DEFAULT_RETRIES
    concurrency: int = DEFAULT_CONCURRENCY
    stale_if_error: float | None = None
    negative_cache_ttl: float | None = None

    def resolve(self, reference: str) -> str | None:
        """Return the identifier a reference means: a mapping's target, or itself.

        Returns None when ``reference`` is not a mapping and direct access is off.
        """
        if reference in self.mappings:
            return self.mappings[reference]
        if self.allow_direct_access:
            return reference
        return None


@attrs.frozen
class StoreEvent:
    """What happened in one store operation, for ``secretstores_event`` (never a value).

    :ivar store: the store's name. :ivar type: its type.
    :ivar operation: ``authenticate``, ``check``, ``fetch``, ``store``,
        ``delete`` or ``list``.
    :ivar identifiers: the identifiers of a fetch (cached ones included) or the
        name written or deleted.
    :ivar outcomes: per identifier, the :class:`Status` a fetch ended with.
    :ivar cached: the identifiers a fetch answered from the cache.
    :ivar started: when the operation started (seconds since the epoch).
    :ivar duration: how long it took, in seconds.
    :ivar calls: hook calls made (batches, single reads and retries counted).
    :ivar retries: how many of those calls were retries.
    :ivar error: the operation's error message when it failed as a whole.
    :ivar sources: per identifier of a fetch, where its answer came from:
        ``memory`` or ``disk`` (the cache tiers), ``store`` (asked now), ``shared``
        (another process asked the store at the same moment), ``stale`` (served past
        its TTL because the store was unavailable), ``negative`` (a cached "not found").
    :ivar background: the fetch refreshed values ahead of their expiry; no caller waited.
    """

    store: str
    type: str
    operation: str
    identifiers: tuple[str, ...] = ()
    outcomes: Mapping[str, Status] = attrs.field(factory=dict)
    cached: frozenset[str] = frozenset()
    started: float = 0.0
    duration: float = 0.0
    calls: int = 0
    retries: int = 0
    error: str | None = None
    sources: Mapping[str, str] = attrs.field(factory=dict)
    background: bool = False
