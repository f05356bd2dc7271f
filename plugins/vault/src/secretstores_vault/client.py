"""What the hooks receive as ``client``: the hvac client and what it has learned about Vault.

Besides the hvac client, a :class:`VaultClient` remembers whether the store's
mount was verified to be a KV v2 engine, and lets concurrent reads of one path
(``db#username`` and ``db#password`` fanned out by the core) share a single
request. Everything here is safe to use from the core's worker threads at once.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any, TypeVar

import hvac
import hvac.exceptions

from secretstores.errors import (
    AccessDeniedError,
    AuthenticationError,
    MisconfiguredError,
    StoreError,
    Unauthorized,
)
from secretstores_vault.config import VaultConfig

T = TypeVar("T")

#: Seconds a successful ``lookup-self`` vouches for the token when a read is denied.
TOKEN_CHECK_FOR = 5.0


def vault_reason(exc: hvac.exceptions.VaultError) -> str:
    """What Vault said, without hvac's ``, on GET <url>`` suffix."""
    errors = getattr(exc, "errors", None)
    if errors:
        return "; ".join(str(e) for e in errors)
    return str(exc).split(", on ")[0] or type(exc).__name__


def not_vault(exc: hvac.exceptions.VaultError) -> bool:
    """Whether an error answer lacks Vault's JSON error body (the address is not Vault's API)."""
    return getattr(exc, "json", None) is None


def no_route(exc: hvac.exceptions.VaultError) -> bool:
    """Whether Vault said the path matches no mount (``no handler for route``)."""
    return any("no handler for route" in str(e) for e in (getattr(exc, "errors", None) or []))


class VaultClient:
    """An hvac client for one store, with the store's configuration and memory of checks."""

    def __init__(self, hvac_client: hvac.Client, config: VaultConfig) -> None:
        self.hvac = hvac_client
        self.config = config
        self._lock = threading.Lock()
        self._inflight: dict[Hashable, Future[Any]] = {}
        self._mount_problem: str | None = None
        self._mount_checked = False
        self._token_ok_until = 0.0

    def __repr__(self) -> str:
        return f"VaultClient(address={self.config.address!r}, mount={self.config.mount!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self.hvac.adapter.close()

    def shared(self, key: Hashable, call: Callable[[], T]) -> T:
        """``call()``, or the outcome of the same call already in flight on another thread."""
        with self._lock:
            future = self._inflight.get(key)
            leader = future is None
            if future is None:
                future = self._inflight[key] = Future()
        if not leader:
            try:
                return future.result()  # type: ignore[no-any-return]
            except StoreError as exc:
                raise copy.copy(exc) from None  # never one exception object in two threads
        try:
            result = call()
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(result)
            return result
        finally:
            with self._lock:
                self._inflight.pop(key, None)

    def token_works(self) -> bool:
        """Whether the token is still accepted (a ``lookup-self`` succeeds).

        Vault answers 403 both for a path a policy denies and for a token that
        expired or was revoked; this tells the two apart. A success is trusted
        for a few seconds, so a batch of denied reads costs one lookup.
        """
        if time.monotonic() < self._token_ok_until:
            return True
        try:
            self.hvac.auth.token.lookup_self()
        except hvac.exceptions.Forbidden:
            return False
        self._token_ok_until = time.monotonic() + TOKEN_CHECK_FOR
        return True

    def mount_problem(self, *, strict: bool = False) -> str | None:
        """What is wrong with the store's mount for KV v2 reads, or None.

        Asks Vault once per client (``sys/internal/ui/mounts/<mount>``, which any
        token with access under the mount may read). When Vault will not say
        (the token has no access there), the mount is given the benefit of the
        doubt, unless ``strict`` (``stores --check``), which reports it.
        """
        if self._mount_checked and not strict:
            return self._mount_problem
        mount = self.config.mount
        try:
            answer = self.hvac.adapter.get(f"/v1/sys/internal/ui/mounts/{mount}")
        except hvac.exceptions.Forbidden as exc:
            if not strict:
                return None
            return (f"the token may not use mount '{mount}/' at {self.config.address}, or the "
                    f"mount does not exist (Vault: {vault_reason(exc)})")
        except hvac.exceptions.VaultError as exc:
            if not_vault(exc):
                return (f"{self.config.address} answered HTTP {_status(exc)} without Vault's "
                        "JSON error body: is 'address' the Vault server's URL?")
            if not strict:
                return None
            return f"cannot inspect mount '{mount}/': {vault_reason(exc)}"
        data = (answer or {}).get("data") or {} if isinstance(answer, dict) else {}
        kind = data.get("type")
        version = str((data.get("options") or {}).get("version") or "1")
        problem = None
        if kind != "kv":
            problem = (f"mount '{mount}/' at {self.config.address} is a '{kind}' secrets engine, "
                       "not KV v2 (check 'mountPath')")
        elif version != "2":
            problem = (f"mount '{mount}/' at {self.config.address} is KV version {version}; "
                       "secretstores reads KV v2 (enable a version 2 mount, or upgrade this one)")
        with self._lock:
            self._mount_problem, self._mount_checked = problem, True
        return problem

    def require_kv2(self) -> None:
        """Raise :class:`MisconfiguredError` when the mount is known not to be KV v2."""
        problem = self.mount_problem()
        if problem is not None:
            raise MisconfiguredError(problem)

    def refused(self, action: str) -> StoreError:
        """The error for a 403 on ``action``: Unauthorized when the token stopped working."""
        if not self.token_works():
            return Unauthorized("Vault refused the token (expired or revoked)")
        return AccessDeniedError(f"permission denied: cannot {action}")


def _status(exc: hvac.exceptions.VaultError) -> str:
    statuses = {hvac.exceptions.InvalidPath: "404", hvac.exceptions.Forbidden: "403",
                hvac.exceptions.InvalidRequest: "400", hvac.exceptions.Unauthorized: "401"}
    return statuses.get(type(exc), "error")


def check(client: VaultClient) -> str:
    """Prove the store works: the token is accepted and the mount is a KV v2 engine."""
    try:
        client.hvac.auth.token.lookup_self()
    except hvac.exceptions.Forbidden:
        raise AuthenticationError(
            f"Vault at {client.config.address} refused the token (invalid, expired or "
            "revoked)") from None
    except hvac.exceptions.VaultError as exc:
        if not_vault(exc):
            raise MisconfiguredError(
                f"{client.config.address} answered HTTP {_status(exc)} without Vault's JSON "
                "error body: is 'address' the Vault server's URL?") from None
        raise AuthenticationError(f"token lookup failed: {vault_reason(exc)}") from None
    problem = client.mount_problem(strict=True)
    if problem is not None:
        raise MisconfiguredError(problem)
    return f"token accepted; mount '{client.config.mount}/' is KV v2"
