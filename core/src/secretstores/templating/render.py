"""Rendering: compile once, collect references, fetch them in one batch per store, render.

Each static reference ``secrets.STORE.KEY`` is compiled into a plain template
variable (:func:`~secretstores.templating.references.bind_references`); before
rendering, every such variable is filled from the cache's memory tier or from
one fetch per store, stores in parallel. A value the render cannot have
(denied, unavailable, missing) is a problem value that fails only where the
template uses it (:mod:`~secretstores.templating.values`).

A *dynamic* template (keys computed at run time, ``secrets`` passed around or
bound locally) is rendered once as a probe: run-time references the memory
tier answers are served, the others are collected. If any were collected,
they are fetched together (one batch per store, stores in parallel) and the
template is rendered again; otherwise the probe was the render.

Every problem of a render (of every leaf of ``render_data``) is recorded where
it happens and raised at the end as one :class:`~secretstores.errors.TemplateError`,
outside any ``except`` block, so it carries no ``__context__``.
"""

from __future__ import annotations

import re
import secrets as token_source
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from io import StringIO
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs
import jinja2
from jinja2 import nodes
from jinja2.utils import pass_context
from jinja2.visitor import NodeTransformer

from secretstores.config.suggest import closest, did_you_mean
from secretstores.errors import TemplateError
from secretstores.model import FetchResult, Status, StoreSpec
from secretstores.templating.environment import Bounded, SecretsEnvironment, has_loops
from secretstores.templating.limits import DEFAULT_LIMITS, TemplateLimits
from secretstores.templating.namespace import SecretsNamespace, problem_value
from secretstores.templating.references import (
    RESERVED_PREFIX,
    Reference,
    analyze,
    bind_references,
    slot_variable,
)
from secretstores.templating.state import (
    CURRENT,
    ProblemReported,
    RenderState,
    describe,
)
from secretstores.templating.syntax import rewrite_raw_identifiers
from secretstores.templating.values import FailedSecret, MissingSecret, secret_text, secret_value

if TYPE_CHECKING:
    from secretstores.runtime import StoreRuntime

_TEMPLATE_CACHE_SIZE = 512


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
    memo: tuple[str, Any] | None = attrs.field(default=None, repr=False)
    #: added to "not found": the mapping a mistyped name most likely meant
    hint: str = ""


@attrs.frozen
class Compiled:
    """A compiled template: its references, their slots, its static problems.

    ``problems`` are (line, message) pairs found before rendering (unknown
    stores and mappings): they fail every render, whichever branch runs;
    ``failed`` holds the variables those references are bound to. ``dynamic``
    says the template looks secrets up at run time; ``literals`` are the names
    and constants its source spells out.
    """

    name: str
    template: jinja2.Template
    references: tuple[Reference, ...]
    slots: tuple[Slot, ...]
    problems: tuple[tuple[int, str], ...]
    failed: Mapping[str, FailedSecret]
    dynamic: bool
    literals: frozenset[object]
    env_file: bool = False
    loops: bool = False


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


#: The private filter an env file's ``{{ }}`` outputs are compiled through.
PLACEHOLDER_FILTER = "__secretstores_value"


@pass_context
def placeholder(context: Any, value: Any) -> str:
    """An env file's ``{{ }}`` output: a placeholder, filled in only after the file's
    lines are parsed (see :meth:`Renderer.render_env`). Takes the context so that
    Jinja2 never folds it at compile time."""
    state = CURRENT.get()
    if state is None or not state.nonce:
        return str(value)
    text = str(value)
    state.placeholders.append(text)
    return f"{state.nonce}{len(state.placeholders) - 1}X"


