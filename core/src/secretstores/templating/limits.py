"""Resource limits for templates written by less-trusted users.

Jinja2's sandbox keeps a template away from Python's internals, not from the
machine's CPU and memory: ``9**(9**9)``, ``'a' * 10**10`` or a loop doubling a
string would hang or exhaust the process. :class:`TemplateLimits` bounds them:

- numbers: ``**`` and ``*`` on integers may not build one wider than
  ``max_integer_bits`` (they are checked before Python computes them, so
  constant folding cannot hang the compiler either);
- text and lists: repetition (``*``), concatenation (``+``, ``~``), ``%`` and
  ``str.format`` widths, and the filters and string methods that take a width or
  a count may not build one longer than ``max_string``;
- output: a render may not write more than ``max_output`` characters;
- time: loops and calls may not run longer than ``cpu_seconds`` of the render's
  CPU time (store I/O does not count: each store has its own deadline).

Each refusal is a problem of the render naming the line and the limit. A host
application passes its own limits to :class:`~secretstores.api.SecretStores`.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from typing import Any

import attrs

from secretstores.templating.state import CURRENT, fail


@attrs.frozen
class TemplateLimits:
    """What one render may use; the defaults suit configuration files."""

    #: Characters a render may write.
    max_output: int = 16 * 1024 * 1024
    #: Characters (or items) one string (or list) built by a template may hold.
    max_string: int = 16 * 1024 * 1024
    #: Bits one integer built by ``**`` or ``*`` may hold.
    max_integer_bits: int = 16_384
    #: CPU seconds a render's loops and calls may run.
    cpu_seconds: float = 5.0

    def describe(self) -> str:
        """The limits, for documentation and messages."""
        return (f"output {self.max_output} characters, strings and lists "
                f"{self.max_string}, integers {self.max_integer_bits} bits, "
                f"{self.cpu_seconds} s of CPU")


DEFAULT_LIMITS = TemplateLimits()


def refuse(message: str) -> Any:
    """Fail the render with a limit's message (raise ``OverflowError`` outside one)."""
    return fail(message, OverflowError)


def _length(value: Any) -> int:
    return len(value) if isinstance(value, Sized) else 0


