"""What one render knows about itself: its problems, its literals, its placeholders.

Problems are recorded where they happen (the value that failed finds the
current render through a context variable) and reported together at the end as
one :class:`~secretstores.errors.TemplateError`. Messages are built only from
what the template's source says: a key or name computed at run time is shown
as ``<computed>``, never as its text (see :meth:`RenderState.shown`).
"""

from __future__ import annotations

import contextvars
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from jinja2.exceptions import UndefinedError

from secretstores.errors import TemplateError
from secretstores.redaction import redact_forms

#: What a render shows in place of a key, name or value it computed.
COMPUTED = "<computed>"

#: The text secret values are replaced with in messages (the second line of defence).


class ProblemReported(UndefinedError):
    """Raised by a value that has recorded its problem and cannot go on (internal).

    The render stops the template it was in; the problem is already in the list.
    """


class RenderState:
    """The problems and literals of one render (one template, or the leaves of
    ``render_data``), and the placeholders of an env-file render."""

    __slots__ = ("_seen", "budget", "literals", "nonce", "order", "placeholders", "problems",
                 "secrets")

    def __init__(self, literals: frozenset[Any], order: dict[str, int]) -> None:
        self.literals = literals
        self.order = order
        self.problems: list[tuple[int, int, int, str]] = []
        self._seen: set[str] = set()
        #: Callables returning every secret text this render fetched (for redaction).
        self.secrets: list[Callable[[], Iterable[str]]] = []
        #: The CPU budget of the render's loops and calls (made by the first of them).
        self.budget: Any = None
        #: An env-file render's placeholder prefix and the texts they stand for.
        self.nonce = ""
        self.placeholders: list[str] = []

    def shown(self, key: Any) -> str:
        """``key`` quoted as the template wrote it, or ``<computed>``."""
        if isinstance(key, str | int) and not isinstance(key, bool) and _literal(key, self):
            return repr(str(key)) if isinstance(key, str) else str(key)
        return COMPUTED

    def part(self, key: Any) -> str:
        """``key`` as a step of a reference: ``.name``, ``["a-b"]``, ``[0]``, ``[<computed>]``."""
        if isinstance(key, str) and key.isidentifier() and _literal(key, self):
            return f".{key}"
        shown = self.shown(key)
        return f"[{shown}]" if shown == COMPUTED or not isinstance(key, str) else \
            f"[{json.dumps(key)}]"

    def add(self, template: str, line: int | None, message: str) -> None:
        """Record one problem (once: the same problem on the same line counts once)."""
        text = f"{template}:{line or '?'}: {message}"
        if text not in self._seen:
            self._seen.add(text)
            self.problems.append((self.order.get(template, 0), line or 0, len(self.problems),
                                  text))

    def mark(self) -> int:
        """A point to :meth:`rollback` to."""
        return len(self.problems)

    def rollback(self, mark: int) -> None:
        """Forget the problems recorded since ``mark`` (a probing render's)."""
        for *_, text in self.problems[mark:]:
            self._seen.discard(text)
        del self.problems[mark:]

    def report(self, message: str) -> None:
        """Record a problem at the template line running further up this thread's stack."""
        template, line = caller_template()
        self.add(template or "<template>", line, message)

    def error(self) -> TemplateError:
        """One error listing every problem, in template order and line order, with every
        fetched value (whole, drilled into, transformed) redacted as a last resort."""
        values = {text for source in self.secrets for text in source()}
        problems = [redact_forms(text, values) for *_, text in sorted(self.problems)]
        template = next(iter(self.order), None)
        return TemplateError(problems, template=template)


def _literal(key: Any, state: RenderState) -> bool:
    try:
        return key in state.literals
    except TypeError:
        return False


#: The render this thread (or task) is in, for the values that record problems.
CURRENT: contextvars.ContextVar[RenderState | None] = contextvars.ContextVar(
    "secretstores_render", default=None)


def current() -> RenderState | None:
    """The render in progress, if any."""
    return CURRENT.get()


def shown(key: Any) -> str:
    """:meth:`RenderState.shown` for the current render (``<computed>`` outside one)."""
    state = CURRENT.get()
    return state.shown(key) if state is not None else COMPUTED


def part(key: Any) -> str:
    """:meth:`RenderState.part` for the current render."""
    state = CURRENT.get()
    return state.part(key) if state is not None else f"[{COMPUTED}]"


def caller_template() -> tuple[str | None, int | None]:
    """The template (name, line) whose code runs further up this thread's stack."""
    frame = sys._getframe(1)
    while frame is not None:
        template = frame.f_globals.get("__jinja_template__")
        if template is not None:
            return template.name, int(template.get_corresponding_lineno(frame.f_lineno))
        frame = frame.f_back  # type: ignore[assignment]
    return None, None


def fail(message: str, error: type[Exception] = UndefinedError) -> Any:
    """Record ``message`` in the current render and stop the template; outside a
    render, raise ``error`` with it."""
    state = CURRENT.get()
    if state is None:
        raise error(message)
    state.report(message)
    raise ProblemReported(message)


def note(message: str) -> str:
    """Record ``message`` in the current render and carry on (the value prints as
    nothing); outside a render, raise :class:`UndefinedError`."""
    state = CURRENT.get()
    if state is None:
        raise UndefinedError(message)
    state.report(message)
    return ""


def describe(exc: BaseException) -> str:
    """What failed, from the exception's type alone: its text may hold values the
    template computed, so it is never shown."""
    from jinja2.exceptions import SecurityError, TemplateNotFound

    if isinstance(exc, SecurityError):
        return "the sandbox refused an unsafe operation"
    if isinstance(exc, TemplateNotFound):
        return "templates cannot include or import other templates here"
    if isinstance(exc, OverflowError) and "Range too big" in str(exc):
        return "range() is limited to 100000 items in templates"
    for kind, text in _DESCRIPTIONS:
        if isinstance(exc, kind):
            return f"{type(exc).__name__}: {text} (details are not shown: they may hold " \
                   f"secret values)"
    return f"{type(exc).__name__}: the expression failed (details are not shown: they may " \
           f"hold secret values)"


_DESCRIPTIONS: Sequence[tuple[type[BaseException], str]] = (
    (RecursionError, "the template nests too deeply"),
    (MemoryError, "the template needed too much memory"),
    (ZeroDivisionError, "division by zero"),
    (OverflowError, "a number is too large"),
    (TypeError, "an operation was given a value of the wrong type"),
    (UnicodeError, "text could not be encoded or decoded"),
    (ValueError, "an operation was given an invalid value"),
    (KeyError, "a key does not exist"),
    (IndexError, "an index is out of range"),
    (AttributeError, "an attribute does not exist"),
    (ArithmeticError, "an arithmetic operation failed"),
)
