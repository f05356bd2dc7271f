"""Masking secret values in a child's output, as it streams.

``secretstores run`` puts the child's stdout and stderr on pipes and copies them
to its own, replacing every secret value with :data:`CONCEALED`. Bytes are
passed on as soon as they are read, except a tail that could be the start of a
secret (held until the next read shows whether it is one), so output keeps
streaming, a value written in two pieces is still masked, and binary output
goes through unchanged.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Iterable
from typing import Any

from secretstores.errors import SecretStoresError

#: What stands in for a secret value in the child's output.
CONCEALED = b"<concealed by secretstores>"

#: Values shorter than this are not masked: they would hide ordinary output.
MIN_LENGTH = 3


class Masker:
    """The secret values to mask, shared by the streams of a child (and updated when
    ``run --watch`` renders new ones)."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self.values: frozenset[bytes] = frozenset()
        self.pattern: re.Pattern[bytes] | None = None
        self.firsts: frozenset[int] = frozenset()
        self.longest = 0
        self._lock = threading.Lock()
        self.add(values)

    def add(self, values: Iterable[str]) -> None:
        """Mask these values too (from now on)."""
        with self._lock:
            found = set(self.values)
            found.update(value.encode("utf-8") for value in values
                         if len(value) >= MIN_LENGTH)
            ordered = sorted(found, key=len, reverse=True)  # the longest wins
            self.firsts = frozenset(value[0] for value in ordered)
            self.longest = len(ordered[0]) if ordered else 0
            self.values = frozenset(found)
            self.pattern = re.compile(b"|".join(map(re.escape, ordered))) if ordered else None

    def stream(self) -> MaskedStream:
        """A new stream (its own held tail) masked with these values."""
        return MaskedStream(self)

    def feed(self, chunk: bytes) -> bytes:
        """Mask ``chunk`` as one whole stream would (for tests and one-off use)."""
        stream = self.stream()
        return stream.feed(chunk) + stream.flush()


class MaskedStream:
    """One byte stream fed in pieces, with the secret values of a :class:`Masker` replaced."""

    def __init__(self, masker: Masker) -> None:
        self.masker = masker
        self._held = b""

    def _hold_from(self, data: bytes, start: int) -> int:
        """Where the tail of ``data`` that could begin a secret starts (len if none)."""
        masker = self.masker
        for index in range(max(start, len(data) - masker.longest + 1), len(data)):
            if data[index] in masker.firsts:
                tail = data[index:]
                if any(len(value) > len(tail) and value.startswith(tail)
                       for value in masker.values):
                    return index
        return len(data)

    def feed(self, chunk: bytes) -> bytes:
        """The masked bytes that can be passed on after ``chunk``."""
        pattern = self.masker.pattern
        if pattern is None:
            return chunk
        data = self._held + chunk
        out: list[bytes] = []
        position = 0
        while True:
            hold = self._hold_from(data, position)
            match = pattern.search(data, position)
            if match is None or match.start() >= hold:
                out.append(data[position:hold])
                self._held = data[hold:]
                return b"".join(out)
            out.append(data[position:match.start()])
            out.append(CONCEALED)
            position = match.end()

    def flush(self) -> bytes:
        """The held tail (at the end of the stream), masked."""
        data, self._held = self._held, b""
        pattern = self.masker.pattern
        return pattern.sub(CONCEALED, data) if pattern is not None else data


def secret_texts(stores: Any, sources: Iterable[str]) -> set[str]:
    """The texts of the secrets the templates ``sources`` use: the value each static
    reference prints (after drilling into JSON), and each secret's whole text.

    The values come from the cache the render just filled (with ``--no-cache`` they
    are fetched again). A secret looked up by a key computed at run time is not
    among them.
    """
    wanted: dict[str, set[str]] = {}
    drills: list[tuple[str, str, tuple[str, ...]]] = []
    for source in sources:
        for reference in stores.references(source):
            if reference.key is None:
                continue
            wanted.setdefault(reference.store, set()).add(reference.key)
            drills.append((reference.store, reference.key, tuple(reference.path)))
    found: dict[tuple[str, str], str] = {}
    for store, keys in wanted.items():
        try:
            results = stores.fetch(store, sorted(keys))
        except SecretStoresError:  # an unknown store or mapping, in a branch never taken
            results = {}
            for key in keys:
                with contextlib.suppress(SecretStoresError):
                    results.update(stores.fetch(store, [key]))
        for key, result in results.items():
            if result.value is not None:
                found[store, key] = result.value
    texts = set(found.values())
    for store, key, path in drills:
        text = found.get((store, key))
        if text is not None and path:
            drilled = _drill(text, path)
            if drilled is not None:
                texts.add(drilled)
    return texts


def _drill(text: str, path: tuple[str, ...]) -> str | None:
    """The text a template prints for ``path`` inside JSON ``text``, if it is there."""
    try:
        node: Any = json.loads(text)
    except (ValueError, RecursionError):
        return None
    for step in path:
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list) and step.lstrip("-").isdigit() and \
                -len(node) <= int(step) < len(node):
            node = node[int(step)]
        else:
            return None
    return node if isinstance(node, str) else json.dumps(node)


def pump(source: int, target: int, stream: MaskedStream) -> None:
    """Copy ``source`` to ``target`` (file descriptors) through ``stream`` until EOF.

    If ``target`` is closed (a reader went away), ``source`` is closed too, so the
    child meets the same broken pipe it would have met writing there itself.
    """
    broken = False
    try:
        while True:
            try:
                chunk = os.read(source, 65536)
            except InterruptedError:
                continue
            except OSError:
                break
            out = stream.feed(chunk) if chunk else stream.flush()
            if out and not broken:
                broken = not _write_all(target, out)
                if broken:
                    break
            if not chunk:
                break
    finally:
        os.close(source)


def _write_all(fd: int, data: bytes) -> bool:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except InterruptedError:
            continue
        except OSError:
            return False
    return True