class _EnvValues(NodeTransformer):
    """An env file's ``{{ }}`` outputs become placeholders, except inside macros and
    ``{% set %}`` blocks, whose output is a value once written out."""

    def __init__(self) -> None:
        self.refused: tuple[int, str] | None = None

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        node.nodes = [child if isinstance(child, nodes.TemplateData) else
                      nodes.Filter(self.visit(child), PLACEHOLDER_FILTER, [], [], None, None,
                                   lineno=child.lineno)
                      for child in node.nodes]
        return node

    def visit_Macro(self, node: nodes.Macro) -> nodes.Node:
        return node

    visit_AssignBlock = visit_Macro

    def visit_FilterBlock(self, node: nodes.Node) -> nodes.Node:
        if self.refused is None:
            what = "{% filter %}" if isinstance(node, nodes.FilterBlock) else "{% call %}"
            self.refused = (node.lineno, f"env files cannot use {what} blocks outside macros "
                                         f"(their output would not be a value): apply filters "
                                         f"to values, {{{{ value | filter }}}}")
        return node

    visit_CallBlock = visit_FilterBlock


class _Lookups:
    """The run-time references of one render, and their answers.

    While ``probing``, a reference the memory tier cannot answer is collected
    (and answered ``None``) instead of fetched; :meth:`fetch_collected` then
    fetches them all in one batch per store.
    """

    def __init__(self, runtimes: Mapping[str, StoreRuntime],
                 memory: Callable[[Any], tuple[Any, ...] | None]) -> None:
        self.runtimes = runtimes
        self.memory = memory
        self.answers: dict[tuple[str, str], FetchResult] = {}
        self.collected: dict[str, dict[str, None]] = {}
        self.probing = False

    def __call__(self, spec: StoreSpec, identifier: str) -> FetchResult | None:
        key = (spec.name, identifier)
        result = self.answers.get(key)
        if result is not None:
            return result
        runtime = self.runtimes[spec.name]
        if self.probing:
            item = self.memory(runtime.memory_key(identifier))
            now = time.monotonic()
            if item is not None and item[0] > now:
                result = FetchResult.found(item[1])
                if runtime.plugins.listening:
                    runtime.emit_cached([identifier])
            elif item is not None and item[1] is None and item[3] > now:
                result = FetchResult.not_found(item[2].message)
            else:
                self.collected.setdefault(spec.name, {})[identifier] = None
                return None
        else:  # reached only in the second render: fetched when reached
            result = runtime.fetch([identifier])[identifier]
        self.answers[key] = result
        return result

    def fetch_collected(self) -> None:
        started = [(store, self.runtimes[store].fetch_begin(list(identifiers)))
                   for store, identifiers in self.collected.items()]
        for store, fetch in started:
            for identifier, result in fetch.wait().items():
                self.answers[(store, identifier)] = result
        self.collected.clear()

    def texts(self) -> list[str]:
        return [r.value for r in self.answers.values() if r.value]


