"""The Python API for host applications and the CLI: :class:`SecretStores`."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping
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
from secretstores.templating.limits import DEFAULT_LIMITS, TemplateLimits
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
        limits: TemplateLimits | None = None,
    ) -> None:
        self.config = config
        self.plugins = plugins or get_plugins()
        settings = config.cache
        self.cache = cache or SecretCache(
            settings.directory, key_file=settings.key_file, enabled=settings.enabled,
            memory_entries=settings.memory_entries,
        )
        self._runtimes = {
            name: StoreRuntime(spec, plugins=self.plugins, cache=self.cache, settings=settings)
            for name, spec in config.stores.items()
        }
        self._memory = self.cache.getter  # the warm path's lookup into the memory tier
        self._renderer = Renderer(self._runtimes, self._memory, limits or DEFAULT_LIMITS,
                                  self.cache.count_memory_hits)

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
        limits: TemplateLimits | None = None,
        source: str | None = None,
    ) -> SecretStores:
        """Build from a configuration document (``{"stores": [...], "cache": {...}}``).

        :param env_prefix: the prefix of ``<PREFIX>_SECRETS_MANAGER`` and its family.
        :param environ: variables for ``${VAR}`` and the manager (default: os.environ).
        :param strict_manager: refuse instead of falling back to the database when
            the manager's variables are incomplete.
        :param limits: what one render may use (output, strings, integers, CPU time);
            see :class:`~secretstores.templating.limits.TemplateLimits`.
        """
        plugins = plugins or get_plugins()
        config = build_config(data, plugins=plugins, source=source, environ=environ,
                              env_prefix=env_prefix, strict_manager=strict_manager)
        return cls(config, plugins=plugins, cache=cache, limits=limits)

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

    def check(self, store: str) -> str:
        """Prove ``store`` works: authenticate, then the type's own check (a cheap
        authenticated call: token valid, mount present). Return what was verified;
        raise a :class:`~secretstores.errors.StoreError` saying what is wrong."""
        return self.runtime(store).check()

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
                entry = self._memory(runtime.memory_key(identifier))
                if entry is not None and entry[0] > time.monotonic():
                    self.cache.count_memory_hits()
                    if self.plugins.listening:
                        runtime.emit_cached([identifier])
                    value: str = entry[1]
                    return value
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
            for runtime in self._runtimes.values():
                runtime.leave_flights()
            return self.cache.invalidate()
        identifier = self._identifier(store, reference) if reference is not None else None
        return self.runtime(store).invalidate(identifier)

    # -- templates ----------------------------------------------------------

    def references(self, source: str, *, name: str = "<string>") -> list[Reference]:
        """The static ``secrets`` references of a template, without fetching anything."""
        return list(self._renderer.compile(source, name).references)

    def render_string(self, source: str, *, name: str = "<string>",
                      context: Mapping[str, Any] | None = None) -> str:
        """Render a template string; ``name`` appears in error messages with the line.

        Raises one :class:`TemplateError` listing every problem of the render.
        """
        compiled = self._renderer.compile(source, name)
        return self._renderer.render([compiled], context)[0]

    def render_file(self, path: str | os.PathLike[str], *,
                    context: Mapping[str, Any] | None = None) -> str:
        """Render a template file."""
        return self.render_string(_read_template(path), name=str(path), context=context)

    def render_env(self, source: str, *, name: str = "<env>",
                   context: Mapping[str, Any] | None = None) -> dict[str, str]:
        """Render a dotenv template (``KEY=value`` lines) into variables.

        The lines are parsed with python-dotenv's rules (quotes, escapes, ``export``,
        comments, no ``${VAR}`` expansion) before the values of ``{{ }}`` are put
        in, so a value is taken as it is and can never start another variable.
        """
        compiled = self._renderer.compile(source, name, env_file=True)
        return self._renderer.render_env(compiled, context)

    def render_data(self, data: Any, *, name: str = "config",
                    context: Mapping[str, Any] | None = None) -> Any:
        """Render every string in a nested structure of dicts and lists.

        All references of all strings are fetched together first. Dict keys are
        not rendered. Errors name the string's path, e.g.
        ``config.headers.Authorization:1`` or ``config["a.b"][0]:1``, and list
        every problem of every string at once.
        """
        leaves = self._compile_leaves(data, name)
        return _rebuild(data, iter(self._renderer.render(leaves, context)))

    def _compile_leaves(self, data: Any, name: str) -> list[Compiled]:
        leaves: list[Compiled] = []
        problems: list[str] = []
        for source, path in _template_leaves(data, name):
            try:
                leaves.append(self._renderer.compile(source, path))
            except TemplateError as exc:
                problems.extend(exc.problems)
        if problems:
            raise TemplateError(problems, template=name)
        return leaves

    async def render_string_async(self, source: str, *, name: str = "<string>",
                                  context: Mapping[str, Any] | None = None) -> str:
        """:meth:`render_string` for asyncio: store and cache I/O never runs on the loop.

        When every value is in the memory tier (and nothing is looked up at run
        time) the render happens inline, with exactly those values; otherwise it
        runs in a worker thread.
        """
        cached = self._renderer.compiled(source, name)
        if cached is None:  # compiling works out the stores' scopes: identity hooks, files
            return await asyncio.to_thread(self.render_string, source, name=name,
                                           context=context)
        texts = self._renderer.render_cached([cached], context)
        if texts is None:
            texts = await asyncio.to_thread(self._renderer.render, [cached], context)
        return texts[0]

    async def render_data_async(self, data: Any, *, name: str = "config",
                                context: Mapping[str, Any] | None = None) -> Any:
        """:meth:`render_data` for asyncio (inline when all cached, else in a thread)."""
        compiled = [self._renderer.compiled(source, path)
                     for source, path in _template_leaves(data, name)]
        if any(leaf is None for leaf in compiled):  # compiling may do I/O (store scopes)
            return await asyncio.to_thread(self.render_data, data, name=name, context=context)
        leaves = [leaf for leaf in compiled if leaf is not None]
        texts = self._renderer.render_cached(leaves, context)
        if texts is None:
            texts = await asyncio.to_thread(self._renderer.render, leaves, context)
        return _rebuild(data, iter(texts))

    # -- lifecycle ----------------------------------------------------------

    def close(self) -> None:
        """Close store sessions and the cache's files."""
        for runtime in self._runtimes.values():
            runtime.close()
        self.cache.close()

    def __enter__(self) -> SecretStores:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()



