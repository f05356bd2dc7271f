"""Rendering: compile once, collect references, fetch them in one batch per store, render.

Each static reference ``secrets.STORE.KEY`` is compiled into a plain template
variable (:func:`~secretstores.templating.references.bind_references`); before
rendering, every such variable is filled from the cache or from one fetch per
store, stores in parallel. References computed at run time
(``secrets.aws[name]``) go through the ``secrets`` namespace when reached.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs
import jinja2

from secretstores.errors import SecretLookupError, SecretStoresError, StoreError, TemplateError
from secretstores.model import FetchResult, Status, StoreSpec
from secretstores.runtime import redact
from secretstores.templating.environment import SecretsEnvironment
from secretstores.templating.namespace import MissingSecret, SecretsNamespace, SecretText
from secretstores.templating.references import (
    Reference,
    bind_references,
    collect_references,
    slot_variable,
)
from secretstores.templating.syntax import rewrite_raw_identifiers

if TYPE_CHECKING:
    from secretstores.runtime import StoreRuntime

_TEMPLATE_CACHE_SIZE = 512

#: Where prefetch leaves the list in which missing secrets record their uses.
MISSING = "__secretstores_missing"


@attrs.define
class Slot:
    """One distinct static reference of a template: where its value comes from.

    ``key`` is the reference's key in the cache's memory tier (None: never cached,
    and ``dict.get(None)`` misses); ``memo`` keeps the
    last value handed out, so a warm render reuses it instead of wrapping the
    same text again.
    """

    variable: str
    runtime: StoreRuntime
    identifier: str
    label: str
    references: tuple[Reference, ...]
    key: tuple[str, str] | None
    memo: tuple[str, SecretText] | None = None


@attrs.frozen
class Compiled:
    """A compiled template, its references, their slots, and its static problems."""

    name: str
    template: jinja2.Template
    references: tuple[Reference, ...]
    slots: tuple[Slot, ...]
    problems: tuple[str, ...]
    dynamic: bool


def template_line(tb: TracebackType | None) -> int | None:
    """The template line an exception was raised at, from Jinja2's rewritten traceback."""
    line = None
    while tb is not None:
        globals_ = tb.tb_frame.f_globals
        if "__jinja_exception__" in globals_ or "__jinja_template__" in globals_:
            template = globals_.get("__jinja_template__")
            line = (template.get_corresponding_lineno(tb.tb_lineno) if template is not None
                    else tb.tb_lineno)
        tb = tb.tb_next
    return line


def _label(store: str, key: str) -> str:
    return f"secrets.{store}.{key}" if key.isidentifier() else f"secrets.{store}.[{key}]"


