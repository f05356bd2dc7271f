"""Hook specifications: the public API between the core and provider plugins.

A plugin is a module (or object) with functions named like these specs and
decorated with :data:`secretstores.hookimpl`. An implementation may accept any
subset of a spec's arguments, so specs can gain arguments without breaking
plugins. Hooks marked *firstresult* dispatch by declining: an implementation
returns ``None`` for a store whose ``type`` is not its own, and the first
non-None answer wins.

Provider SDKs must be imported inside hook bodies (or helpers they call), never
at module level, so that ``import secretstores`` stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pluggy

from secretstores.model import FetchResult, Session, StoreSpec, StoreType

hookspec = pluggy.HookspecMarker("secretstores")

# ---------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------


@hookspec
def secretstores_store_types() -> Sequence[StoreType]:
    """Declare the store types this plugin provides.

    Called once, when the plugin manager is first used.

    :return: a sequence of :class:`~secretstores.model.StoreType`, each naming a
        type (as used in a store's ``"type"`` field) and the attrs class that
        validates its ``configuration`` object. Two plugins declaring the same
        type name is a configuration error.
    """
    raise NotImplementedError


# ---------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def secretstores_authenticate(store: StoreSpec) -> Session | None:
    """Build an authenticated client (or session) for one store.

    Called on the store's first use, again when the previous session's
    ``expires_at`` is near, and again after a fetch or store hook raised
    :class:`~secretstores.errors.Unauthorized` (the call is then retried once).
    Calls for one store are serialized; different stores authenticate in
    parallel.

    :param store: the validated store; ``store.config`` is an instance of the
        type's ``config_class``.
    :return: a :class:`~secretstores.model.Session`, or ``None`` when
        ``store.type`` is not this plugin's. Raise
        :class:`~secretstores.errors.AuthenticationError` when the store rejects
        the credentials (say which method and role, never a token).
        First non-None result wins.
    """


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def secretstores_fetch(
    store: StoreSpec, client: Any, identifiers: Sequence[str]
) -> Mapping[str, FetchResult] | None:
    """Fetch a batch of secrets from one store in as few requests as possible.

    Called with every identifier a template (or API call) needs from this store
    that is not in the cache, duplicates removed, at most once per store per
    render; stores are fetched in parallel threads.

    :param store: the validated store.
    :param client: ``Session.client`` from :func:`secretstores_authenticate`.
    :param identifiers: secret identifiers, mappings already resolved (an ARN, a
        path within a mount, a name); the provider parses any version syntax.
    :return: a mapping from each identifier to a
        :class:`~secretstores.model.FetchResult` (found, not found, denied or
        unavailable), or ``None`` when ``store.type`` is not this plugin's. An
        identifier missing from the mapping counts as unavailable. Raise
        :class:`~secretstores.errors.Unauthorized` when the credentials expired,
        or :class:`~secretstores.errors.StoreUnavailableError` when the store
        cannot be reached at all. First non-None result wins.
    """


@hookspec(firstresult=True)
def secretstores_list_names(store: StoreSpec, client: Any) -> Sequence[str] | None:
    """List the names of the secrets a store holds (where the store can).

    Called by ``secretstores list`` and ``secretstores migrate``.

    :param store: the validated store.
    :param client: ``Session.client`` from :func:`secretstores_authenticate`.
    :return: the secret names, each usable as an identifier with
        :func:`secretstores_fetch`; ``None`` when ``store.type`` is not this
        plugin's or the type cannot list. First non-None result wins.
    """


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def secretstores_store(store: StoreSpec, client: Any, name: str, value: str) -> bool | None:
    """Write a secret: create it, or replace its value with a new version.

    Called by ``secretstores put``, ``migrate`` and
    :meth:`secretstores.SecretStores.put`, never for a store configured
    ``readOnly`` (the core refuses those first). The core invalidates the
    cached value afterwards.

    :param store: the validated store.
    :param client: ``Session.client`` from :func:`secretstores_authenticate`.
    :param name: the secret's name or identifier in that store.
    :param value: the secret's text.
    :return: ``True`` once written, or ``None`` when ``store.type`` is not this
        plugin's or cannot write (the core then raises
        :class:`~secretstores.errors.ReadOnlyStoreError`). Raise
        :class:`~secretstores.errors.WriteConflictError` when another writer
        won a race. First non-None result wins.
    """


@hookspec(firstresult=True)
def secretstores_delete(store: StoreSpec, client: Any, name: str) -> bool | None:
    """Delete a secret.

    :param store: the validated store.
    :param client: ``Session.client`` from :func:`secretstores_authenticate`.
    :param name: the secret's name in that store.
    :return: ``True`` when it was deleted, ``False`` when it did not exist, or
        ``None`` when ``store.type`` is not this plugin's or cannot delete.
        First non-None result wins.
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
    (which the core serves itself), e.g. ``VAULT``.

    :param manager: the variable's value, upper-cased (``"VAULT"``).
    :param prefix: the host application's prefix without the trailing
        underscore (``"ARCHESTRA"``, ``"SECRETSTORES"`` by default).
    :param environ: the environment to read variables from.
    :return: a store definition in the configuration's shape
        (``{"type": ..., "configuration": {...}}``; the core sets the name
        ``manager``), or ``None`` when ``manager`` is not this plugin's. Raise
        :class:`~secretstores.errors.ConfigError` listing every missing or
        invalid variable by its full name; the core then falls back to the
        database store with a warning, or refuses in strict mode.
        First non-None result wins.
    """