class Budget:
    """The CPU time of one render's loops and calls, checked every 256 steps."""

    __slots__ = ("_deadline", "_steps", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._steps = 0
        self._deadline = time.thread_time() + seconds

    def step(self) -> None:
        """Count one loop iteration or call; fail once the budget is spent."""
        self._steps += 1
        if not self._steps & 255 and time.thread_time() > self._deadline:
            refuse(f"the render ran out of time (limit: {self.seconds} s of CPU)")


def _budget(limits: TemplateLimits) -> Budget | None:
    state = CURRENT.get()
    if state is None:
        return None
    budget: Budget | None = state.budget
    if budget is None:
        budget = state.budget = Budget(limits.cpu_seconds)
    return budget


def step(limits: TemplateLimits) -> None:
    """One call of the render (a macro, a method, a loop's recursion)."""
    budget = _budget(limits)
    if budget is not None:
        budget.step()


def loop(limits: TemplateLimits, iterable: Iterable[Any]) -> Iterator[Any]:
    """``iterable``, counting each iteration against the render's budget."""
    budget = _budget(limits)
    if budget is None:
        yield from iterable
        return
    for item in iterable:
        budget.step()
        yield item


# -- operators ------------------------------------------------------------------------


def _check_int(limits: TemplateLimits, bits: int, what: str) -> None:
    if bits > limits.max_integer_bits:
        refuse(f"{what} would build an integer of about {bits} bits "
               f"(limit: {limits.max_integer_bits})")


def _check_size(limits: TemplateLimits, size: int, what: str) -> None:
    if size > limits.max_string:
        refuse(f"{what} would build {size} characters or items (limit: {limits.max_string})")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def power(limits: TemplateLimits, left: Any, right: Any) -> Any:
    """``left ** right`` unless the result is too wide."""
    if _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
        _check_int(limits, math.ceil(right * math.log2(abs(left))), "'**'")
    return left ** right


def multiply(limits: TemplateLimits, left: Any, right: Any) -> Any:
    """``left * right`` unless the result is too long or too wide."""
    if _is_int(left) and _is_int(right):
        _check_int(limits, abs(left).bit_length() + abs(right).bit_length(), "'*'")
    elif _is_int(right) and isinstance(left, str | list | tuple):
        _check_size(limits, len(left) * max(right, 0), "'*'")
    elif _is_int(left) and isinstance(right, str | list | tuple):
        _check_size(limits, len(right) * max(left, 0), "'*'")
    return left * right


def add(limits: TemplateLimits, left: Any, right: Any) -> Any:
    """``left + right`` unless the result is too long."""
    if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
        _check_size(limits, len(left) + len(right), "'+'")
    return left + right


#: ``%`` conversions: a ``*`` width or precision, or digits.
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
#: ``str.format`` fields: what follows the ``:``.
_FORMAT_FIELD = re.compile(r"\{[^{}]*?:([^{}]*)\}|\{[^{}]*\{")


def check_percent(limits: TemplateLimits, fmt: str) -> None:
    """Refuse a ``%`` format whose widths or precisions could build too much text."""
    for match in _PERCENT_SPEC.finditer(fmt):
        for part in match.groups():
            if part == "*":
                refuse("'%' formatting with a '*' width or precision is not allowed in "
                       "templates")
            if part is not None and int(part) > limits.max_string:
                _check_size(limits, int(part), "'%' formatting")


def check_format(limits: TemplateLimits, fmt: str) -> None:
    """Refuse a ``str.format`` string whose widths could build too much text."""
    for match in _FORMAT_FIELD.finditer(fmt):
        spec = match.group(1)
        if spec is None:
            refuse("nested fields in format specifications are not allowed in templates")
        for digits in re.findall(r"\d+", spec or ""):
            if int(digits) > limits.max_string:
                _check_size(limits, int(digits), "a format width")


def modulo(limits: TemplateLimits, left: Any, right: Any) -> Any:
    """``left % right``, refusing ``%`` formats that build too much text."""
    if isinstance(left, str):
        check_percent(limits, left)
    return left % right


BINOPS: dict[str, Callable[[TemplateLimits, Any, Any], Any]] = {
    "**": power, "*": multiply, "+": add, "%": modulo,
}


def concat(limits: TemplateLimits, values: list[Any]) -> str:
    """``a ~ b ~ c``, unless the result is too long."""
    texts = [str(value) for value in values]
    _check_size(limits, sum(map(len, texts)), "'~'")
    return "".join(texts)


# -- filters and methods that take a size -----------------------------------------------

#: String methods whose first argument is a width.
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


def check_method(limits: TemplateLimits, obj: Any, args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> None:
    """Refuse a call of a string method that would build too much text."""
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if not isinstance(owner, str):
        return
    if name in _WIDTH_METHODS:
        width = args[0] if args else kwargs.get("width", kwargs.get("tabsize", 0))
        if _is_int(width):
            size = width * (owner.count("\t") + 1 if name == "expandtabs" else 1)
            _check_size(limits, size + len(owner), f"str.{name}()")
    elif name == "join" and args:
        items = args[0]
        if isinstance(items, Sized):
            _check_size(limits, len(owner) * len(items), "str.join()")
    elif name == "replace" and len(args) >= 2:
        _check_replace(limits, owner, args[0], args[1])
    elif name in ("format", "format_map"):
        check_format(limits, owner)


def _check_replace(limits: TemplateLimits, text: Any, old: Any, new: Any) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        count = text.count(old) if old else len(text) + 1
        _check_size(limits, len(text) + count * max(len(new) - len(old), 0), "replace")


def _plain(args: tuple[Any, ...]) -> list[Any]:
    """A filter's arguments without the environment or evaluation context Jinja2 passes."""
    from jinja2 import Environment
    from jinja2.nodes import EvalContext

    return [a for a in args if not isinstance(a, Environment | EvalContext)]


def wrap_filters(limits: TemplateLimits, filters: dict[str, Callable[..., Any]]) -> None:
    """Wrap the filters that take a width or a count with checks of ``limits``."""
    def guarded(name: str, check: Callable[..., None]) -> None:
        original = filters[name]

        def checked(*args: Any, **kwargs: Any) -> Any:
            check(*args, **kwargs)
            return original(*args, **kwargs)

        checked.__name__ = original.__name__
        checked.__doc__ = original.__doc__
        for attribute in ("jinja_pass_arg",):
            if hasattr(original, attribute):
                setattr(checked, attribute, getattr(original, attribute))
        filters[name] = checked

    def center(value: Any, width: Any = 80, *_: Any, **__: Any) -> None:
        if _is_int(width):
            _check_size(limits, width + _length(str(value)), "center")

    def indent(value: Any, width: Any = 4, *_: Any, **__: Any) -> None:
        if _is_int(width):
            text = str(value)
            _check_size(limits, len(text) + width * (text.count("\n") + 1), "indent")

    def replace(*args: Any, **kwargs: Any) -> None:
        values = _plain(args)
        if len(values) >= 3:
            _check_replace(limits, str(values[0]), values[1], values[2])

    def format_(value: Any, *args: Any, **kwargs: Any) -> None:
        check_percent(limits, str(value))

    def join(*args: Any, **kwargs: Any) -> None:
        values = _plain(args)
        if values and isinstance(values[0], Sized):
            separator = values[1] if len(values) > 1 else kwargs.get("d", "")
            _check_size(limits, len(values[0]) * _length(separator), "join")

    def sum_(*args: Any, **kwargs: Any) -> None:
        values = _plain(args)
        start = kwargs.get("start", values[2] if len(values) > 2 else 0)
        items: Any = values[0] if values else None
        if isinstance(start, str | list | tuple) and isinstance(items, list | tuple):
            total = sum(_length(item) for item in items)
            _check_size(limits, total + len(start), "sum")

    for name, check in (("center", center), ("indent", indent), ("replace", replace),
                        ("format", format_), ("join", join), ("sum", sum_)):
        if name in filters:
            guarded(name, check)


def wrap_lipsum(limits: TemplateLimits, lipsum: Callable[..., str]) -> Callable[..., str]:
    """Jinja2's ``lipsum`` global, bounded: ``n`` paragraphs of up to ``max`` words."""
    def bounded(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
        if _is_int(n) and _is_int(max):
            _check_size(limits, n * max * 8, "lipsum")
        return lipsum(n, html, min, max)

    return bounded


__all__ = ["BINOPS", "DEFAULT_LIMITS", "TemplateLimits", "concat", "loop", "step"]