class Renderer:
    """Renders templates against a set of stores; thread-safe, made once, used many times."""

    def __init__(
        self,
        runtimes: Mapping[str, StoreRuntime],
        memory: Callable[[Any], tuple[Any, ...] | None],
        limits: TemplateLimits = DEFAULT_LIMITS,
        count_hits: Callable[[int], None] = lambda n: None,
    ) -> None:
        self._runtimes = runtimes
        self.limits = limits
        self._memory = memory
        self._count_hits = count_hits  # answers the warm path served (cache stats)
        self._specs: dict[str, StoreSpec] = {n: r.spec for n, r in runtimes.items()}
        plugins = next(iter(runtimes.values())).plugins if runtimes else None
        self._listening: Callable[[], bool] = (
            (lambda: plugins.listening) if plugins is not None else (lambda: False))
        self.environment = SecretsEnvironment(limits=limits)
        self.environment.filters[PLACEHOLDER_FILTER] = placeholder
        self._compiled: dict[tuple[str, str, bool], Compiled] = {}
        self._lock = threading.Lock()

    # -- compiling ----------------------------------------------------------

    def compiled(self, source: str, name: str) -> Compiled | None:
        """The template compiled before, if it is (compiling may do I/O: store scopes)."""
        return self._compiled.get((source, name, False))

    def compile(self, source: str, name: str, *, env_file: bool = False) -> Compiled:
        """Parse, check and compile ``source`` (cached by source and name); raise a
        :class:`TemplateError` for a syntax error, with its line."""
        key = (source, name, env_file)
        compiled = self._compiled.get(key)
        if compiled is not None:
            return compiled
        compiled, problem = self._compile(source, name, env_file)
        if compiled is None:
            raise TemplateError([problem or f"{name}: cannot compile"], template=name)
        with self._lock:
            if len(self._compiled) >= _TEMPLATE_CACHE_SIZE:
                self._compiled.pop(next(iter(self._compiled)))
            self._compiled[key] = compiled
        return compiled

    def _compile(self, source: str, name: str, env_file: bool
                 ) -> tuple[Compiled | None, str | None]:
        env = self.environment
        try:
            ast = env.parse(rewrite_raw_identifiers(source, name), name=name, filename=name)
            unknown = _unknown_filters(env, ast) or _reserved_names(ast)
            if unknown is not None:
                return None, f"{name}:{unknown[0]}: syntax error: {unknown[1]}"
            analysis = analyze(ast)
            slots, problems, failed = self._plan(analysis.references)
            variables = {(s.runtime.name, ref.key): s.variable
                         for s in slots for ref in s.references}
            variables.update({(ref.store, ref.key): slot_variable(ref.store, ref.key or "")
                              for ref in analysis.references if ref.key is not None
                              and (ref.store, ref.key) not in variables})
            bind_references(ast, analysis, lambda store, key: variables.get((store, key)))
            loops = has_loops(ast)
            ast = Bounded().visit(ast)
            if env_file:
                values = _EnvValues()
                ast = values.visit(ast)
                if values.refused is not None:
                    return None, f"{name}:{values.refused[0]}: {values.refused[1]}"
            code = env.compile(ast, name=name, filename=name)
            template = env.template_class.from_code(env, code, env.make_globals(None), None)
        except jinja2.TemplateSyntaxError as exc:  # TemplateAssertionError too
            return None, f"{name}:{exc.lineno or '?'}: syntax error: {exc.message}"
        except RecursionError:
            return None, f"{name}:?: the template nests too deeply to compile"
        return Compiled(name, template, analysis.references, slots, problems, failed,
                        analysis.dynamic, analysis.literals, env_file, loops), None

    def _plan(self, references: Sequence[Reference]) -> tuple[
            tuple[Slot, ...], tuple[tuple[int, str], ...], dict[str, FailedSecret]]:
        problems: list[tuple[int, str]] = []
        failed: dict[str, FailedSecret] = {}
        grouped: dict[tuple[str, str], list[Reference]] = {}
        for ref in references:
            spec = self._specs.get(ref.store)
            if spec is None:
                known = ", ".join(sorted(self._specs)) or "none"
                message = (f"{ref}: unknown store '{ref.store}'"
                           f"{did_you_mean(ref.store, self._specs)} (configured stores: {known})")
            elif ref.key is None:  # a key computed at run time: looked up when reached
                continue
            elif spec.resolve(ref.key) is None:
                message = (f"{ref}: '{ref.key}' is not a mapping of store '{spec.name}'"
                           f"{did_you_mean(ref.key, spec.mappings)} and direct access is off "
                           f"(allowDirectAccess: false)")
            else:
                grouped.setdefault((ref.store, ref.key), []).append(ref)
                continue
            problems.append((ref.lineno, message))
            if ref.key is not None:
                failed.setdefault(slot_variable(ref.store, ref.key),
                                  FailedSecret(message, reported=True))
        slots = []
        for (store, key), refs in grouped.items():
            identifier = self._specs[store].resolve(key)
            assert identifier is not None
            runtime = self._runtimes[store]
            mappings = self._specs[store].mappings
            meant = None if key in mappings else closest(key, mappings)
            hint = f" (did you mean {_label(store, meant)}?)" if meant is not None else ""
            slots.append(Slot(slot_variable(store, key), runtime, identifier, _label(store, key),
                              tuple(refs), runtime.memory_key(identifier), hint=hint))
        return tuple(slots), tuple(problems), failed

    # -- fetching -----------------------------------------------------------

    def prefetch(self, compiled: Sequence[Compiled]) -> dict[str, Any]:
        """The values of every static reference: one batch per store, stores in parallel.

        Never raises for what a store answers: a missing, denied or unreachable
        secret becomes a value that fails where the template uses it.
        """
        values: dict[str, Any] = {}
        pending: dict[str, dict[str, list[Slot]]] = {}
        now = time.monotonic()
        get = self._memory
        hits = 0
        for item in compiled:
            if item.failed:
                values.update(item.failed)
            for slot in item.slots:
                # the warm path: one dict lookup per reference, no I/O, no locks
                entry = get(slot.key)
                if entry is not None and entry[0] > now:
                    hits += 1
                    memo = slot.memo
                    if memo is None or memo[0] is not entry[1]:
                        memo = slot.memo = (entry[1], secret_value(entry[1], slot.label))
                    values[slot.variable] = memo[1]
                else:
                    pending.setdefault(slot.runtime.name, {}).setdefault(
                        slot.identifier, []).append(slot)
        if hits:
            self._count_hits(hits)
        if pending:
            self._fetch_pending(pending, values)
        if self._listening():
            self._emit_cached(compiled, pending)
        return values

    def prefetch_cached(self, compiled: Sequence[Compiled]) -> dict[str, Any] | None:
        """The values of every static reference from the memory tier alone, or None when
        any needs I/O (the cache's disk or the store)."""
        values: dict[str, Any] = {}
        now = time.monotonic()
        get = self._memory
        for item in compiled:
            if item.failed:
                values.update(item.failed)
            for slot in item.slots:
                entry = get(slot.key)
                if entry is None:
                    return None
                if entry[0] > now:
                    memo = slot.memo
                    if memo is None or memo[0] is not entry[1]:
                        memo = slot.memo = (entry[1], secret_value(entry[1], slot.label))
                    values[slot.variable] = memo[1]
                elif entry[1] is None and entry[3] > now:  # "not found", still fresh
                    message = entry[2].message
                    values[slot.variable] = MissingSecret(
                        f"{slot.label}: not found" + (f" ({message})" if message else "")
                        + slot.hint, name=slot.label)
                else:
                    return None
        self._count_hits(sum(len(item.slots) for item in compiled))
        if self._listening():
            self._emit_cached(compiled, {})
        return values

    def _emit_cached(self, compiled: Sequence[Compiled],
                     pending: Mapping[str, Mapping[str, Any]]) -> None:
        """One fetch event per store for the references the memory tier answered."""
        hits: dict[str, dict[str, None]] = {}
        for item in compiled:
            for slot in item.slots:
                if slot.identifier not in pending.get(slot.runtime.name, ()):
                    hits.setdefault(slot.runtime.name, {})[slot.identifier] = None
        for store, identifiers in hits.items():
            self._runtimes[store].emit_cached(list(identifiers))

    def _fetch_pending(self, pending: dict[str, dict[str, list[Slot]]],
                       values: dict[str, Any]) -> None:
        runtimes = self._runtimes
        # Every store's fetch starts at once, on its own lane of the shared workers;
        # each is waited for no longer than its store's deadline.
        started = [(store, runtimes[store].fetch_begin(wanted))
                   for store, wanted in pending.items()]
        answers = [(store, fetch.wait()) for store, fetch in started]
        for store, results in answers:
            for identifier, slots in pending[store].items():
                result = results.get(identifier) or FetchResult.unavailable("no answer")
                for slot in slots:
                    if result.status is Status.FOUND:
                        values[slot.variable] = secret_value(result.value or "", slot.label)
                    else:
                        values[slot.variable] = problem_value(slot.label, result, literal=True,
                                                              hint=slot.hint)

    # -- rendering ----------------------------------------------------------

    def render(self, compiled: Sequence[Compiled],
               context: Mapping[str, Any] | None = None) -> list[str]:
        """Fetch and render ``compiled`` (the leaves of one render); one text each.

        Raises one :class:`TemplateError` listing every problem of every leaf.
        """
        return self.render_values(compiled, self.prefetch(compiled), context)

    def render_cached(self, compiled: Sequence[Compiled],
                      context: Mapping[str, Any] | None = None) -> list[str] | None:
        """:meth:`render` if it needs no I/O at all (every value in the memory tier and
        no run-time lookups), else None. The asyncio API renders on the loop with it."""
        if any(item.dynamic for item in compiled):
            return None
        values = self.prefetch_cached(compiled)
        if values is None:
            return None
        return self.render_values(compiled, values, context)

    def render_values(self, compiled: Sequence[Compiled], values: dict[str, Any],
                      context: Mapping[str, Any] | None = None) -> list[str]:
        """Render ``compiled`` with the prefetched ``values``."""
        state = self._state(compiled, values)
        texts = self._render_all(compiled, values, context, state)
        if state.problems:
            error = state.error()
            del texts, values, state  # no value left in this frame's locals
            raise error
        return texts

    def render_env(self, compiled: Compiled, context: Mapping[str, Any] | None = None
                   ) -> dict[str, str]:
        """Render a dotenv template into variables.

        Every ``{{ }}`` output is a placeholder while the rendered lines are parsed
        (python-dotenv's rules: quotes, escapes, ``export``, comments), and is put
        into the parsed value afterwards, as is: no value can end a line, close a
        quote or start another variable, whatever it holds.
        """
        values = self.prefetch([compiled])
        state = self._state([compiled], values)
        state.nonce = "SSV" + token_source.token_hex(8)
        text = self._render_all([compiled], values, context, state)[0]
        variables = _parse_env(text, compiled.name, state)
        if state.problems:
            error = state.error()
            del text, variables, values, state  # no value left in this frame's locals
            raise error
        return variables

    def _state(self, compiled: Sequence[Compiled], values: dict[str, Any]) -> RenderState:
        if len(compiled) == 1:
            literals = compiled[0].literals
        else:
            literals = frozenset().union(*(item.literals for item in compiled))
        state = RenderState(literals, {item.name: i for i, item in enumerate(compiled)})
        state.secrets.append(lambda: [t for t in map(secret_text, values.values()) if t])
        for item in compiled:
            for line, message in item.problems:
                state.add(item.name, line, message)
        return state

    def _render_all(self, compiled: Sequence[Compiled], values: dict[str, Any],
                    context: Mapping[str, Any] | None, state: RenderState) -> list[str]:
        texts: dict[int, str] = {}
        lookups = None
        if any(item.dynamic for item in compiled):
            lookups = _Lookups(self._runtimes, self._memory)
            state.secrets.append(lookups.texts)
            lookups.probing = True
            mark = state.mark()
            for index, item in enumerate(compiled):
                if item.dynamic:
                    texts[index] = self._render_one(item, values, context, state, lookups)
            lookups.probing = False
            if lookups.collected:  # render again once they are fetched, all together
                state.rollback(mark)
                texts.clear()
                lookups.fetch_collected()
        return [texts[index] if index in texts else
                self._render_one(item, values, context, state, lookups)
                for index, item in enumerate(compiled)]

    def _render_one(self, compiled: Compiled, values: dict[str, Any],
                    context: Mapping[str, Any] | None, state: RenderState,
                    lookups: _Lookups | None) -> str:
        if context:
            variables = dict(context)
            variables.update(values)
        else:
            variables = dict(values)
        if lookups is not None:
            variables["secrets"] = SecretsNamespace(self._specs, lookups)
        failure: str | None = None
        line: int | None = None
        limit = self.limits.max_output
        text: str | None
        token = CURRENT.set(state)
        try:
            if not compiled.loops:  # its output is bounded by its expressions
                text = compiled.template.render(variables)
            else:  # counted as it is written
                text = _bounded_join(compiled.template.generate(variables), limit)
            if text is not None and len(text) <= limit:
                return text
            failure = f"the render wrote more than {limit} characters (limit: max_output)"
        except ProblemReported:
            pass  # recorded where it happened
        except Exception as exc:  # its text may hold values: only its type is shown
            failure, line = describe(exc), template_line(exc.__traceback__)
        finally:
            CURRENT.reset(token)
        if failure is not None:
            state.add(compiled.name, line, failure)
        return ""


