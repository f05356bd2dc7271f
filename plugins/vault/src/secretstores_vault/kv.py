"""KV secrets engine v2: reading batches, check-and-set writes, deletes and listings.

Identifiers are ``PATH[?version=N][#KEY]``: the path within the mount (after the
store's ``pathPrefix``), an optional pinned version, and an optional key of the
secret's data. Identifiers sharing a path and version are answered by one read.

A secret's value is its data as a JSON object text (so templates drill down
with ``.password``), except a secret whose only key is ``value``, which is that
string: what :func:`write` stores for a plain value.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn

import attrs
import hvac
import hvac.exceptions

from secretstores.errors import (
    AccessDeniedError,
    StoreUnavailableError,
    Unauthorized,
    WriteConflictError,
)
from secretstores.model import FetchResult, Status
from secretstores_vault.config import VaultConfig
from secretstores_vault.transport import NETWORK_ERRORS

#: The data key a plain value is stored under, and read back from.
VALUE_KEY = "value"

#: How many paths of one batch are read at once (KV v2 has no batch read).
PARALLEL_READS = 20


@attrs.frozen
class Identifier:
    """A parsed identifier: the path (prefix included), a pinned version, a key."""

    path: str
    version: int | None = None
    key: str | None = None


def parse(identifier: str, config: VaultConfig) -> Identifier:
    """Parse ``PATH[?version=N][#KEY]``; raise ValueError saying what is wrong."""
    rest, _, key = identifier.partition("#")
    path, has_query, query = rest.partition("?")
    version: int | None = None
    if has_query:
        name, _, number = query.partition("=")
        if name != "version" or not number.isdigit() or int(number) < 1:
            raise ValueError(f"invalid version syntax '?{query}' (expected ?version=N, N >= 1)")
        version = int(number)
    if not path.strip("/"):
        raise ValueError("empty secret path")
    if any(part in (".", "..") for part in path.split("/")):
        raise ValueError("'.' and '..' are not allowed in a secret path")
    return Identifier(config.path_of(path), version, key or None)


def render(data: Mapping[str, Any], key: str | None) -> FetchResult:
    """The value of a secret's ``data`` (or of one key of it) as text."""
    if key is not None:
        if key not in data:
            return FetchResult.not_found(f"the secret has no key '{key}'")
        item = data[key]
        return FetchResult.found(item if isinstance(item, str) else json.dumps(item))
    if set(data) == {VALUE_KEY} and isinstance(data[VALUE_KEY], str):
        return FetchResult.found(data[VALUE_KEY])
    return FetchResult.found(json.dumps(dict(data)))


def _errors(exc: hvac.exceptions.VaultError) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        return "; ".join(str(e) for e in errors)
    return str(exc).split(", on ")[0] or type(exc).__name__


def token_works(client: hvac.Client) -> bool:
    """Whether the client's token is still accepted (a ``lookup-self`` succeeds).

    Vault answers 403 both for a path a policy denies and for a token that
    expired or was revoked; this tells the two apart.
    """
    try:
        client.auth.token.lookup_self()
    except hvac.exceptions.Forbidden:
        return False
    return True


def _read(client: hvac.Client, config: VaultConfig,
          path: str, version: int | None) -> Mapping[str, Any] | FetchResult:
    """The data of one secret version, or the FetchResult that explains why there is none."""
    try:
        response = client.secrets.kv.v2.read_secret_version(
            path=path, version=version, mount_point=config.mount,
            raise_on_deleted_version=True)
    except hvac.exceptions.InvalidPath:
        where = f"version {version} of " if version else ""
        return FetchResult.not_found(f"{where}{config.mount}/{path} not found (or deleted)")
    except hvac.exceptions.Forbidden:
        return FetchResult.denied(f"permission denied on {config.mount}/data/{path}")
    except NETWORK_ERRORS as exc:
        raise StoreUnavailableError(f"cannot reach Vault ({type(exc).__name__})") from None
    except hvac.exceptions.VaultError as exc:
        return FetchResult.unavailable(f"Vault answered for {config.mount}/{path}: {_errors(exc)}")
    data = (response or {}).get("data") or {}
    secret = data.get("data")
    if not isinstance(secret, Mapping):
        return FetchResult.not_found(f"{config.mount}/{path} holds no data (deleted or destroyed)")
    return secret


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """The worker threads of parallel reads, started once and shared by every store."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(PARALLEL_READS * 2, thread_name_prefix="secretstores-vault")
        return _POOL


def fetch(client: hvac.Client, config: VaultConfig,
          identifiers: Sequence[str]) -> dict[str, FetchResult]:
    """Results for a batch of identifiers: one read per distinct path and version."""
    results: dict[str, FetchResult] = {}
    groups: dict[tuple[str, int | None], list[tuple[str, Identifier]]] = {}
    for identifier in identifiers:
        try:
            parsed = parse(identifier, config)
        except ValueError as exc:
            results[identifier] = FetchResult.unavailable(f"invalid identifier: {exc}")
            continue
        groups.setdefault((parsed.path, parsed.version), []).append((identifier, parsed))
    if not groups:
        return results
    keys = list(groups)
    if len(keys) == 1:
        answers = [_read(client, config, *keys[0])]
    else:
        answers = list(_pool().map(lambda k: _read(client, config, *k), keys))
    if any(isinstance(a, FetchResult) and a.status is Status.DENIED
           for a in answers) and not token_works(client):
        raise Unauthorized("Vault refused the token (expired or revoked)")
    for key, answer in zip(keys, answers, strict=True):
        for identifier, parsed in groups[key]:
            if isinstance(answer, FetchResult):
                results[identifier] = answer
            else:
                results[identifier] = render(answer, parsed.key)
    return results


def _check_name(name: str, config: VaultConfig) -> str:
    """The path of a secret to write or delete (no version or key syntax allowed)."""
    parsed = parse(name, config)
    if parsed.version is not None or parsed.key is not None:
        raise ValueError("a secret to write or delete is named by its path alone "
                         "(no ?version= or #key)")
    return parsed.path


def current_version(client: hvac.Client, config: VaultConfig, path: str) -> int:
    """The secret's current version number, deleted or not; 0 when it never existed.

    Reads the data path (not the metadata path), so a policy granting
    ``secret/data/<prefix>/*`` is enough to write.
    """
    try:
        response = client.secrets.kv.v2.read_secret_version(
            path=path, mount_point=config.mount, raise_on_deleted_version=False)
    except hvac.exceptions.InvalidPath:
        return 0
    metadata = ((response or {}).get("data") or {}).get("metadata") or {}
    return int(metadata.get("version") or 0)


def write(client: hvac.Client, config: VaultConfig, path: str, data: Mapping[str, Any],
          cas: int) -> int:
    """Write ``data`` as a new version of ``path`` if its current version is ``cas``.

    :return: the new version number.
    :raise WriteConflictError: another writer changed the secret since version ``cas``.
    """
    try:
        response = client.secrets.kv.v2.create_or_update_secret(
            path=path, secret=dict(data), cas=cas, mount_point=config.mount)
    except hvac.exceptions.InvalidRequest as exc:
        if "check-and-set" in _errors(exc):
            change = (f"changed it after version {cas} was read" if cas
                      else "created it meanwhile")
            raise WriteConflictError(
                f"write conflict on {config.mount}/{path}: another writer {change} "
                "(check-and-set failed); nothing was overwritten, read it again and retry"
            ) from None
        raise
    except hvac.exceptions.Forbidden:
        _raise_forbidden(client, "write", config, path)
    return int(((response or {}).get("data") or {}).get("version") or 0)


def _raise_forbidden(client: hvac.Client, action: str, where: VaultConfig | str,
                     path: str) -> NoReturn:
    """Raise Unauthorized when the token stopped working, else AccessDeniedError (policy)."""
    if not token_works(client):
        raise Unauthorized("Vault refused the token (expired or revoked)")
    base = where if isinstance(where, str) else f"{where.mount}/data"
    raise AccessDeniedError(f"permission denied: cannot {action} {base}/{path}", reference=path)


def store(client: hvac.Client, config: VaultConfig, name: str, value: str) -> None:
    """Store ``value`` as ``{"value": value}``: a new version, checked-and-set."""
    path = _check_name(name, config)
    try:
        version = current_version(client, config, path)
    except hvac.exceptions.Forbidden:
        _raise_forbidden(client, "read", config, path)
    write(client, config, path, {VALUE_KEY: value}, cas=version)


def delete(client: hvac.Client, config: VaultConfig, name: str) -> bool:
    """Soft-delete the latest version (recoverable with ``undelete``); False if none was live."""
    path = _check_name(name, config)
    try:
        client.secrets.kv.v2.read_secret_version(
            path=path, mount_point=config.mount, raise_on_deleted_version=True)
    except hvac.exceptions.InvalidPath:
        return False
    except hvac.exceptions.Forbidden:
        _raise_forbidden(client, "read", config, path)
    try:
        client.secrets.kv.v2.delete_latest_version_of_secret(path=path, mount_point=config.mount)
    except hvac.exceptions.Forbidden:
        _raise_forbidden(client, "delete", config, path)
    return True


def list_names(client: hvac.Client, config: VaultConfig) -> list[str]:
    """Every secret name under the store's ``pathPrefix``, recursively, as identifiers."""
    prefix = config.path_prefix.strip("/")
    names: list[str] = []
    pending = [""]
    while pending:
        folder = pending.pop()
        try:
            response = client.secrets.kv.v2.list_secrets(
                path="/".join(p for p in (prefix, folder.rstrip("/")) if p),
                mount_point=config.mount)
        except hvac.exceptions.InvalidPath:
            continue
        except hvac.exceptions.Forbidden:
            _raise_forbidden(client, "list", config.mount + "/metadata",
                             f"{prefix}/{folder}".strip("/"))
        for key in _keys(response):
            if key.endswith("/"):
                pending.append(folder + key)
            else:
                names.append(folder + key)
    return sorted(names)


def _keys(response: Any) -> Iterable[str]:
    return [str(k) for k in ((response or {}).get("data") or {}).get("keys") or []]
