"""The sandboxed Jinja2 environment secretstores renders with."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from jinja2 import Environment, nodes
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from secretstores.templating import limits as bounds
from secretstores.templating.filters import FILTERS
from secretstores.templating.limits import DEFAULT_LIMITS, TemplateLimits
from secretstores.templating.namespace import NAMESPACE_TYPES
from secretstores.templating.values import (
    LOOKUP_TYPES,
    MAPPING_METHODS,
    FailedSecret,
    MissingSecret,
    SafeUndefined,
    SecretList,
    SecretMapping,
)

_OURS = NAMESPACE_TYPES + LOOKUP_TYPES

#: The private filters :class:`Bounded` compiles loops and ``~`` into.
LOOP_FILTER = "__secretstores_loop"
CONCAT_FILTER = "__secretstores_concat"


def _guard_test(name: str, test: Callable[..., Any]) -> Callable[..., Any]:
    """A test that fails on a problem value instead of answering for it: ``is defined``
    never covers a denied or unavailable secret, and no test hides a missing one but
    ``defined`` and ``undefined``."""
    def guarded(*args: Any, **kwargs: Any) -> Any:
        for value in args:
            if isinstance(value, FailedSecret):
                value.fail()
            if isinstance(value, SafeUndefined) and name not in ("defined", "undefined"):
                value._fail_with_undefined_error()
            if not isinstance(value, Environment | Context | EvalContext):
                break  # the value tested comes after what Jinja2 passes first
        return test(*args, **kwargs)

    guarded.__name__ = getattr(test, "__name__", name)
    guarded.__doc__ = test.__doc__
    if hasattr(test, "jinja_pass_arg"):
        guarded.jinja_pass_arg = test.jinja_pass_arg  # type: ignore[attr-defined]
    return guarded


def _tojson(original: Callable[..., Any]) -> Callable[..., Any]:
    """Jinja2's ``tojson``, writing a JSON secret as its JSON (numbers stay numbers)."""
    def tojson(environment: Any, value: Any, indent: int | None = None) -> Any:
        if isinstance(value, SecretMapping | SecretList):
            value = value.raw()
        return original(environment, value, indent)

    tojson.jinja_pass_arg = original.jinja_pass_arg  # type: ignore[attr-defined]
    return tojson


def _as_text(original: Callable[..., Any]) -> Callable[..., Any]:
    """A string filter that reads a JSON secret as its text (Jinja2's own would measure
    the mapping, or fail on it)."""
    def filter_(*args: Any, **kwargs: Any) -> Any:
        args = tuple(str(a) if isinstance(a, SecretMapping | SecretList) else a for a in args)
        return original(*args, **kwargs)

    filter_.__name__ = getattr(original, "__name__", "filter")
    filter_.__doc__ = original.__doc__
    if hasattr(original, "jinja_pass_arg"):
        filter_.jinja_pass_arg = original.jinja_pass_arg  # type: ignore[attr-defined]
    return filter_


#: Jinja2's string filters that do not turn their value into text first.
_TEXT_FILTERS = ("truncate", "wordwrap", "indent", "striptags", "filesizeformat")


def _string(value: Any) -> str:
    """Jinja2's ``string``, giving plain text (a JSON secret's text, not the mapping)."""
    return str(value) if not isinstance(value, str) else str.__str__(value)


class SecretsEnvironment(ImmutableSandboxedEnvironment):
    """A sandboxed, strict, bounded environment where ``.name`` on secrets means a lookup.

    Templates may come from less-trusted users of a host application: the
    sandbox refuses ``_``-prefixed names, unsafe attributes and changes to lists,
    dicts and sets; :class:`~secretstores.templating.limits.TemplateLimits`
    bounds numbers, strings, output and CPU time; an undefined value fails when
    used, with a message that never shows what the template computed
    (:class:`~secretstores.templating.values.SafeUndefined`). On the ``secrets``
    objects and on secret values, ``.name`` always means "look up name" (a
    store, a mapping, a JSON key), never a Python attribute; a JSON object
    secret's ``.items()``, ``.keys()`` and ``.values()`` work unless it has a key
    of that name.
    """

    intercepted_binops = frozenset(bounds.BINOPS)

    def __init__(self, *, limits: TemplateLimits = DEFAULT_LIMITS, **options: Any) -> None:
        options.setdefault("undefined", SafeUndefined)
        options.setdefault("keep_trailing_newline", True)
        options.setdefault("autoescape", False)
        super().__init__(**options)
        self.limits = limits
        self.filters.update(FILTERS)
        bounds.wrap_filters(limits, self.filters)
        self.filters[LOOP_FILTER] = lambda iterable: bounds.loop(limits, iterable)
        self.filters[CONCAT_FILTER] = lambda values: bounds.concat(limits, values)
        lipsum: Any = self.globals["lipsum"]
        self.globals["lipsum"] = bounds.wrap_lipsum(limits, lipsum)
        self.filters["tojson"] = _tojson(self.filters["tojson"])
        self.filters["string"] = _string
        for name in _TEXT_FILTERS:
            self.filters[name] = _as_text(self.filters[name])
        tests: dict[str, Any] = self.tests
        for name, test in list(tests.items()):
            tests[name] = _guard_test(name, test)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, _OURS) and not attribute.startswith("_"):
            value = obj[attribute]  # type: ignore[index]
            if (isinstance(value, MissingSecret) and attribute in MAPPING_METHODS
                    and isinstance(obj, SecretMapping)):
                return getattr(obj, attribute)
            return value
        return super().getattr(obj, attribute)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """``**``, ``*``, ``+`` and ``%``, refused when they would build too much."""
        return bounds.BINOPS[operator](self.limits, left, right)

    def call(__self, __context: Context, __obj: Any,
             *args: Any, **kwargs: Any) -> Any:
        """A call from the template: counted against the CPU budget, string methods
        that take a width or a count checked first."""
        bounds.step(__self.limits)
        bounds.check_method(__self.limits, __obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        fmt = value.__self__
        limits = self.limits

        def checked(*args: Any, **kwargs: Any) -> str:
            bounds.check_format(limits, fmt)
            return wrapper(*args, **kwargs)

        return checked


class Bounded(NodeTransformer):
    """Compiles every loop's iterable and every ``~`` through the bounded filters."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _filter(node.iter, LOOP_FILTER)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _filter(nodes.List(node.nodes, lineno=node.lineno), CONCAT_FILTER)


def _filter(node: nodes.Node, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


def has_loops(ast: nodes.Template) -> bool:
    """Whether a template can repeat work: loops, macros, call blocks."""
    kinds: Iterable[type[nodes.Node]] = (nodes.For, nodes.Macro, nodes.CallBlock)
    return any(True for _ in ast.find_all(tuple(kinds)))
