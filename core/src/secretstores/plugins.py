"""The plugin manager: built-in plugins, entry-point discovery and store-type lookup.

Plugins are found through the entry-point group ``secretstores``. Loading is
controlled by two environment variables:

``SECRETSTORES_LOAD_PLUGINS``
    comma-separated entry-point names; when set (even empty), only those load.
``SECRETSTORES_DISABLE_PLUGINS``
    comma-separated entry-point names never to load.

A plugin that fails to import or register is logged and skipped. Set
``SECRETSTORES_TRACE_HOOKS=1`` to log every hook call.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any

import attrs
import pluggy

from secretstores import hookspecs
from secretstores.errors import ConfigError, PluginNotInstalledError
from secretstores.model import StoreType

logger = logging.getLogger(__name__)

#: The built-in plugins, registered through the same hooks as third parties'.
DEFAULT_PLUGINS = (
    "secretstores.builtin.env_store",
    "secretstores.builtin.db_store",
)

#: Store types served by plugins of this project, and the distribution to install.
KNOWN_TYPES = {
    "aws_secrets_manager": "secretstores-aws",
    "gcp_secret_manager": "secretstores-gcp",
    "hashicorp_vault": "secretstores-vault",
    "infisical": "secretstores-infisical",
    "azure_key_vault": "secretstores-azure",
}

#: Managers chosen by ``<PREFIX>_SECRETS_MANAGER`` and the distribution serving each.
KNOWN_MANAGERS = {"VAULT": "secretstores-vault"}


@attrs.frozen
class PluginInfo:
    """What ``secretstores plugins`` shows about one registered plugin."""

    name: str
    version: str | None
    hooks: tuple[str, ...]
    store_types: tuple[str, ...]
    builtin: bool


@attrs.frozen
class FailedPlugin:
    """A plugin that could not be loaded, and why (the exception's type and text)."""

    name: str
    error: str


def _names(variable: str) -> set[str] | None:
    raw = os.environ.get(variable)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


class Plugins:
    """A loaded set of plugins: a pluggy manager plus the store types it declares."""

    def __init__(self, *, load_entrypoints: bool = True) -> None:
        self.pm = pluggy.PluginManager("secretstores")
        self.pm.add_hookspecs(hookspecs)
        self.failed: list[FailedPlugin] = []
        self._dists: dict[str, str | None] = {}
        self._builtin: set[str] = set()
        self._types: dict[str, tuple[StoreType, str]] | None = None
        self._lock = threading.Lock()
        for module_name in DEFAULT_PLUGINS:
            module = importlib.import_module(module_name)
            self.pm.register(module, name=module_name)
            self._builtin.add(module_name)
        if load_entrypoints:
            self._load_entrypoints()
        if os.environ.get("SECRETSTORES_TRACE_HOOKS"):
            # pluggy's own tracing prints every argument (secret values, os.environ): log
            # only hook and store names.
            self.pm.add_hookcall_monitoring(_trace_before, _trace_after)

    def _load_entrypoints(self) -> None:
        only = _names("SECRETSTORES_LOAD_PLUGINS")
        disabled = _names("SECRETSTORES_DISABLE_PLUGINS") or set()
        for ep in entry_points(group="secretstores"):
            if ep.name in disabled or (only is not None and ep.name not in only):
                continue
            if self.pm.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
                self.pm.register(plugin, name=ep.name)
                self.pm.check_pending()
            except Exception as exc:  # a broken plugin must not break the others
                if self.pm.has_plugin(ep.name):
                    self.pm.unregister(name=ep.name)
                message = f"{type(exc).__name__}: {exc}"
                logger.warning("plugin %r failed to load and was skipped: %s", ep.name, message)
                self.failed.append(FailedPlugin(ep.name, message))
                continue
            self._dists[ep.name] = ep.dist.version if ep.dist else None

    def register(self, plugin: Any, name: str | None = None) -> None:
        """Register a plugin object or module directly (tests, host applications)."""
        self.pm.register(plugin, name=name)
        self.pm.check_pending()
        with self._lock:
            self._types = None

    @property
    def hook(self) -> Any:
        """The pluggy hook caller (``plugins.hook.secretstores_fetch(...)``)."""
        return self.pm.hook

    def store_types(self) -> dict[str, tuple[StoreType, str]]:
        """Map each declared type name to its :class:`StoreType` and plugin name."""
        with self._lock:
            if self._types is None:
                types: dict[str, tuple[StoreType, str]] = {}
                problems: list[str] = []
                for impl in self.pm.hook.secretstores_store_types.get_hookimpls():
                    plugin_name = self.pm.get_name(impl.plugin) or repr(impl.plugin)
                    declared: Sequence[StoreType] = impl.function()  # type: ignore[assignment]
                    for store_type in declared:
                        if store_type.name in types:
                            other = types[store_type.name][1]
                            problems.append(
                                f"store type '{store_type.name}' is declared by both "
                                f"plugin '{other}' and plugin '{plugin_name}'"
                            )
                        types[store_type.name] = (store_type, plugin_name)
                if problems:
                    raise ConfigError(problems)
                self._types = types
            return self._types

    def store_type(self, name: str, *, where: str) -> StoreType:
        """Return the store type called ``name``, or raise an error saying what to install."""
        types = self.store_types()
        if name in types:
            return types[name][0]
        raise PluginNotInstalledError([unknown_type_problem(name, where, types)])

    def info(self) -> list[PluginInfo]:
        """Describe every registered plugin (name, version, hooks, store types)."""
        by_plugin: dict[str, list[str]] = {}
        for type_name, (_, plugin_name) in self.store_types().items():
            by_plugin.setdefault(plugin_name, []).append(type_name)
        result = []
        for name, plugin in self.pm.list_name_plugin():
            hooks = tuple(
                sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])
            )
            builtin = name in self._builtin
            result.append(
                PluginInfo(
                    name=name,
                    version=_core_version() if builtin else self._dists.get(name),
                    hooks=hooks,
                    store_types=tuple(sorted(by_plugin.get(name, []))),
                    builtin=builtin,
                )
            )
        return sorted(result, key=lambda p: (not p.builtin, p.name))


def _trace_before(hook_name: str, hook_impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    store = kwargs.get("store")
    where = f" store={store.name!r}" if store is not None else ""
    count = f" identifiers={len(kwargs['identifiers'])}" if "identifiers" in kwargs else ""
    logger.info("hook %s%s%s (%d implementations)", hook_name, where, count, len(hook_impls))


def _trace_after(
    outcome: Any, hook_name: str, hook_impls: Sequence[Any], kwargs: Mapping[str, Any]
) -> None:
    failed = outcome.exception
    logger.info("hook %s finished%s", hook_name,
                f" with {type(failed).__name__}" if failed is not None else "")


def unknown_type_problem(name: str, where: str, types: dict[str, Any]) -> str:
    """The message for a store type no loaded plugin declares."""
    if name in KNOWN_TYPES:
        dist = KNOWN_TYPES[name]
        return (
            f"{where}: store type '{name}' needs a plugin that is not installed or not "
            f"loaded: pip install {dist}"
        )
    known = ", ".join(sorted(types)) or "none"
    return f"{where}: unknown store type '{name}' (known types: {known})"


def _core_version() -> str:
    from secretstores import __version__

    return __version__


_default: Plugins | None = None
_default_lock = threading.Lock()


def get_plugins() -> Plugins:
    """Return the process-wide plugin set, loading entry points on first call."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Plugins()
        return _default


def reset_plugins() -> None:
    """Forget the process-wide plugin set so the next call reloads (for tests)."""
    global _default
    with _default_lock:
        _default = None
