"""The plugin manager: built-in plugins, entry-point discovery and store-type lookup.

Plugins are found through the entry-point group ``secretstores``. Loading is
controlled by two environment variables:

``SECRETSTORES_LOAD_PLUGINS``
    comma-separated entry-point names; when set (even empty), only those load.
``SECRETSTORES_DISABLE_PLUGINS``
    comma-separated entry-point names never to load.

A plugin that fails to import or register is logged and skipped. Set
``SECRETSTORES_TRACE_HOOKS=1`` to log every hook call.

Each store type belongs to the plugin that declared it: :meth:`Plugins.route`
gives the hook caller that reaches that plugin alone, so an implementation never
checks ``store.type`` and no plugin answers for another's stores.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any, cast

import attrs
import pluggy

from secretstores import forks, hookspecs
from secretstores.errors import (
    ConfigError,
    PluginError,
    PluginNotInstalledError,
    StoreUnavailableError,
)
from secretstores.model import CAPABILITY_HOOKS, Capability, StoreEvent, StoreType

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


#: The label of the built-in plugins' distribution in messages.
BUILTIN_DIST = "secretstores (built-in)"


@attrs.frozen
class PluginInfo:
    """What ``secretstores plugins`` shows about one registered plugin."""

    name: str
    version: str | None
    hooks: tuple[str, ...]
    store_types: tuple[str, ...]
    builtin: bool
    types: tuple[StoreType, ...] = ()
    distribution: str | None = None


@attrs.frozen
class Route:
    """Where the hooks of one store type go: the plugin that declared it, alone."""

    store_type: StoreType
    plugin_name: str
    distribution: str
    _pm: pluggy.PluginManager = attrs.field(repr=False, alias="pm")
    _plugin: Any = attrs.field(repr=False, alias="plugin")
    _trace: bool = attrs.field(default=False, repr=False, alias="trace")

    def call(self, hook: str, **kwargs: Any) -> Any:
        """Call ``hook`` on the owning plugin only; return its first non-None answer.

        The owner's implementations are picked by identity, so no other plugin is ever
        called, even one registered meanwhile, and plugins need not be hashable.
        """
        impls = [impl for impl in getattr(self._pm.hook, hook).get_hookimpls()
                 if impl.plugin is self._plugin and not (impl.wrapper or impl.hookwrapper)]
        if not impls and not any(p is self._plugin for p in self._pm.get_plugins()):
            raise StoreUnavailableError(
                f"the plugin serving store type '{self.store_type.name}' "
                f"({self.distribution}) is no longer registered")
        if self._trace:
            store = kwargs.get("store")
            count = f" identifiers={len(kwargs['identifiers'])}" if "identifiers" in kwargs else ""
            logger.info("hook %s store=%r%s", hook, getattr(store, "name", None), count)
        failed: str | None = None
        try:
            for impl in reversed(impls):  # pluggy's order: the last registered first
                answer = impl.function(*[kwargs[name] for name in impl.argnames])
                if answer is not None:
                    return answer
            return None
        except BaseException as exc:
            failed = type(exc).__name__
            raise
        finally:
            if self._trace:
                logger.info("hook %s finished%s", hook, f" with {failed}" if failed else "")


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


def _warn_unknown_names(only: set[str] | None, disabled: set[str],
                        installed: list[str]) -> None:
    """Warn about each name in the plugin variables that no installed plugin has: a
    misspelling (``vualt``) would otherwise load or disable nothing, silently."""
    from secretstores.config.suggest import did_you_mean

    names = sorted(set(installed))
    for variable, given in (("SECRETSTORES_LOAD_PLUGINS", only or set()),
                            ("SECRETSTORES_DISABLE_PLUGINS", disabled)):
        for name in sorted(given - set(names)):
            logger.warning("%s names '%s', but no installed plugin has that name%s "
                           "(installed: %s)", variable, name, did_you_mean(name, names),
                           ", ".join(names) or "none")


class Plugins:
    """A loaded set of plugins: a pluggy manager plus the store types it declares."""

    def __init__(self, *, load_entrypoints: bool = True) -> None:
        self.pm = pluggy.PluginManager("secretstores")
        self.pm.add_hookspecs(hookspecs)
        self.failed: list[FailedPlugin] = []
        self._dists: dict[str, str | None] = {}
        self._dist_names: dict[str, str] = {}
        self._builtin: set[str] = set()
        self._declared: dict[str, tuple[StoreType, ...]] = {}
        self._types: dict[str, tuple[StoreType, str]] | None = None
        self._lock = threading.Lock()
        forks.register(self)
        for module_name in DEFAULT_PLUGINS:
            module = importlib.import_module(module_name)
            self.pm.register(module, name=module_name)
            self._declared[module_name] = self._validate(module_name, module)
            self._builtin.add(module_name)
            self._dist_names[module_name] = BUILTIN_DIST
        if load_entrypoints:
            self._load_entrypoints()
        self._refresh_listening()
        self._tracing = bool(os.environ.get("SECRETSTORES_TRACE_HOOKS"))
        if self._tracing:
            # pluggy's own tracing prints every argument (secret values, os.environ): log
            # only hook and store names. Store hooks are traced by their Route.
            self.pm.add_hookcall_monitoring(_trace_before, _trace_after)

    def _load_entrypoints(self) -> None:
        only = _names("SECRETSTORES_LOAD_PLUGINS")
        disabled = _names("SECRETSTORES_DISABLE_PLUGINS") or set()
        found = entry_points(group="secretstores")
        _warn_unknown_names(only, disabled, [ep.name for ep in found])
        for ep in found:
            if ep.name in disabled or (only is not None and ep.name not in only):
                continue
            if self.pm.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
                self.pm.register(plugin, name=ep.name)
                self.pm.check_pending()
                declared = self._validate(ep.name, plugin)
            except Exception as exc:  # a broken plugin must not break the others
                if self.pm.has_plugin(ep.name):
                    self.pm.unregister(name=ep.name)
                message = str(exc) if isinstance(exc, ConfigError) else \
                    f"{type(exc).__name__}: {exc}"
                logger.warning("plugin %r failed to load and was skipped: %s", ep.name, message)
                self.failed.append(FailedPlugin(ep.name, message))
                continue
            self._declared[ep.name] = declared
            self._dists[ep.name] = ep.dist.version if ep.dist else None
            self._dist_names[ep.name] = ep.dist.name if ep.dist else ep.name

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # another thread may have held it while forking

    def _validate(self, name: str, plugin: Any) -> tuple[StoreType, ...]:
        """The store types ``plugin`` declares; raise ConfigError when they are unusable."""
        impls = [impl for impl in self.pm.hook.secretstores_store_types.get_hookimpls()
                 if impl.plugin is plugin]
        if not impls:
            return ()
        declared: tuple[StoreType, ...] = tuple(
            cast(Iterable[StoreType], impls[0].function()))
        hooks = {caller.name for caller in self.pm.get_hookcallers(plugin) or []}
        problems: list[str] = []
        for store_type in declared:
            if not isinstance(store_type, StoreType):
                problems.append(f"plugin '{name}': secretstores_store_types returned "
                                f"{type(store_type).__name__}, not StoreType")
                continue
            where = f"plugin '{name}', store type '{store_type.name}'"
            if not store_type.capabilities & {Capability.READ, Capability.BATCH_READ}:
                problems.append(f"{where}: declares neither 'read' nor 'batch_read'")
            for capability in sorted(store_type.capabilities, key=lambda c: c.value):
                hook = CAPABILITY_HOOKS.get(capability)
                if hook is not None and hook not in hooks:
                    problems.append(f"{where}: declares capability '{capability.value}' but "
                                    f"the plugin does not implement {hook}")
            if "secretstores_authenticate" not in hooks:
                problems.append(f"{where}: the plugin does not implement "
                                "secretstores_authenticate")
            size = store_type.batch_size
            if size is not None and (isinstance(size, bool) or not isinstance(size, int)
                                     or size < 1):
                problems.append(f"{where}: batch_size must be a whole number >= 1 or None")
        if problems:
            raise PluginError(problems)
        return declared

    def register(self, plugin: Any, name: str | None = None) -> None:
        """Register a plugin object or module directly (tests, host applications).

        Raises :class:`ConfigError` (and registers nothing) when the store types
        it declares are unusable.
        """
        registered = self.pm.register(plugin, name=name)
        assert registered is not None
        try:
            self.pm.check_pending()
            declared = self._validate(registered, plugin)
            with self._lock:
                self._declared[registered] = declared
                self._dist_names[registered] = registered
                self._types = None
            self.store_types()  # a type another plugin declares: refused, nothing kept
        except Exception:
            self.pm.unregister(plugin)
            with self._lock:
                self._declared.pop(registered, None)
                self._types = None
            raise
        self._refresh_listening()

    def unregister(self, plugin: Any) -> None:
        """Remove a plugin registered with :meth:`register`."""
        name = self.pm.get_name(plugin)
        self.pm.unregister(plugin)
        with self._lock:
            if name is not None:
                self._declared.pop(name, None)
            self._types = None
        self._refresh_listening()

    def distribution(self, plugin_name: str) -> str:
        """The distribution a plugin came from (its registration name if unknown)."""
        return self._dist_names.get(plugin_name, plugin_name)

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
                for plugin_name, declared in self._declared.items():
                    for store_type in declared:
                        if store_type.name in types:
                            other = types[store_type.name][1]
                            problems.append(
                                f"store type '{store_type.name}' is declared by both "
                                f"{self._describe(other)} and {self._describe(plugin_name)}; "
                                "uninstall one, or disable one with "
                                "SECRETSTORES_DISABLE_PLUGINS")
                        types[store_type.name] = (store_type, plugin_name)
                if problems:
                    raise PluginError(problems)
                self._types = types
            return self._types

    def _describe(self, plugin_name: str) -> str:
        dist = self._dist_names.get(plugin_name, plugin_name)
        if dist == plugin_name:
            return f"plugin '{plugin_name}'"
        return f"distribution '{dist}' (plugin '{plugin_name}')"

    def route(self, type_name: str) -> Route:
        """The hook caller of the plugin that owns store type ``type_name``."""
        store_type, plugin_name = self.store_types()[type_name]
        plugin = self.pm.get_plugin(plugin_name)
        return Route(store_type, plugin_name, self.distribution(plugin_name),
                     pm=self.pm, plugin=plugin, trace=self._tracing)

    def _refresh_listening(self) -> None:
        #: Whether any plugin implements ``secretstores_event`` (read on every warm path,
        #: so kept as a plain attribute; register observers with :meth:`register`).
        self.listening = bool(self.pm.hook.secretstores_event.get_hookimpls())

    def emit(self, event: StoreEvent) -> None:
        """Give ``event`` to every ``secretstores_event`` implementation; never raise.

        Each observer is called on its own: one that fails neither breaks the
        operation nor keeps the event from the others.
        """
        for impl in self.pm.hook.secretstores_event.get_hookimpls():
            if impl.wrapper or impl.hookwrapper:
                continue
            try:
                impl.function(*[event for _ in impl.argnames])
            except Exception as exc:  # an observer must not break what it observes
                name = self.pm.get_name(impl.plugin) or type(impl.plugin).__name__
                logger.warning("a secretstores_event implementation failed (plugin %r): %s",
                               name, type(exc).__name__)

    def store_type(self, name: str, *, where: str) -> StoreType:
        """Return the store type called ``name``, or raise an error saying what to install."""
        types = self.store_types()
        if name in types:
            return types[name][0]
        raise PluginNotInstalledError([unknown_type_problem(name, where, types, self.failed)])

    def info(self) -> list[PluginInfo]:
        """Describe every registered plugin (name, version, hooks, store types)."""
        by_plugin: dict[str, list[StoreType]] = {}
        for store_type, plugin_name in self.store_types().values():
            by_plugin.setdefault(plugin_name, []).append(store_type)
        result = []
        for name, plugin in self.pm.list_name_plugin():
            hooks = tuple(
                sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])
            )
            builtin = name in self._builtin
            types = tuple(sorted(by_plugin.get(name, []), key=lambda t: t.name))
            result.append(
                PluginInfo(
                    name=name,
                    version=_core_version() if builtin else self._dists.get(name),
                    hooks=hooks,
                    store_types=tuple(t.name for t in types),
                    builtin=builtin,
                    types=types,
                    distribution=self._dist_names.get(name),
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


def unknown_type_problem(name: str, where: str, types: dict[str, Any],
                         failed: Sequence[FailedPlugin] = ()) -> str:
    """The message for a store type no loaded plugin declares (naming plugins that
    failed to load, one of which may be the one that declares it)."""
    broken = "".join(f"; plugin '{f.name}' failed to load: {f.error}" for f in failed)
    if name in KNOWN_TYPES:
        dist = KNOWN_TYPES[name]
        return (
            f"{where}: store type '{name}' needs a plugin that is not installed or not "
            f"loaded: pip install {dist}{broken}"
        )
    known = ", ".join(sorted(types)) or "none"
    return f"{where}: unknown store type '{name}' (known types: {known}){broken}"


def _core_version() -> str:
    from secretstores import __version__

    return __version__


_default: Plugins | None = None
_default_lock = threading.Lock()


def _reset_default_lock() -> None:
    global _default_lock
    _default_lock = threading.Lock()


forks.register_function(_reset_default_lock)


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
