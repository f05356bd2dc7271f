"""secretstores: use secrets from external secret stores in configuration templates.

The names most users need are importable from here::

    from secretstores import SecretStores, hookimpl

Heavy modules (the template engine, the cache, cryptography) load on first use
of the name that needs them, and provider SDKs only when a store is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

from secretstores.errors import (
    AccessDeniedError,
    AuthenticationError,
    ConfigError,
    MisconfiguredError,
    PluginError,
    PluginNotInstalledError,
    ReadOnlyStoreError,
    SecretLookupError,
    SecretNotFoundError,
    SecretStoresError,
    StoreError,
    StoreUnavailableError,
    TemplateError,
    ThrottledError,
    TransientError,
    Unauthorized,
    UnknownReferenceError,
    UnknownStoreError,
    UnsupportedOperationError,
    WriteConflictError,
)
from secretstores.model import (
    Capability,
    FetchResult,
    SecretMapping,
    Session,
    Status,
    StoreEvent,
    StoreSpec,
    StoreType,
)

if TYPE_CHECKING:
    from secretstores.api import SecretStores
    from secretstores.templating.limits import TemplateLimits

from secretstores._version import __version__

#: Marks a function as a hook implementation of a secretstores plugin.
hookimpl = pluggy.HookimplMarker("secretstores")

__all__ = [
    "AccessDeniedError",
    "AuthenticationError",
    "Capability",
    "ConfigError",
    "FetchResult",
    "MisconfiguredError",
    "PluginError",
    "PluginNotInstalledError",
    "ReadOnlyStoreError",
    "SecretLookupError",
    "SecretMapping",
    "SecretNotFoundError",
    "SecretStores",
    "SecretStoresError",
    "Session",
    "Status",
    "StoreError",
    "StoreEvent",
    "StoreSpec",
    "StoreType",
    "StoreUnavailableError",
    "TemplateError",
    "TemplateLimits",
    "ThrottledError",
    "TransientError",
    "Unauthorized",
    "UnknownReferenceError",
    "UnknownStoreError",
    "UnsupportedOperationError",
    "WriteConflictError",
    "__version__",
    "hookimpl",
]


def __getattr__(name: str) -> Any:
    if name == "SecretStores":
        from secretstores.api import SecretStores

        return SecretStores
    if name == "TemplateLimits":
        from secretstores.templating.limits import TemplateLimits

        return TemplateLimits
    raise AttributeError(f"module 'secretstores' has no attribute {name!r}")
