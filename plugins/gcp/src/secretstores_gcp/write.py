"""Writing, deleting and listing secrets.

A write adds a version (``AddSecretVersion``, with the payload's CRC32C so
Secret Manager refuses a payload damaged on the way) and, when the secret does
not exist yet, creates it first (``CreateSecret``, automatic replication; a
regional secret for a ``projects/P/locations/L/...`` name).

Secret Manager has no idempotency token. The core gives each write a
``request_id``, the same on every retry of it: when a write is retried (its
first answer was lost, say), the latest version is read first and, if it
already holds the value, nothing is added, so a retried write never makes a
second version. First attempts never pay that extra read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from secretstores.errors import AccessDeniedError, StoreError, WriteConflictError
from secretstores.writes import WriteAttempts
from secretstores_gcp.errors import ApiFailure
from secretstores_gcp.identifiers import IdentifierError, SecretRef, writable
from secretstores_gcp.read import crc32c

if TYPE_CHECKING:
    from secretstores_gcp.client import GcpClient

#: The writes attempted, to recognise a retry (see :mod:`secretstores.writes`).
_attempts = WriteAttempts()


def _ref(client: GcpClient, name: str, action: str) -> SecretRef:
    try:
        return writable(name, client.project, client.location)
    except IdentifierError as exc:
        raise StoreError(f"cannot {action} '{name}': {exc}") from None


def _refused(action: str, name: str, failure: ApiFailure, role: str) -> StoreError:
    if failure.status == "PERMISSION_DENIED":
        return AccessDeniedError(f"cannot {action} '{name}': {failure} ({role} is needed)")
    return StoreError(f"cannot {action} '{name}': {failure}")


def _holds(client: GcpClient, ref: SecretRef, data: bytes) -> bool:
    """Whether the latest version of ``ref`` holds ``data`` (False when it cannot be read)."""
    try:
        answer = client.call("AccessSecretVersion", "access_secret_version",
                             request={"name": ref.version_path})
    except ApiFailure:
        return False
    return bytes(answer.payload.data) == data


def put(client: GcpClient, name: str, value: str, request_id: str) -> bool:
    """Add ``value`` as the newest version of secret ``name``, creating the secret if needed."""
    ref = _ref(client, name, "store")
    data = value.encode("utf-8")
    if not _attempts.first(request_id) and _holds(client, ref, data):
        return True  # an earlier attempt of this write went through
    payload = {"data": data, "data_crc32c": crc32c(data)}
    add = {"parent": ref.secret_path, "payload": payload}
    try:
        client.call("AddSecretVersion", "add_secret_version", request=add)
        return True
    except ApiFailure as failure:
        if failure.status != "NOT_FOUND":
            raise _refused("store", name, failure,
                           "roles/secretmanager.secretVersionAdder") from None
    secret: dict[str, object] = {} if ref.location else {"replication": {"automatic": {}}}
    try:
        client.call("CreateSecret", "create_secret",
                    request={"parent": ref.parent, "secret_id": ref.name, "secret": secret})
    except ApiFailure as failure:
        if failure.status != "ALREADY_EXISTS":  # another writer created it meanwhile: fine
            raise _refused("create", name, failure, "roles/secretmanager.admin") from None
    try:
        client.call("AddSecretVersion", "add_secret_version", request=add)
    except ApiFailure as failure:
        if failure.status == "NOT_FOUND":
            raise WriteConflictError(f"cannot store '{name}': the secret was deleted while "
                                     "it was being written") from None
        raise _refused("store", name, failure,
                       "roles/secretmanager.secretVersionAdder") from None
    return True


def delete(client: GcpClient, name: str) -> bool:
    """Delete secret ``name`` with all its versions; False when it did not exist."""
    ref = _ref(client, name, "delete")
    try:
        client.call("DeleteSecret", "delete_secret", request={"name": ref.secret_path})
    except ApiFailure as failure:
        if failure.status == "NOT_FOUND":
            return False
        raise _refused("delete", name, failure, "roles/secretmanager.admin") from None
    return True


def list_names(client: GcpClient) -> list[str]:
    """The names of the project's secrets (every page), each usable as an identifier."""
    parent = f"projects/{client.project}" + (
        f"/locations/{client.location}" if client.location else "")
    names: list[str] = []
    request: dict[str, object] = {"parent": parent, "page_size": 1000}
    try:
        while True:
            # One page per call (the pager's own iteration would fetch the next pages
            # outside of `call`); the pager shows its first page's fields.
            page = client.call("ListSecrets", "list_secrets", request=request)
            names.extend(str(secret.name).rpartition("/secrets/")[2] for secret in page.secrets)
            token = page.next_page_token
            if not token:
                return names
            request = {**request, "page_token": token}
    except ApiFailure as failure:
        if failure.status == "PERMISSION_DENIED":
            raise AccessDeniedError(f"cannot list the secrets of project '{client.project}': "
                                    f"{failure} (roles/secretmanager.viewer is needed)") from None
        raise StoreError(f"cannot list the secrets of project '{client.project}': "
                         f"{failure}") from None
