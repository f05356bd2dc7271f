"""Reading one secret version with ``AccessSecretVersion``; the core fans batches out.

Secret Manager has no batch read: the core runs the reads of a render
concurrently (up to the store's ``concurrency``), each with its own retries,
so 20 references cost about one round trip.

A payload whose ``data_crc32c`` (sent when the version was written with one)
does not match its bytes was damaged on the way: it is never returned, but
reported as transient (the core reads it again) and, if it stays wrong,
unavailable. UTF-8 payloads are returned as text, other bytes as standard
base64.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from secretstores.model import FetchResult
from secretstores_gcp.errors import ApiFailure
from secretstores_gcp.identifiers import IdentifierError

if TYPE_CHECKING:
    from secretstores_gcp.client import GcpClient

_ROLE = "roles/secretmanager.secretAccessor"


def crc32c(data: bytes) -> int:
    """The CRC32C (Castagnoli) checksum of ``data``."""
    import google_crc32c

    return int(google_crc32c.value(data))


def text_of(data: bytes) -> str:
    """A payload as text: UTF-8 as is, other bytes as standard base64."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii")


def _failure(path: str, failure: ApiFailure) -> FetchResult:
    error = failure.error
    text = f"{failure.operation}: {error}"
    if error.status == "NOT_FOUND":
        return FetchResult.not_found(text)
    if error.status == "FAILED_PRECONDITION":
        for state in ("DISABLED", "DESTROYED"):
            if f"{state} state" in error.message:
                return FetchResult.not_found(
                    f"the version of '{path}' is {state.lower()} ({text})")
    if error.status == "PERMISSION_DENIED":
        return FetchResult.denied(f"{text} (reading needs {_ROLE} on the secret or its "
                                  "project)")
    if error.status == "INVALID_ARGUMENT":
        return FetchResult.unavailable(f"invalid identifier: {text}")
    return FetchResult.unavailable(text)


def read_one(client: GcpClient, identifier: str) -> FetchResult:
    """Read one identifier (a name, a path, any version) with ``AccessSecretVersion``."""
    try:
        ref = client.ref(identifier)
    except IdentifierError as exc:
        return FetchResult.unavailable(f"invalid identifier: {exc}")
    path = ref.version_path
    try:
        answer = client.call("AccessSecretVersion", "access_secret_version",
                             request={"name": path})
    except ApiFailure as failure:
        return _failure(path, failure)
    payload = answer.payload
    data = bytes(payload.data)
    # proto3 `optional`: absent when the version was written without a checksum
    if "data_crc32c" in payload and crc32c(data) != payload.data_crc32c:
        return FetchResult.transient(
            f"AccessSecretVersion: the payload of '{path}' does not match its checksum "
            "(data_crc32c): it was damaged on the way")
    version = str(answer.name).rpartition("/versions/")[2] or None
    return FetchResult.found(text_of(data), version=version)