def _read_template(path: str | os.PathLike[str]) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 text (byte {exc.start})"
    raise TemplateError([f"cannot read template {path}: {reason}"], template=str(path))


def _child_path(path: str, key: Any) -> str:
    """``path.key`` for a name, ``path["a.b"]`` for other text, ``path[1]`` for the rest,
    so two leaves never print the same path."""
    if isinstance(key, str):
        return f"{path}.{key}" if key.isidentifier() else f"{path}[{json.dumps(key)}]"
    return f"{path}[{key!r}]"


def _template_leaves(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """The strings holding template tags in a structure, with their paths, in order."""
    if isinstance(node, str):
        if any(tag in node for tag in _TAG_START):
            yield node, path
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield from _template_leaves(value, _child_path(path, key))
    elif isinstance(node, list | tuple):
        for index, value in enumerate(node):
            yield from _template_leaves(value, f"{path}[{index}]")


def _rebuild(node: Any, texts: Iterator[str]) -> Any:
    """``node`` with its template strings replaced by ``texts``, in the order of
    :func:`_template_leaves`."""
    if isinstance(node, str):
        return next(texts) if any(tag in node for tag in _TAG_START) else node
    if isinstance(node, Mapping):
        return {key: _rebuild(value, texts) for key, value in node.items()}
    if isinstance(node, list | tuple):
        rendered = [_rebuild(value, texts) for value in node]
        return type(node)(rendered) if isinstance(node, tuple) else rendered
    return node