def _reserved_names(ast: nodes.Template) -> tuple[int, str] | None:
    """The first name a template may not use: the variables references compile into."""
    for node in ast.find_all(nodes.Name):
        if node.name.startswith(RESERVED_PREFIX):
            return node.lineno, f"names starting with '{RESERVED_PREFIX}' are reserved"
    return None


def _unknown_filters(env: jinja2.Environment, ast: jinja2.nodes.Template
                     ) -> tuple[int, str] | None:
    """The first filter or test the environment lacks: Jinja2 leaves one inside an
    ``{% if %}`` to fail at run time, only if reached; here it fails at once."""
    for node in ast.find_all((jinja2.nodes.Filter, jinja2.nodes.Test)):
        if isinstance(node, jinja2.nodes.Filter) and node.name not in env.filters:
            return node.lineno, f"No filter named '{node.name}'."
        if isinstance(node, jinja2.nodes.Test) and node.name not in env.tests:
            return node.lineno, f"No test named '{node.name}'."
    return None


def _bounded_join(pieces: Iterator[str], limit: int) -> str | None:
    """The pieces joined, or None as soon as they pass ``limit`` characters."""
    parts: list[str] = []
    total = 0
    for piece in pieces:
        total += len(piece)
        if total > limit:
            return None
        parts.append(piece)
    return "".join(parts)


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _parse_env(text: str, name: str, state: RenderState) -> dict[str, str]:
    """Parse a rendered env file's lines, then put the placeholders' values in."""
    from dotenv.parser import parse_stream

    placeholders = state.placeholders
    marker = re.compile(re.escape(state.nonce) + r"(\d+)X")

    def fill(part: str) -> str:
        return marker.sub(lambda m: placeholders[int(m.group(1))], part)

    variables: dict[str, str] = {}
    for binding in parse_stream(StringIO(text)):
        original = binding.original.string
        line = binding.original.line + original[:len(original) - len(original.lstrip())].count(
            "\n")
        if binding.error:
            state.add(name, line, "expected KEY=value (a quote may be left open)")
            continue
        if binding.key is None:
            continue
        if marker.search(binding.key):
            key = fill(binding.key)
            if not _ENV_NAME.fullmatch(key):
                state.add(name, line, "a variable name the template computed is not a valid "
                                      "name (letters, digits and _)")
                continue
        else:
            key = binding.key
            if not _ENV_NAME.fullmatch(key):
                state.add(name, line, f"{key!r} is not a valid variable name (letters, digits "
                                      f"and _, not starting with a digit)")
                continue
        if binding.value is None:
            state.add(name, line, f"{key}: expected KEY=value (write {key}= for an empty value)")
            continue
        value = fill(binding.value)
        if "\x00" in value:
            state.add(name, line, f"{key}: the value holds a NUL character, which environment "
                                  f"variables cannot hold")
            continue
        variables[key] = value
    return variables

