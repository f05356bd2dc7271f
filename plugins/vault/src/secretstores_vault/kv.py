"""KV secrets engine v2: reads, check-and-set writes, deletes and listings.

Identifiers are ``PATH[?version=N][#KEY]``: the path within the mount (after the
store's ``pathPrefix``), an optional pinned version, and an optional key of the
secret's data. KV v2 has no batch read, so the core fans reads out; reads of
one path and version that run at the same time share one request.

A secret's value is its data as a JSON object text (so templates drill down
with ``.password``), except a secret whose only key is ``value``, which is that
string: what :func:`store` writes for a plain value.

A 404 is "not found" only when it is Vault's answer for a missing secret: a
route no mount serves, a 404 without Vault's JSON body, or a mount that is not
KV v2 are "misconfigured", which ``| default`` never hides.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import hvac
import hvac.exceptions

from secretstores.errors import (
    MisconfiguredError,
    StoreUnavailableError,
    Unauthorized,
    WriteConflictError,
)
from secretstores.model import FetchResult
from secretstores_vault.client import VaultClient, no_route, not_vault, vault_reason
from secretstores_vault.config import VaultConfig

#: The data key a plain value is stored under, and read back from.
VALUE_KEY = "value"


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


def _misconfigured(client: VaultClient, exc: hvac.exceptions.VaultError, path: str) -> str | None:
    """Why a 404 on ``path`` means a wrong address, mount or engine; None for "not found"."""
    config = client.config
    if not_vault(exc):
        return (f"{config.address} answered HTTP 404 without Vault's JSON error body for "
                f"{config.mount}/data/{path}: is 'address' the Vault server's URL?")
    if no_route(exc):
        return (f"no mount '{config.mount}/' at {config.address} (Vault: no handler for route "
                f"{config.mount}/data/{path}); check 'mountPath'")
    return client.mount_problem()


def _read(client: VaultClient, path: str, version: int | None) -> Mapping[str, Any] | FetchResult:
    """The data of one secret version, or the FetchResult that explains why there is none."""
    config = client.config
    try:
        response = client.hvac.secrets.kv.v2.read_secret_version(
            path=path, version=version, mount_point=config.mount,
            raise_on_deleted_version=True)
    except hvac.exceptions.InvalidPath as exc:
        problem = _misconfigured(client, exc, path)
        if problem is not None:
            return FetchResult.misconfigured(problem)
        where = f"version {version} of " if version else ""
        return FetchResult.not_found(f"{where}{config.mount}/{path} not found (or deleted)")
    except hvac.exceptions.Forbidden:
        raise_if_expired(client)
        return FetchResult.denied(f"permission denied on {config.mount}/data/{path}")
    except hvac.exceptions.VaultError as exc:
        return FetchResult.unavailable(f"Vault answered for {config.mount}/{path}: "
                                       f"{vault_reason(exc)}")
    data = (response or {}).get("data") or {}
    secret = data.get("data")
    if not isinstance(secret, Mapping):
        return FetchResult.not_found(f"{config.mount}/{path} holds no data (deleted or destroyed)")
    return secret


def raise_if_expired(client: VaultClient) -> None:
    """Raise Unauthorized when a 403 came from a token that stopped working (not a policy)."""
    if not client.token_works():
        raise Unauthorized("Vault refused the token (expired or revoked)")


def read(client: VaultClient, identifier: str) -> FetchResult:
    """One identifier's result (reads of the same path in flight share one request)."""
    try:
        parsed = parse(identifier, client.config)
    except ValueError as exc:
        return FetchResult.unavailable(f"invalid identifier: {exc}")
    answer = client.shared((parsed.path, parsed.version),
                           lambda: _read(client, parsed.path, parsed.version))
    if isinstance(answer, FetchResult):
        return answer
    return render(answer, parsed.key)


def _check_name(name: str, config: VaultConfig) -> str:
    """The path of a secret to write or delete (no version or key syntax allowed)."""
    parsed = parse(name, config)
    if parsed.version is not None or parsed.key is not None:
        raise ValueError("a secret to write or delete is named by its path alone "
                         "(no ?version= or #key)")
    return parsed.path


def _failed(client: VaultClient, exc: hvac.exceptions.VaultError, action: str,
            path: str) -> Exception:
    """The error for a failed write, delete or list of ``path``."""
    config = client.config
    if isinstance(exc, hvac.exceptions.Forbidden):  # name the path a policy must grant
        api = "metadata" if action == "list" else "data"
        return client.refused(f"{action} {config.mount}/{api}/{path}")
    if isinstance(exc, hvac.exceptions.InvalidPath):
        problem = _misconfigured(client, exc, path)
        if problem is not None:
            return MisconfiguredError(problem)
    return StoreUnavailableError(f"cannot {action} {config.mount}/{path}: {vault_reason(exc)}")


