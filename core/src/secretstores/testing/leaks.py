"""Templates that make a render fail with secret values at hand, for canary tests.

Every template in :data:`ERROR_TEMPLATES` fails. ``$V`` stands for a reference
to a plain secret, ``$O`` for a JSON object secret with the keys ``pw`` (text),
``n`` (digits) and ``list`` (an array of text), and ``$S`` for the store;
:func:`error_templates` fills them in. A render's error must hold none of the
values, whole, drilled into or transformed: :func:`leaked_forms` says which
forms of a value a message holds. :class:`~secretstores.testing.StoreContract`
runs them against every store type; the core's tests run them through the CLI.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from string import Template

#: Error-provoking templates; ``$V`` is a plain secret, ``$O`` a JSON object secret.
ERROR_TEMPLATES: tuple[str, ...] = (
    # a value or a value computed from it used as a key or a name
    "{{ {}[$O.pw ~ ''] }}",
    "{{ {}[$V | upper] }}",
    "{{ {}[$V] }}",
    "{{ secrets[$V] }}",
    "{{ secrets[$O.pw].x }}",
    "{{ $S[$V] }}",
    "{{ $S[$O.pw | lower] }}",
    "{{ $O[$V] }}",
    "{{ $O[$O.pw] }}",
    "{{ {} | attr($V) }}",
    "{{ $O | dictsort | map(attribute=$V) | join }}",
    "{{ ($V | list) | map(attribute=$V) | join }}",
    "{% for k in $V %}{{ {}[k ~ $V] }}{% endfor %}",
    "{{ x[$V] }}",
    "{{ {$V: 1}.missing ~ $V }}",
    "{{ [$V][1] }}",
    "{{ $O.list[$O.n | int] }}",
    # str.format and %-formatting with a value in the format or the arguments
    "{{ '{0:{1}}'.format(1, $O.pw) }}",
    "{{ ('{' ~ $V ~ '}').format(1) }}",
    "{{ '{x}'.format(**{$V: 1}) }}",
    "{{ '{0.__class__}'.format($V) }}",
    "{{ '%d' | format($V) }}",
    "{{ ('%(' ~ $V ~ ')s') | format(a=1) }}",
    "{{ $V.__class__ }}",
    # arithmetic and conversions on values
    "{{ $V + 1 }}",
    "{{ $O.n / 0 }}",
    "{{ $O.pw * $O.pw }}",
    "{{ $V - $O.pw }}",
    "{{ range($V) }}",
    "{{ $V | round }}",
    "{{ $V is divisibleby 3 }}",
    "{{ $V | truncate($V) }}",
    "{{ $V | center($V) }}",
    "{{ $V | replace($V, $V, $V) }}",
    "{{ lipsum($V) }}",
    "{{ $V | int + [] }}",
    "{{ $V | b64decode }}",
    "{{ $V(1) }}",
    "{{ $O.pw.missing ~ $V }}",
    "{{ $V.no_such_key }}",
    "{{ $O.no_such_key }}",
    "{% include $V %}",
    "{% import $O.pw as m %}",
    "{% if $V > 1 %}{% endif %}",
    "{{ ($V ~ '') | attr('__class__') }}",
)


def error_templates(store: str, plain: str, json_object: str) -> list[str]:
    """:data:`ERROR_TEMPLATES` for one store's two secrets (identifiers or mapping names)."""
    fill = {"S": f"secrets.{store}", "V": f"secrets.{store}.[{plain}]",
            "O": f"secrets.{store}.[{json_object}]"}
    return [Template(template).substitute(fill) for template in ERROR_TEMPLATES]


def _forms(value: str) -> Iterator[str]:
    yield value
    yield value.upper()
    yield value.lower()
    yield value[::-1]
    yield base64.b64encode(value.encode()).decode().rstrip("=")


def leaked_forms(text: str, values: Iterable[str]) -> list[str]:
    """The forms of ``values`` (whole, upper- and lower-case, reversed, Base64) in ``text``."""
    return [form for value in values for form in _forms(value) if form in text]


def exception_texts(exc: BaseException) -> list[str]:
    """Everything an exception shows: its text, repr, args and problems, and the same
    for every exception chained to it (``__context__``, ``__cause__``)."""
    texts: list[str] = []
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args)]
        texts += [str(p) for p in getattr(current, "problems", ())]
        pending += [current.__context__, current.__cause__]
    return texts


__all__ = ["ERROR_TEMPLATES", "error_templates", "exception_texts", "leaked_forms"]
