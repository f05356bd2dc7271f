"""The Python API for host applications and the CLI: :class:`SecretStores`."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from secretstores.cache import SecretCache
from secretstores.config.load import find_config_file, load_config_file
from secretstores.config.model import Config, build_config
from secretstores.errors import (
    AccessDeniedError,
    SecretNotFoundError,
    StoreUnavailableError,
    TemplateError,
    UnknownReferenceError,
    UnknownStoreError,
)
from secretstores.model import FetchResult, Status, StoreSpec
from secretstores.plugins import Plugins, get_plugins
from secretstores.runtime import StoreRuntime
from secretstores.templating.references import Reference
from secretstores.templating.render import Compiled, Renderer

_TAG_START = ("{{", "{%", "{#")


class SecretStores:
    """A configured set of stores: fetch, write, and render templates with secrets.

    Made once from a configuration and used for many renders; safe to share
    between threads. Stores authenticate on first use.

    >>> stores = SecretStores.from_dict({"stores": [...]})      # doctest: +SKIP
    >>> stores.render_string("Bearer {{ secrets.vault.api_key }}")  # doctest: +SKIP
    """

    def __init__(
        self,
        config: Config,
        *,
        plugins: Plugins | None = None,
        cache: SecretCache | None = None,
    ) -> None:
        self.config = config
        self.plugins = plugins or get_plugins()
        settings = config.cache
        self.cache = cache or SecretCache(
            settings.directory, key_file=settings.key_file, enabled=settings.enabled
        )
        self._runtimes = {
            name: StoreRuntime(spec, plugins=self.plugins, cache=self.cache,
                               default_ttl=settings.ttl)
            for name, spec in config.stores.items()
        }
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._memory: Mapping[Any, tuple[float, str]] = self.cache.memory
        self._renderer = Renderer(self._runtimes, self._executor, self._memory)

    def __repr__(self) -> str:
        return f"SecretStores(stores={sorted(self._runtimes)!r}, source={self.config.source!r})"

    # -- construction -------------------------------------------------------

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any] | None = None,
        *,
        env_prefix: str = "SECRETSTORES",
        environ: Mapping[str, str] | None = None,
        strict_manager: bool | None = None,
        plugins: Plugins | None = None,
        cache: SecretCache | None = None,
        source: str | None = None,
    ) -> SecretStores:
        """Build from a configuration document (``{"stores": [...], "cache": {...}}``).

        :param env_prefix: the prefix of ``<PREFIX>_SECRETS_MANAGER`` and its family.
        :param environ: variables for ``${VAR}`` and the manager (default: os.environ).
        :param strict_manager: refuse instead of falling back to the database when
            the manager's variables are incomplete.
        """
        plugins = plugins or get_plugins()
        config = build_config(data, plugins=plugins, source=source, environ=environ,
                              env_prefix=env_prefix, strict_manager=strict_manager)
        return cls(config, plugins=plugins, cache=cache)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **options: Any) -> SecretStores:
        """Build from a JSON or TOML configuration file."""
        return cls.from_dict(load_config_file(path), source=str(path), **options)

    @classmethod
    def discover(cls, config: str | os.PathLike[str] | None = None,
                 **options: Any) -> SecretStores:
        """Build as the CLI does: ``config``, else ``$SECRETSTORES_CONFIG``, else a file in
        the current directory, else the default stores alone."""
        path = find_config_file(config)
        if path is None:
            return cls.from_dict(None, **options)
        return cls.from_file(path, **options)

    # -- stores -------------------------------------------------------------

    @property
    def stores(self) -> Mapping[str, StoreSpec]:
        """The configured stores by name."""
        return self.config.stores

    def runtime(self, store: str) -> StoreRuntime:
        """The live side of one store; raise :class:`UnknownStoreError` if not configured."""
        try:
            return self._runtimes[store]
        except KeyError:
            known = ", ".join(sorted(self._runtimes)) or "none"
            raise UnknownStoreError(
                f"unknown store '{store}' (configured stores: {known})", reference=store
            ) from None

    def check(self, store: str) -> None:
        """Authenticate to ``store`` now; raise if it fails."""
        self.runtime(store).check()

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(
                        max_workers=min(16, max(4, len(self._runtimes))),
                        thread_name_prefix="secretstores",
                    )
        return self._pool

    # -- reading ------------------------------------------------------------

    def _identifier(self, store: str, reference: str) -> str:
        identifier = self.runtime(store).spec.resolve(reference)
        if identifier is None:
            raise UnknownReferenceError(
                f"'{reference}' is not a mapping of this store and direct access is off",
                store=store, reference=reference)
        return identifier

    def fetch(self, store: str, references: Iterable[str]) -> dict[str, FetchResult]:
        """Results for several references of one store, fetched in one batch.

        Keys are the references as given (mapping names or identifiers).
        """
        refs = list(dict.fromkeys(references))
        idents = {ref: self._identifier(store, ref) for ref in refs}
        results = self.runtime(store).fetch(idents.values())
        return {ref: results[ident] for ref, ident in idents.items()}

    def get(self, store: str, reference: str) -> str:
        """The value of one secret (a mapping name or an identifier).

        Raises :class:`SecretNotFoundError`, :class:`AccessDeniedError` or
        :class:`StoreUnavailableError`; messages never hold the value.
        """
        runtime = self._runtimes.get(store)
        if runtime is not None:  # the warm path: straight from the memory tier
            identifier = runtime.spec.resolve(reference)
            if identifier is not None:
                entry = self._memory.get(runtime.memory_key(identifier))
                if entry is not None and entry[0] > time.monotonic():
                    return entry[1]
        result = self.fetch(store, [reference])[reference]
        if result.status is Status.FOUND and result.value is not None:
            return result.value
        error = {
            Status.NOT_FOUND: SecretNotFoundError,
            Status.DENIED: AccessDeniedError,
        }.get(result.status)
        if error is None:
            raise StoreUnavailableError(f"{reference}: {result.message}", store=store)
        raise error(f"{reference}: {result.message}", store=store, reference=reference)

    def list_names(self, store: str) -> list[str]:
        """The names of the secrets in ``store``, where its type can list them."""
        return self.runtime(store).list_names()

    # -- writing ------------------------------------------------------------

    def put(self, store: str, name: str, value: str) -> None:
        """Write secret ``name`` to ``store`` (raise :class:`ReadOnlyStoreError` if it cannot)."""
        if not isinstance(value, str):
            raise TypeError("secret values must be str")
        self.runtime(store).put(name, value)

    def delete(self, store: str, name: str) -> bool:
        """Delete secret ``name`` from ``store``; True when it existed."""
        return self.runtime(store).delete(name)

    def invalidate(self, store: str | None = None, reference: str | None = None) -> int:
        """Drop cached values: one secret, one store's, or all; return how many."""
        if store is None:
            return self.cache.invalidate()
        identifier = self._identifier(store, reference) if reference is not None else None
        return self.runtime(store).invalidate(identifier)

    # -- templates ----------------------------------------------------------

    def references(self, source: str, *, name: str = "<string>") -> list[Reference]:
        """The static ``secrets`` references of a template, without fetching anything."""
        return list(self._renderer.compile(source, name).references)

    def render_string(self, source: str, *, name: str = "<string>",
                      context: Mapping[str, Any] | None = None) -> str:
        """Render a template string; ``name`` appears in error messages with the line."""
        compiled = self._renderer.compile(source, name)
        values = self._renderer.prefetch([compiled])
        return self._renderer.render(compiled, values, context, owned=True)

    def render_file(self, path: str | os.PathLike[str], *,
                    context: Mapping[str, Any] | None = None) -> str:
        """Render a template file."""
        try:
            source = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise TemplateError([f"cannot read template {path}: {exc.strerror}"]) from None
        return self.render_string(source, name=str(path), context=context)

    def render_data(self, data: Any, *, name: str = "config",
                    context: Mapping[str, Any] | None = None) -> Any:
        """Render every string in a nested structure of dicts and lists.

        All references of all strings are fetched together first. Dict keys are
        not rendered. Errors name the string's path, e.g.
        ``config.headers.Authorization:1``.
        """
        leaves: dict[str, Compiled] = {}

        def collect(node: Any, path: str) -> None:
            if isinstance(node, str):
                if any(tag in node for tag in _TAG_START):
                    leaves[path] = self._renderer.compile(node, path)
            elif isinstance(node, Mapping):
                for key, value in node.items():
                    collect(value, f"{path}.{key}")
            elif isinstance(node, list | tuple):
                for index, value in enumerate(node):
                    collect(value, f"{path}[{index}]")

        collect(data, name)
        values = self._renderer.prefetch(list(leaves.values()))

        def build(node: Any, path: str) -> Any:
            if isinstance(node, str):
                compiled = leaves.get(path)
                return node if compiled is None else self._renderer.render(
                    compiled, values, context)
            if isinstance(node, Mapping):
                return {key: build(value, f"{path}.{key}") for key, value in node.items()}
            if isinstance(node, list | tuple):
                rendered = [build(value, f"{path}[{i}]") for i, value in enumerate(node)]
                return type(node)(rendered) if isinstance(node, tuple) else rendered
            return node

        return build(data, name)

    async def render_string_async(self, source: str, *, name: str = "<string>",
                                  context: Mapping[str, Any] | None = None) -> str:
        """:meth:`render_string` for asyncio: store I/O runs off the event loop.

        When every reference is already in the cache the render happens inline,
        without a thread hop.
        """
        compiled = self._renderer.compile(source, name)
        if self._renderer.all_cached(compiled):
            return self.render_string(source, name=name, context=context)
        return await asyncio.to_thread(self.render_string, source, name=name, context=context)

    async def render_data_async(self, data: Any, *, name: str = "config",
                                context: Mapping[str, Any] | None = None) -> Any:
        """:meth:`render_data` for asyncio (runs in a worker thread)."""
        return await asyncio.to_thread(self.render_data, data, name=name, context=context)

    # -- lifecycle ----------------------------------------------------------

    def close(self) -> None:
        """Close store sessions, the worker threads and the cache's files."""
        for runtime in self._runtimes.values():
            runtime.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
        self.cache.close()

    def __enter__(self) -> SecretStores:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

