"""Hook specifications: the public API between the core and provider plugins.

A plugin is a module (or object) with functions named like these specs and
decorated with :data:`secretstores.hookimpl`. An implementation may accept any
subset of a spec's arguments, so specs can gain arguments without breaking
plugins.

**Routing.** The store hooks (authenticate, read, fetch, store, delete,
list_names, check) are called only on the plugin whose
``secretstores_store_types`` declared the store's type: an implementation never
checks ``store.type``, and no plugin can answer for another's stores. A type
declares what it can do (:class:`~secretstores.model.Capability`); the core
never calls the hook of a capability the type lacks. Cross-cutting plugins
(metrics, audit) observe every operation through :func:`secretstores_event`.

**Concurrency.** The core may call read, fetch, store, delete, list_names and
check concurrently from several threads on one store's client (at most the
store's ``concurrency`` at once), so the client must be thread-safe, or the
type declares ``thread_safe=False``. ``secretstores_authenticate`` is never
called concurrently for one store. Retries, timeouts, deadlines, fan-out and
login back-off belong to the core: a hook makes one attempt and raises
:class:`~secretstores.errors.TransientError` (or returns
:meth:`FetchResult.transient <secretstores.model.FetchResult.transient>`) for a
failure worth another.

Provider SDKs must be imported inside hook bodies (or helpers they call), never
at module level, so that ``import secretstores`` stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pluggy

from secretstores.model import FetchResult, Session, StoreEvent, StoreSpec, StoreType

hookspec = pluggy.HookspecMarker("secretstores")

# ---------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------


@hookspec
def secretstores_store_types() -> Sequence[StoreType]:
    """Declare the store types this plugin provides.

    Called once per plugin, when it is registered. The plugin then owns these
    types: the core calls its store hooks, and only its, for stores of them.

    :return: a sequence of :class:`~secretstores.model.StoreType`, each naming a
        type (as used in a store's ``"type"`` field), the attrs class that
        validates its ``configuration`` object, and its capabilities. Two
        plugins declaring the same type name is a configuration error; a type
        declaring a capability whose hook the plugin lacks fails to load.
    """
    raise NotImplementedError


# ---------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def secretstores_authenticate(store: StoreSpec) -> Session | None:
    """Build an authenticated client (or session) for one store.

    Called on the store's first use (in a forked child too: nothing carries
    over from the parent), again when the session's ``expires_at`` is near, and
    again after another hook raised :class:`~secretstores.errors.Unauthorized`
    (the failed call is then retried once). One login runs at a time per store;
    threads arriving meanwhile wait for it, and a failed login is reported to
    every caller during a back-off window (1 s, doubling to 15 s) instead of
    being tried again.

    :param store: the validated store; ``store.config`` is an instance of the
        type's ``config_class``; give the SDK ``store.timeout`` as its connect
        and read timeout, and size connection pools for ``store.concurrency``.
    :return: a :class:`~secretstores.model.Session` (or a bare client, wrapped
        for you). Raise :class:`~secretstores.errors.AuthenticationError` when
        the store rejects the credentials (say which method and role, never a
        token), :class:`~secretstores.errors.TransientError` for a failure worth
        another try.
    """


@hookspec(firstresult=True)
def secretstores_identity(store: StoreSpec) -> str | None:
    """Say whose view of the secrets a store reads, beyond its configuration.

    The cache keeps each value under the store's type, configuration *and* this
    identity, so a value read with one principal's credentials is never served to
    another. Return what decides the principal or data source and is not in the
    configuration: the credential chain's environment variables and files (AWS's
    ``AWS_PROFILE``, a Kubernetes service-account token file, a key file's
    fingerprint). Called once, when the store is set up: cheap, no network, no SDK
    import. The answer is only ever hashed (HMAC) into cache keys, never stored or
    shown, so it may contain credential material.
    :func:`secretstores.identity.environment_identity` builds one from variables
    and files.

    :param store: the validated store.
    :return: a string that changes whenever the principal may have changed, or None
        when the configuration alone decides it (static keys in ``configuration``).
    """


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def secretstores_read(store: StoreSpec, client: Any, identifier: str) -> FetchResult | None:
    """Read one secret (capability ``read``): for providers without a batch API.

    The core fans a batch out over its shared worker threads, at most
    ``store.concurrency`` reads of one store at once, each with its own retries.

    :param store: the validated store.
    :param client: ``Session.client`` from :func:`secretstores_authenticate`.
    :param identifier: one secret identifier, a mapping already resolved (a
        path within a mount, a name); the provider parses any version syntax.
    :return: a :class:`~secretstores.model.FetchResult`: found, not found,
        denied, unavailable, transient, throttled or misconfigured. Raise
        :class:`~secretstores.errors.Unauthorized` when the credentials expired.
    """


@hookspec(firstresult=True)
def secretstores_fetch(
    store: StoreSpec, client: Any, identifiers: Sequence[str]
) -> Mapping[str, FetchResult] | None:
    """Read a batch of secrets in as few requests as possible (capability ``batch_read``).

    Called with the identifiers a render (or API call) needs from this store
    that are not cached, duplicates removed, split into parts of at most the
    type's ``batch_size``; the parts run concurrently.

    :param store: the validated store.
    :param client: ``Session.client`` from :func:`secretstores_authenticate`.
    :param identifiers: secret identifiers, mappings already resolved.
    :return: a mapping from identifier to :class:`~secretstores.model.FetchResult`.
        An identifier left out is read alone with :func:`secretstores_read`
        when the type also declares ``read`` (a version a batch cannot express),
        else it counts as unavailable. Raise
        :class:`~secretstores.errors.Unauthorized` when the credentials
        expired, :class:`~secretstores.errors.TransientError` or
        :class:`~secretstores.errors.ThrottledError` when the whole call may be
        tried again.
    """


@hookspec(firstresult=True)
def secretstores_list_names(store: StoreSpec, client: Any) -> Sequence[str] | None:
    """List the names of the secrets a store holds (capability ``list``).

    Called by ``secretstores list`` and ``secretstores migrate``.

    :param store: the validated store.
    :param client: ``Session.client`` from :func:`secretstores_authenticate`.
    :return: the secret names, each usable as an identifier with the read hooks.
    """


@hookspec(firstresult=True)
def secretstores_check(store: StoreSpec, client: Any) -> str | None:
    """Prove the store works with a cheap authenticated call (capability ``check``).

    Called by ``secretstores stores --check`` and
    :meth:`secretstores.SecretStores.check`, after authenticating. Check what a
    read needs: that the credentials are accepted by the service (not merely
    well-formed) and that the configured mount, project or vault exists and is
    of the expected kind.

    :param store: the validated store.
    :param client: ``Session.client`` from :func:`secretstores_authenticate`.
    :return: a short note of what was verified (``"token valid; secret/ is KV
        v2"``), or None. Raise :class:`~secretstores.errors.AuthenticationError`,
        :class:`~secretstores.errors.MisconfiguredError` or
        :class:`~secretstores.errors.StoreUnavailableError` saying what is wrong.
    """


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def secretstores_store(
    store: StoreSpec, client: Any, name: str, value: str, request_id: str
) -> bool | None:
    """Write a secret: create it, or replace its value with a new version (capability ``write``).

    Called by ``secretstores put``, ``migrate`` and
    :meth:`secretstores.SecretStores.put`, never for a read-only store (the
    core refuses those first). The core drops the store's cached values
    afterwards. The core retries a write after a transient failure: make it
    idempotent where the provider allows (``request_id``).

    :param store: the validated store.
    :param client: ``Session.client`` from :func:`secretstores_authenticate`.
    :param name: the secret's name or identifier in that store.
    :param value: the secret's text.
    :param request_id: a unique id of this write, the same on every retry of it:
        send it as the provider's idempotency token (AWS ``ClientRequestToken``)
        so a retried write never makes a second version.
    :return: ``True`` once written. Raise
        :class:`~secretstores.errors.WriteConflictError` when another writer
        won a race.
    """


@hookspec(firstresult=True)
def secretstores_delete(store: StoreSpec, client: Any, name: str) -> bool | None:
    """Delete a secret (capability ``delete``).

    :param store: the validated store.
    :param client: ``Session.client`` from :func:`secretstores_authenticate`.
    :param name: the secret's name in that store.
    :return: ``True`` when it was deleted, ``False`` when it did not exist.
    """


# ---------------------------------------------------------------------------
# Observing
# ---------------------------------------------------------------------------


@hookspec
def secretstores_event(event: StoreEvent) -> None:
    """Observe one finished store operation (metrics, audit, tracing).

    Called on every plugin that implements it, in the thread that ran the
    operation, after authenticate, check, fetch (including fetches answered
    from the cache), store, delete and list. An event never holds a value or a
    credential. Keep it fast; an exception it raises is logged and ignored.

    :param event: a :class:`~secretstores.model.StoreEvent`.
    :return: nothing (the return value is ignored).
    """


# ---------------------------------------------------------------------------
# Configuration from environment variables
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def secretstores_manager_from_env(
    manager: str, prefix: str, environ: Mapping[str, str]
) -> dict[str, Any] | None:
    """Build the ``manager`` store from ``<PREFIX>_SECRETS_MANAGER`` and its family.

    Called when ``<PREFIX>_SECRETS_MANAGER`` names a manager other than ``DB``
    (which the core serves itself), e.g. ``VAULT``. Unlike the store hooks,
    this one dispatches by declining: return None for a manager not yours.

    :param manager: the variable's value, upper-cased (``"VAULT"``).
    :param prefix: the host application's prefix without the trailing
        underscore (``"ARCHESTRA"``, ``"SECRETSTORES"`` by default).
    :param environ: the environment to read variables from.
    :return: a store definition in the configuration's shape
        (``{"type": ..., "configuration": {...}}``; the core names it
        ``manager`` and makes it read-write), or ``None`` when ``manager`` is
        not this plugin's. Raise :class:`~secretstores.errors.ConfigError`
        listing every missing or invalid variable by its full name; the core
        then falls back to the database store with a warning, or refuses in
        strict mode. First non-None result wins.
    """
