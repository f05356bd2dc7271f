"""Rendering: compile once, collect references, fetch them in one batch per store, render."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs
import jinja2

from secretstores.errors import (
    SecretLookupError,
    SecretStoresError,
    StoreError,
    TemplateError,
)
from secretstores.model import FetchResult, Status, StoreSpec
from secretstores.runtime import redact
from secretstores.templating.environment import SecretsEnvironment
from secretstores.templating.namespace import SecretsNamespace
from secretstores.templating.references import Reference, collect_references
from secretstores.templating.syntax import rewrite_raw_identifiers

if TYPE_CHECKING:
    from secretstores.runtime import StoreRuntime

_TEMPLATE_CACHE_SIZE = 512


@attrs.frozen
class Compiled:
    """A compiled template and the references it makes, by name for messages."""

    name: str
    template: jinja2.Template
    references: tuple[Reference, ...]


def template_line(tb: TracebackType | None) -> int | None:
    """The template line an exception was raised at, from Jinja2's rewritten traceback."""
    line = None
    while tb is not None:
        if "__jinja_exception__" in tb.tb_frame.f_globals or \
                "__jinja_template__" in tb.tb_frame.f_globals:
            template = tb.tb_frame.f_globals.get("__jinja_template__")
            line = (template.get_corresponding_lineno(tb.tb_lineno) if template is not None
                    else tb.tb_lineno)
        tb = tb.tb_next
    return line


