"""Writing, deleting and listing secrets, and the store check.

A write sends ``PUT /secrets/{name}``: a new version that becomes the current
one (Key Vault keeps the older versions). A secret that was deleted but is
still recoverable (soft delete) cannot be written to; the write recovers it
first, keeping its history, then adds the new version. Key Vault has no
idempotency token. The core gives each write a ``request_id``, the same on
every retry of it: when a write is retried (its first answer was lost, say),
the current version is read first and, if it already holds the value, nothing
is added, so a retried write never makes a second version. First attempts
never pay that extra read.

A delete sends ``DELETE /secrets/{name}``: with soft delete (the default of
every vault) the secret stays recoverable for the vault's retention period, and
reads answer "not found" meanwhile.
"""

from __future__ import annotations

from secretstores.errors import StoreError, TransientError
from secretstores.writes import WriteAttempts
from secretstores_azure.client import AzureClient, sign_in
from secretstores_azure.config import AzureConfig
from secretstores_azure.errors import BEING_CHANGED, DELETED_BUT_RECOVERABLE, KeyVaultError, call
from secretstores_azure.identifiers import IdentifierError, listed, plain

#: The writes attempted, to recognise a retry (see :mod:`secretstores.writes`).
_attempts = WriteAttempts()


def _holds(client: AzureClient, secret: str, value: str) -> bool:
    """Whether the current version of ``secret`` holds ``value`` (False when it cannot be
    read: the write then goes ahead)."""
    try:
        current = call(f"reading '{secret}' before writing it again", client.vault_url,
                       client.secrets.get_secret, secret)
    except StoreError:
        return False
    return bool(current.value == value)


def _name(client: AzureClient, name: str, action: str) -> str:
    try:
        return plain(name, client.vault_url, action)
    except IdentifierError as exc:
        error = StoreError(f"cannot {action} '{name}': {exc}")
    raise error


def _busy(exc: KeyVaultError, name: str) -> StoreError:
    """The error for a 409 while Key Vault is still deleting or recovering ``name``."""
    if exc.inner in BEING_CHANGED:
        return TransientError(f"secret '{name}' is being deleted or recovered ({exc.inner})")
    return exc


def _put(client: AzureClient, secret: str, value: str) -> bool:
    """Add a version of ``secret``; False when it is deleted but recoverable."""
    try:
        call(f"writing '{secret}'", client.vault_url, client.secrets.set_secret, secret, value)
    except KeyVaultError as exc:
        if exc.inner == DELETED_BUT_RECOVERABLE:
            return False
        error = _busy(exc, secret)
    else:
        return True
    raise error


def store(client: AzureClient, name: str, value: str, request_id: str | None = None) -> bool:
    """Make ``value`` the current version of secret ``name``, recovering a deleted secret."""
    secret = _name(client, name, "write")
    if request_id is not None and not _attempts.first(request_id) \
            and _holds(client, secret, value):
        return True  # an earlier attempt of this write went through
    if _put(client, secret, value):
        return True
    # Deleted but recoverable: recover it (its versions come back), then add ours.
    try:
        call(f"recovering deleted secret '{secret}' to write it", client.vault_url,
             client.secrets.begin_recover_deleted_secret, secret)
    except KeyVaultError as exc:
        error = _busy(exc, secret)
    else:
        if _put(client, secret, value):
            return True
        error = TransientError(f"secret '{secret}' was deleted again while being recovered")
    raise error


def delete(client: AzureClient, name: str) -> bool:
    """Delete secret ``name`` (soft delete); False when there is no such secret."""
    secret = _name(client, name, "delete")
    try:
        call(f"deleting '{secret}'", client.vault_url, client.secrets.begin_delete_secret,
             secret)
    except KeyVaultError as exc:
        if exc.status == 404:
            return False
        error = _busy(exc, secret)
    else:
        return True
    raise error


def list_names(client: AzureClient) -> list[str]:
    """The names of the vault's secrets (every page), as identifiers (``_`` for ``-``)."""

    def every_page() -> list[str]:
        return [str(item.name) for item in client.secrets.list_properties_of_secrets()]

    names = call("listing secrets", client.vault_url, every_page)
    return sorted(listed(name) for name in names)


def check(client: AzureClient, config: AzureConfig) -> str:
    """Prove the vault accepts the store's token: one request it must authorize (the
    sign-in before it ran the challenge handshake and got the token)."""
    note = sign_in(client, config)
    return f"{config.principal} signed in; {config.url} {note}"