class Renderer:
    """Renders templates against a set of stores; thread-safe, made once, used many times."""

    def __init__(
        self,
        runtimes: Mapping[str, StoreRuntime],
        executor: Callable[[], ThreadPoolExecutor],
        memory: Mapping[Any, tuple[float, str]],
    ) -> None:
        self._runtimes = runtimes
        self._memory = memory
        self._specs: dict[str, StoreSpec] = {n: r.spec for n, r in runtimes.items()}
        self._executor = executor
        self.environment = SecretsEnvironment()
        self._compiled: dict[tuple[str, str], Compiled] = {}
        self._lock = threading.Lock()

    # -- compiling ----------------------------------------------------------

    def compile(self, source: str, name: str) -> Compiled:
        """Parse, check and compile ``source`` (cached by source and name)."""
        key = (source, name)
        compiled = self._compiled.get(key)
        if compiled is not None:
            return compiled
        env = self.environment
        try:
            ast = env.parse(rewrite_raw_identifiers(source), name=name, filename=name)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError([f"{name}:{exc.lineno}: syntax error: {exc.message}"],
                                template=name) from None
        references = tuple(collect_references(ast))
        slots, problems = self._plan(name, references)
        bound = {(s.runtime.name, ref.key) for s in slots for ref in s.references}
        bind_references(ast, lambda store, key: (store, key) in bound)
        code = env.compile(ast, name=name, filename=name)
        template = env.template_class.from_code(env, code, env.make_globals(None), None)
        compiled = Compiled(name, template, references, slots, problems,
                            dynamic=any(ref.key is None for ref in references))
        with self._lock:
            if len(self._compiled) >= _TEMPLATE_CACHE_SIZE:
                self._compiled.pop(next(iter(self._compiled)))
            self._compiled[key] = compiled
        return compiled

    def _plan(self, name: str, references: Sequence[Reference]
              ) -> tuple[tuple[Slot, ...], tuple[str, ...]]:
        problems: list[str] = []
        grouped: dict[tuple[str, str], list[Reference]] = {}
        for ref in references:
            spec = self._specs.get(ref.store)
            if spec is None:
                known = ", ".join(sorted(self._specs)) or "none"
                problems.append(f"{name}:{ref.lineno}: {ref}: unknown store '{ref.store}' "
                                f"(configured stores: {known})")
            elif ref.key is not None:
                if spec.resolve(ref.key) is None:
                    problems.append(
                        f"{name}:{ref.lineno}: {ref}: '{ref.key}' is not a mapping of store "
                        f"'{spec.name}' and direct access is off (allowDirectAccess: false)")
                else:
                    grouped.setdefault((ref.store, ref.key), []).append(ref)
        slots = []
        for (store, key), refs in grouped.items():
            identifier = self._specs[store].resolve(key)
            assert identifier is not None
            runtime = self._runtimes[store]
            slots.append(Slot(slot_variable(store, key), runtime, identifier, _label(store, key),
                              tuple(refs), runtime.memory_key(identifier)))
        return tuple(slots), tuple(problems)

    # -- fetching -----------------------------------------------------------

    def prefetch(self, compiled: Sequence[Compiled]) -> dict[str, Any]:
        """The values of every static reference: one batch per store, stores in parallel.

        Raises one :class:`TemplateError` listing every unknown store, unknown
        mapping, denied secret and unreachable store, each with its line.
        """
        problems = [problem for item in compiled for problem in item.problems]
        if problems:
            raise TemplateError(problems, template=compiled[0].name)
        values: dict[str, Any] = {}
        pending: dict[str, dict[str, list[tuple[str, Slot]]]] = {}
        now = time.monotonic()
        get = self._memory.get
        for item in compiled:
            for slot in item.slots:
                # the warm path: one dict lookup per reference, no I/O, no locks
                entry = get(slot.key)
                if entry is not None and entry[0] > now:
                    memo = slot.memo
                    if memo is None or memo[0] is not entry[1]:
                        memo = slot.memo = (entry[1], SecretText(entry[1], slot.label))
                    values[slot.variable] = memo[1]
                else:
                    pending.setdefault(slot.runtime.name, {}).setdefault(
                        slot.identifier, []).append((item.name, slot))
        if pending:
            self._fetch_pending(pending, values, problems)
        if problems:
            raise TemplateError(problems, template=compiled[0].name)
        return values

    def _fetch_pending(self, pending: dict[str, dict[str, list[tuple[str, Slot]]]],
                       values: dict[str, Any], problems: list[str]) -> None:
        runtimes = self._runtimes
        if len(pending) == 1:
            [(store, wanted)] = pending.items()
            answers = [(store, runtimes[store].fetch(wanted))]
        else:
            pool = self._executor()
            futures = [(store, pool.submit(runtimes[store].fetch, list(wanted)))
                       for store, wanted in pending.items()]
            answers = [(store, future.result()) for store, future in futures]
        for store, results in answers:
            for identifier, uses in pending[store].items():
                result = results.get(identifier) or FetchResult.unavailable("no answer")
                for template_name, slot in uses:
                    if result.status is Status.FOUND:
                        values[slot.variable] = SecretText(result.value or "", slot.label)
                    elif result.status is Status.NOT_FOUND:
                        missing = values.setdefault(MISSING, [])
                        values[slot.variable] = MissingSecret(
                            hint=f"{slot.label}: not found ({result.message})", name=slot.label,
                            problems=missing)
                    else:
                        what = ("access denied" if result.status is Status.DENIED
                                else "store unavailable")
                        for ref in slot.references:
                            problems.append(f"{template_name}:{ref.lineno}: {ref}: {what}: "
                                            f"{result.message}")

    def all_cached(self, compiled: Compiled) -> bool:
        """Whether rendering ``compiled`` needs no I/O (every value in the memory tier)."""
        if compiled.dynamic or compiled.problems:
            return False
        now = time.monotonic()
        memory = self._memory
        return all((e := memory.get(s.key)) is not None and e[0] > now for s in compiled.slots)

    def _resolver(self) -> Callable[[StoreSpec, str], FetchResult]:
        runtimes = self._runtimes
        seen: dict[tuple[str, str], FetchResult] = {}

        def resolve(spec: StoreSpec, identifier: str) -> FetchResult:
            key = (spec.name, identifier)
            result = seen.get(key)
            if result is None:  # a reference computed at run time: fetched when reached
                result = seen[key] = runtimes[spec.name].fetch([identifier])[identifier]
            return result

        return resolve

    # -- rendering ----------------------------------------------------------

    def render(self, compiled: Compiled, values: dict[str, Any],
               context: Mapping[str, Any] | None = None, *, owned: bool = False) -> str:
        """Render one compiled template with the prefetched ``values``.

        ``owned`` says ``values`` is this call's own dict, which it may then extend
        in place instead of copying.
        """
        if context:
            variables = dict(context)
            variables.update(values)
        else:
            variables = values if owned else dict(values)
        variables["secrets"] = SecretsNamespace(self._specs, self._resolver())
        missing: list[tuple[int | None, str]] | None = variables.get(MISSING)
        if missing:
            missing.clear()  # the list is shared by the leaves of one render_data
        try:
            text = compiled.template.render(variables)
            if missing:
                raise TemplateError([f"{compiled.name}:{line or '?'}: {message}"
                                     for line, message in missing], template=compiled.name)
            return text
        except TemplateError:
            raise
        except SecretStoresError as exc:
            line = template_line(exc.__traceback__)
            message = str(exc)
            if isinstance(exc, StoreError) and exc.store and not isinstance(exc, SecretLookupError):
                message = message.removeprefix(f"store '{exc.store}': ")
            raise TemplateError([f"{compiled.name}:{line or '?'}: {message}"],
                                template=compiled.name) from None
        except jinja2.TemplateError as exc:
            line = getattr(exc, "lineno", None) or template_line(exc.__traceback__)
            message = redact(str(exc.message or exc), *_texts(values))
            raise TemplateError([f"{compiled.name}:{line or '?'}: {message}"],
                                template=compiled.name) from None
        except Exception as exc:  # e.g. a TypeError from an expression: hide every value
            line = template_line(exc.__traceback__)
            message = redact(f"{type(exc).__name__}: {exc}", *_texts(values))
            raise TemplateError([f"{compiled.name}:{line or '?'}: {message}"],
                                template=compiled.name) from None


def _texts(values: Mapping[str, Any]) -> list[str]:
    return [str.__str__(v) for v in values.values() if isinstance(v, SecretText)]
