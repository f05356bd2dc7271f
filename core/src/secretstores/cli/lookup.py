"""Finding secrets for ``get`` and ``export``: a reference, and a JSON path drilled into it.

A reference as the commands take it is a mapping name or an identifier, optionally
followed by a path into a JSON secret, as templates write it: ``app.password``,
``hosts[0]``, ``app["key.with.dots"]``. A name that holds dots is tried whole
first: ``get vault prod.key`` reads the secret ``prod.key`` if there is one, else
the key ``key`` of the secret ``prod``. Every candidate is fetched in one batch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from secretstores.errors import (
    AccessDeniedError,
    SecretNotFoundError,
    StoreUnavailableError,
    UnknownReferenceError,
    UnknownStoreError,
)
from secretstores.model import FetchResult, Status, StoreSpec

_STEP = re.compile(r'\.([^.\[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]')


@attrs.frozen
class Lookup:
    """One reference split into the secret to fetch and the path to drill into it."""

    reference: str
    #: (name as written, identifier, path) for each way to read the reference,
    #: the longest name first
    candidates: tuple[tuple[str, str, tuple[str | int, ...]], ...]


def check_store(configured: Any, store: str) -> StoreSpec:
    """The spec of ``store``; an unknown one is an error with the closest configured name."""
    specs = configured.stores
    if store not in specs:
        known = ", ".join(sorted(specs)) or "none"
        raise UnknownStoreError(f"unknown store '{store}'{did_you_mean(store, specs)} "
                                f"(configured stores: {known})", reference=store)
    spec: StoreSpec = specs[store]
    return spec


def _path(rest: str) -> tuple[str | int, ...] | None:
    """The steps of ``.key``, ``[0]`` and ``["key"]`` in ``rest``; None if it is not a path."""
    steps: list[str | int] = []
    position = 0
    while position < len(rest):
        match = _STEP.match(rest, position)
        if match is None:
            return None
        key, index, quoted = match.groups()
        if index is not None:
            steps.append(int(index))
        elif quoted is not None:
            steps.append(json.loads(f'"{quoted}"'))
        else:
            steps.append(key)
        position = match.end()
    return tuple(steps)


def plan(spec: StoreSpec, reference: str) -> Lookup:
    """Every way to read ``reference`` in the store: the whole name, then each shorter
    name before a ``.`` or ``[`` with the rest as a JSON path."""
    candidates: list[tuple[str, str, tuple[str | int, ...]]] = []
    cuts = [len(reference), *sorted(
        (m.start() for m in re.finditer(r"[.\[]", reference) if m.start() > 0), reverse=True)]
    for cut in cuts:
        name, rest = reference[:cut], reference[cut:]
        path = _path(rest)
        identifier = spec.resolve(name)
        if path is not None and identifier is not None:
            candidates.append((name, identifier, path))
    if not candidates:
        raise UnknownReferenceError(
            f"'{reference}' is not a mapping of this store"
            f"{did_you_mean(reference.split('.')[0], spec.mappings)} and direct access is "
            "off (allowDirectAccess: false)", store=spec.name, reference=reference)
    return Lookup(reference, tuple(candidates))


def fetch_all(configured: Any, store: str, lookups: Sequence[Lookup]) -> dict[str, FetchResult]:
    """The results for every candidate identifier of ``lookups``, in one batch."""
    identifiers = list(dict.fromkeys(i for lookup in lookups for _, i, _ in lookup.candidates))
    results: dict[str, FetchResult] = configured.runtime(store).fetch(identifiers)
    return results


def value_of(spec: StoreSpec, lookup: Lookup,
             results: dict[str, FetchResult]) -> tuple[Any, bool]:
    """The value ``lookup`` names: the text of a whole secret or the JSON value drilled
    out, and whether it is a whole secret.

    Raises :class:`SecretNotFoundError` (with a "did you mean" for a near mapping name),
    :class:`AccessDeniedError` or :class:`StoreUnavailableError`; messages never hold a value.
    """
    reference = lookup.reference
    failure: FetchResult | None = None
    for name, identifier, path in lookup.candidates:
        result = results[identifier]
        if result.status is Status.FOUND and result.value is not None:
            return drill(result.value, name, path, reference, spec.name), not path
        if result.status is not Status.NOT_FOUND and failure is None:
            failure = result
    if failure is not None:
        if failure.status is Status.DENIED:
            raise AccessDeniedError(f"{reference}: {failure.message}", store=spec.name,
                                    reference=reference)
        raise StoreUnavailableError(f"{reference}: {failure.message}", store=spec.name)
    first = lookup.candidates[0]
    message = results[first[1]].message
    names = [name for name, _, _ in lookup.candidates]
    hint = "" if any(n in spec.mappings for n in names) else did_you_mean(
        names[-1], spec.mappings)
    raise SecretNotFoundError(f"{reference}: not found" + (f" ({message})" if message else "")
                              + hint, store=spec.name, reference=reference)


def parse_json(text: str) -> Any:
    """The JSON object or array ``text`` holds, else None (a plain value)."""
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict | list) else None


def drill(text: str, name: str, path: Iterable[str | int], reference: str, store: str) -> Any:
    """Follow ``path`` into the JSON secret ``text`` (named ``name``); no path: the text."""
    steps = list(path)
    if not steps:
        return text
    node: Any = parse_json(text)
    if node is None:
        raise SecretNotFoundError(f"{reference}: the secret '{name}' is not a JSON object or "
                                  "array, so there is nothing to drill into", store=store,
                                  reference=reference)
    walked = name
    for step in steps:
        if isinstance(node, dict) and str(step) in node:
            node = node[str(step)]
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            if isinstance(node, dict):
                problem = f"{walked} has no key '{step}'"
            elif isinstance(node, list):
                problem = f"{walked} is an array without an item {step}"
            else:
                problem = f"{walked} is not a JSON object or array"
            raise SecretNotFoundError(f"{reference}: {problem}", store=store,
                                      reference=reference)
        walked += f"[{step}]" if isinstance(step, int) else f".{step}"
    return node


def as_text(value: Any) -> str:
    """How a value prints: text as it is, any other JSON value as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def as_json(value: Any, *, whole: bool) -> Any:
    """The JSON value of what was found: a whole secret holding a JSON object or array
    is that object or array, any other text a string; a value drilled out stays as it is."""
    if whole and isinstance(value, str):
        parsed = parse_json(value)
        return parsed if parsed is not None else value
    return value


__all__ = ["Lookup", "as_json", "as_text", "check_store", "drill",
           "fetch_all", "parse_json", "plan", "value_of"]


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean X?)`` for the candidate nearest ``name``, else ``""`` (the
    configuration package is imported only when a name is wrong: ``--version`` and
    ``--help`` stay fast)."""
    from secretstores.config.suggest import did_you_mean as suggest

    return suggest(name, candidates)