def current_version(client: VaultClient, path: str) -> int:
    """The secret's current version number, deleted or not; 0 when it never existed.

    Reads the data path (not the metadata path), so a policy granting
    ``secret/data/<prefix>/*`` is enough to write.
    """
    try:
        response = client.hvac.secrets.kv.v2.read_secret_version(
            path=path, mount_point=client.config.mount, raise_on_deleted_version=False)
    except hvac.exceptions.InvalidPath as exc:
        problem = _misconfigured(client, exc, path)
        if problem is not None:
            raise MisconfiguredError(problem) from None
        return 0
    except hvac.exceptions.VaultError as exc:
        raise _failed(client, exc, "read", path) from None
    metadata = ((response or {}).get("data") or {}).get("metadata") or {}
    return int(metadata.get("version") or 0)


def write(client: VaultClient, path: str, data: Mapping[str, Any], cas: int) -> int:
    """Write ``data`` as a new version of ``path`` if its current version is ``cas``.

    :return: the new version number.
    :raise WriteConflictError: another writer changed the secret since version ``cas``.
    """
    mount = client.config.mount
    try:
        response = client.hvac.secrets.kv.v2.create_or_update_secret(
            path=path, secret=dict(data), cas=cas, mount_point=mount)
    except hvac.exceptions.InvalidRequest as exc:
        if "check-and-set" in vault_reason(exc):
            change = (f"changed it after version {cas} was read" if cas
                      else "created it meanwhile")
            raise WriteConflictError(
                f"write conflict on {mount}/{path}: another writer {change} "
                "(check-and-set failed); nothing was overwritten, read it again and retry"
            ) from None
        raise _failed(client, exc, "write", path) from None
    except hvac.exceptions.VaultError as exc:
        raise _failed(client, exc, "write", path) from None
    return int(((response or {}).get("data") or {}).get("version") or 0)


def data_of(value: str) -> dict[str, Any]:
    """The secret data that reads back exactly as ``value``.

    A JSON object in the form :func:`render` gives (``json.dumps``) is the data
    itself, so ``{"username": ..., "password": ...}`` stays a secret of two keys,
    as other Vault clients expect; anything else is ``{"value": value}`` (a JSON
    object written in another form too: it would not read back as written).
    """
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, dict) and data and render(data, None).value == value:
            return data
    return {VALUE_KEY: value}


def store(client: VaultClient, name: str, value: str) -> None:
    """Store ``value`` (see :func:`data_of`) as a new version, checked-and-set."""
    path = _check_name(name, client.config)
    client.require_kv2()  # a KV v1 mount would take the write at the wrong path
    write(client, path, data_of(value), cas=current_version(client, path))


def delete(client: VaultClient, name: str) -> bool:
    """Soft-delete the latest version (recoverable with ``undelete``); False if none was live."""
    path = _check_name(name, client.config)
    mount = client.config.mount
    try:
        client.hvac.secrets.kv.v2.read_secret_version(
            path=path, mount_point=mount, raise_on_deleted_version=True)
    except hvac.exceptions.InvalidPath as exc:
        problem = _misconfigured(client, exc, path)
        if problem is not None:
            raise MisconfiguredError(problem) from None
        return False
    except hvac.exceptions.VaultError as exc:
        raise _failed(client, exc, "read", path) from None
    try:
        client.hvac.secrets.kv.v2.delete_latest_version_of_secret(path=path, mount_point=mount)
    except hvac.exceptions.VaultError as exc:
        raise _failed(client, exc, "delete", path) from None
    return True


def list_names(client: VaultClient) -> list[str]:
    """Every secret name under the store's ``pathPrefix``, recursively, as identifiers."""
    config = client.config
    prefix = config.path_prefix.strip("/")
    names: list[str] = []
    pending = [""]
    while pending:
        folder = pending.pop()
        path = "/".join(p for p in (prefix, folder.rstrip("/")) if p)
        try:
            response = client.hvac.secrets.kv.v2.list_secrets(path=path, mount_point=config.mount)
        except hvac.exceptions.InvalidPath as exc:
            problem = _misconfigured(client, exc, path)
            if problem is not None:
                raise MisconfiguredError(problem) from None
            continue
        except hvac.exceptions.VaultError as exc:
            raise _failed(client, exc, "list", path) from None
        for key in _keys(response):
            if key.endswith("/"):
                pending.append(folder + key)
            else:
                names.append(folder + key)
    return sorted(names)


def _keys(response: Any) -> Iterable[str]:
    return [str(k) for k in ((response or {}).get("data") or {}).get("keys") or []]
