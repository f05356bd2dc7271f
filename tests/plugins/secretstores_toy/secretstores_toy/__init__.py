"""A third-party secretstores plugin for tests: the ``toy`` store type.

Written from docs/writing-plugins.md alone, as a provider author would: no hook
checks ``store.type`` (the core routes each store's hooks to the plugin that
declared its type), reads are one identifier at a time (the core fans them
out), and retries and timeouts are the core's.

A ``toy`` store keeps its secrets in a JSON file (``{"identifier": value}``;
object values are served as JSON text)::

    {"name": "x", "type": "toy",
     "configuration": {"path": "/tmp/secrets.json", "deny": ["forbidden"], "token": "toy-..."}}

``deny`` lists identifiers the store holds but refuses; ``token`` is a secret
field (it must start with ``toy-``) so tests can prove secret configuration
values stay out of error messages. ``delay`` makes every read take that many
seconds and ``log`` names a file that gets a line per read (the cache tests count
reads across processes with it); with ``gate``, a read waits until that file
exists (at most 10 s, then the store is unavailable), so a test can hold a read
in flight and release it from elsewhere. ``hold`` is a gate after the file was
read: the answer (already read) waits until that file exists (at most 10 s), so a
test can write the store while an old answer is in flight (with ``log``, a line
``<identifier> held`` says the file was read and the answer waits). ``lease``
gives every value a lease of that many seconds (``expires_at``). For the retry
tests, reads fail transiently as many times as the file's ``"__flaky__"`` counter
says, and are throttled as many times as ``"__throttle__"`` says (each failure
counts one down). Identifiers listed in the file's ``"__deny__"`` are refused like
``deny``'s: access revoked without a change to the store's configuration (which
the cache scope hashes). While the file has a ``"__crash__"`` key, reads raise a
``RuntimeError`` (a provider bug: not a store error). Writes replace the file
atomically; like every external store, a toy store is read-only unless it says
``"readOnly": false``.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import attrs

from secretstores import (
    Capability,
    FetchResult,
    MisconfiguredError,
    Session,
    StoreSpec,
    StoreType,
    ThrottledError,
    TransientError,
    hookimpl,
)
from secretstores.config import optional_field, required_field

TYPE = "toy"
_lock = threading.Lock()


def _reset_lock() -> None:
    global _lock
    _lock = threading.Lock()  # a parent's thread may have held it while forking


os.register_at_fork(after_in_child=_reset_lock)


def _token(_: Any, attribute: Any, value: str) -> None:
    if not value.startswith("toy-"):
        raise ValueError("expected a token starting with 'toy-'")


def _names(_: Any, attribute: Any, value: list[Any]) -> None:
    if not all(isinstance(v, str) for v in value):
        raise TypeError("expected an array of identifiers")


@attrs.frozen
class ToyConfig:
    """Configuration of a ``toy`` store."""

    path: str = required_field("path")
    deny: tuple[str, ...] = optional_field("deny", type=list, default=(), validator=_names)
    token: str | None = optional_field("token", secret=True, validator=_token)
    delay: float = optional_field("delay", type=float, default=0.0)
    log: str | None = optional_field("log")
    gate: str | None = optional_field("gate")
    hold: str | None = optional_field("hold")
    lease: float | None = optional_field("lease", type=float)


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return data if isinstance(data, dict) else {}


def _save(path: Path, data: dict[str, Any]) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".toy-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(temporary, path)


@hookimpl
def secretstores_store_types() -> list[StoreType]:
    """Declare ``toy``."""
    return [StoreType(TYPE, ToyConfig, "secrets from a JSON file (tests only)",
                      capabilities={Capability.READ, Capability.WRITE, Capability.DELETE,
                                    Capability.LIST, Capability.CHECK})]


@hookimpl
def secretstores_authenticate(store: StoreSpec) -> Session:
    """The client is the file's path."""
    return Session(client=Path(store.config.path))


def _contents(path: Path) -> dict[str, Any]:
    """The file's secrets; a file that is not a JSON object is a misconfigured store."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise MisconfiguredError(f"cannot read {path}: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise MisconfiguredError(f"{path} does not hold a JSON object")
    return data


def _hiccup(path: Path) -> None:
    """Fail as the file's ``__flaky__`` / ``__throttle__`` counters say (and count down)."""
    with _lock:
        data = _contents(path)
        for counter, error in (("__throttle__", ThrottledError("slow down", retry_after=0.01)),
                               ("__flaky__", TransientError("the toy store hiccuped"))):
            if data.get(counter, 0) > 0:
                data[counter] -= 1
                _save(path, data)
                raise error


@hookimpl
def secretstores_read(store: StoreSpec, client: Path, identifier: str) -> FetchResult:
    """One identifier from the file."""
    if store.config.log:  # one line per read, for tests counting reads across processes
        with open(store.config.log, "a", encoding="utf-8") as log:
            log.write(identifier + "\n")
    if store.config.delay:
        time.sleep(store.config.delay)
    if store.config.gate:
        deadline = time.monotonic() + 10
        while not os.path.exists(store.config.gate):
            if time.monotonic() > deadline:
                raise TransientError("the gate never opened")
            time.sleep(0.005)
    _hiccup(client)
    data = _contents(client)
    if "__crash__" in data:
        raise RuntimeError("the toy plugin has a bug")
    if store.config.hold:
        if store.config.log:
            with open(store.config.log, "a", encoding="utf-8") as log:
                log.write(identifier + " held\n")
        deadline = time.monotonic() + 10
        while not os.path.exists(store.config.hold) and time.monotonic() < deadline:
            time.sleep(0.005)
    if identifier in store.config.deny or identifier in data.get("__deny__", ()):
        return FetchResult.denied(f"'{identifier}' is on the deny list")
    if identifier not in data:
        return FetchResult.not_found(f"no secret '{identifier}'")
    value = data[identifier]
    lease = time.time() + store.config.lease if store.config.lease is not None else None
    return FetchResult.found(value if isinstance(value, str) else json.dumps(value),
                             expires_at=lease)


@hookimpl
def secretstores_store(store: StoreSpec, client: Path, name: str, value: str) -> bool:
    """Write one secret (the whole file is replaced atomically)."""
    with _lock:
        data = _load(client)
        data[name] = value
        _save(client, data)
    return True


@hookimpl
def secretstores_delete(store: StoreSpec, client: Path, name: str) -> bool:
    """Delete one secret; False when it was not there."""
    with _lock:
        data = _load(client)
        if name not in data:
            return False
        del data[name]
        _save(client, data)
    return True


@hookimpl
def secretstores_list_names(store: StoreSpec, client: Path) -> list[str]:
    """Every identifier in the file."""
    return sorted(k for k in _load(client) if not k.startswith("__"))


@hookimpl
def secretstores_check(store: StoreSpec, client: Path) -> str:
    """The file must exist and hold a JSON object."""
    if not client.is_file():
        raise MisconfiguredError(f"{client} does not exist")
    return f"{client} holds {len(_contents(client))} entries"