class Renderer:
    """Renders templates against a set of stores; thread-safe, made once, used many times."""

    def __init__(
        self,
        runtimes: Mapping[str, StoreRuntime],
        executor: Callable[[], ThreadPoolExecutor],
    ) -> None:
        self._runtimes = runtimes
        self._specs: dict[str, StoreSpec] = {n: r.spec for n, r in runtimes.items()}
        self._executor = executor
        self.environment = SecretsEnvironment()
        self._compiled: dict[tuple[str, str], Compiled] = {}
        self._lock = threading.Lock()

    # -- compiling ----------------------------------------------------------

    def compile(self, source: str, name: str) -> Compiled:
        """Parse and compile ``source`` (cached by source and name)."""
        key = (source, name)
        compiled = self._compiled.get(key)
        if compiled is not None:
            return compiled
        rewritten = rewrite_raw_identifiers(source)
        try:
            ast = self.environment.parse(rewritten, name=name, filename=name)
            code = self.environment.compile(ast, name=name, filename=name)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError([f"{name}:{exc.lineno}: syntax error: {exc.message}"],
                                template=name) from None
        template = self.environment.template_class.from_code(
            self.environment, code, self.environment.make_globals(None), None
        )
        compiled = Compiled(name, template, tuple(collect_references(ast)))
        with self._lock:
            if len(self._compiled) >= _TEMPLATE_CACHE_SIZE:
                self._compiled.pop(next(iter(self._compiled)))
            self._compiled[key] = compiled
        return compiled

    # -- fetching -----------------------------------------------------------

    def prefetch(self, compiled: Sequence[Compiled]) -> dict[tuple[str, str], FetchResult]:
        """Fetch every static reference of ``compiled``: one batch per store, stores in parallel.

        Raises one :class:`TemplateError` listing every unknown store, unknown
        mapping, denied secret and unreachable store, each with its line.
        """
        problems: list[str] = []
        wanted: dict[str, dict[str, list[tuple[str, Reference]]]] = {}
        for item in compiled:
            for ref in item.references:
                spec = self._specs.get(ref.store)
                if spec is None:
                    known = ", ".join(sorted(self._specs)) or "none"
                    problems.append(f"{item.name}:{ref.lineno}: {ref}: unknown store "
                                    f"'{ref.store}' (configured stores: {known})")
                    continue
                if ref.key is None:
                    continue
                identifier = spec.resolve(ref.key)
                if identifier is None:
                    problems.append(
                        f"{item.name}:{ref.lineno}: {ref}: '{ref.key}' is not a mapping of "
                        f"store '{spec.name}' and direct access is off (allowDirectAccess: false)")
                    continue
                wanted.setdefault(spec.name, {}).setdefault(identifier, []).append(
                    (item.name, ref))
        if problems:
            raise TemplateError(problems, template=compiled[0].name if compiled else None)

        results: dict[tuple[str, str], FetchResult] = {}
        pending: dict[str, list[str]] = {}
        for store, identifiers in wanted.items():
            runtime = self._runtimes[store]
            for identifier in identifiers:
                value = runtime.cached(identifier)
                if value is not None:
                    results[(store, identifier)] = FetchResult.found(value)
                else:
                    pending.setdefault(store, []).append(identifier)
        if len(pending) == 1:
            [(store, missing)] = pending.items()
            fetched = [(store, self._runtimes[store].fetch_uncached(missing))]
        elif pending:
            pool = self._executor()
            futures = [(s, pool.submit(self._runtimes[s].fetch_uncached, ids))
                       for s, ids in pending.items()]
            fetched = [(s, f.result()) for s, f in futures]
        else:
            fetched = []
        for store, answers in fetched:
            for identifier, result in answers.items():
                results[(store, identifier)] = result
                if result.status in (Status.DENIED, Status.UNAVAILABLE):
                    for template_name, ref in wanted[store][identifier]:
                        what = "access denied" if result.status is Status.DENIED else \
                            "store unavailable"
                        problems.append(f"{template_name}:{ref.lineno}: {ref}: {what}: "
                                        f"{result.message}")
        if problems:
            raise TemplateError(problems, template=compiled[0].name if compiled else None)
        return results

    def all_cached(self, compiled: Compiled) -> bool:
        """Whether every reference of ``compiled`` is static and in the memory tier."""
        for ref in compiled.references:
            runtime = self._runtimes.get(ref.store)
            if runtime is None or ref.key is None:
                return False
            identifier = runtime.spec.resolve(ref.key)
            if identifier is None or runtime.cached_in_memory(identifier) is None:
                return False
        return True

    def _resolver(self, results: dict[tuple[str, str], FetchResult]
                  ) -> Callable[[StoreSpec, str], FetchResult]:
        runtimes = self._runtimes

        def resolve(spec: StoreSpec, identifier: str) -> FetchResult:
            result = results.get((spec.name, identifier))
            if result is None:  # a dynamic reference: fetched when reached
                result = runtimes[spec.name].fetch([identifier])[identifier]
                results[(spec.name, identifier)] = result
            return result

        return resolve

    # -- rendering ----------------------------------------------------------

    def render(self, compiled: Compiled, results: dict[tuple[str, str], FetchResult],
               context: Mapping[str, Any] | None = None) -> str:
        """Render one compiled template with prefetched ``results``."""
        secrets = SecretsNamespace(self._specs, self._resolver(results))
        variables = dict(context or {})
        variables["secrets"] = secrets
        try:
            return compiled.template.render(variables)
        except SecretStoresError as exc:
            line = template_line(exc.__traceback__)
            message = str(exc)
            if isinstance(exc, StoreError) and exc.store and not isinstance(exc, SecretLookupError):
                message = message.removeprefix(f"store '{exc.store}': ")
            raise TemplateError([f"{compiled.name}:{line or '?'}: {message}"],
                                template=compiled.name) from None
        except jinja2.TemplateError as exc:
            line = getattr(exc, "lineno", None) or template_line(exc.__traceback__)
            raise TemplateError([f"{compiled.name}:{line or '?'}: {exc.message or exc}"],
                                template=compiled.name) from None
        except Exception as exc:  # e.g. a TypeError from an expression: hide every value
            line = template_line(exc.__traceback__)
            values = [r.value for r in results.values() if r.value is not None]
            message = redact(f"{type(exc).__name__}: {exc}", *values)
            raise TemplateError([f"{compiled.name}:{line or '?'}: {message}"],
                                template=compiled.name) from None
