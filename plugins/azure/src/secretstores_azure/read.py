"""Reading secrets: one ``GET /secrets/{name}/{version}`` per identifier.

Key Vault has no batch read: the core fans the identifiers of a render out over
its worker threads (at most the store's ``concurrency`` at once), all through
the store's one client and its pool of connections.

What an answer means:

- 200: the value (its text, whatever the content type).
- 404 ``SecretNotFound``: not found, also for a secret that was deleted (soft
  delete keeps it recoverable, but it cannot be read until it is recovered).
- 403 with the inner code ``SecretDisabled``: the secret (or that version) is
  disabled: denied, with a message saying so, never a crash of the render.
- 403 otherwise: the principal may not read it (no ``get`` permission, no Key
  Vault Secrets User role on it): denied.
- 429: throttled, retried by the core after the ``Retry-After`` it asked for.
"""

from __future__ import annotations

from secretstores.errors import AccessDeniedError, StoreError
from secretstores.model import FetchResult
from secretstores_azure.client import AzureClient
from secretstores_azure.errors import DISABLED, KeyVaultError, call
from secretstores_azure.identifiers import IdentifierError, SecretRef, parse


def _answer(error: StoreError, ref: SecretRef) -> FetchResult | StoreError:
    """The result a failed read stands for, or the error to raise."""
    if isinstance(error, AccessDeniedError):
        return FetchResult.denied(error.reason)
    if isinstance(error, KeyVaultError):
        if error.status == 403 and error.inner == DISABLED:
            which = f"version {ref.version} of secret '{ref.name}'" if ref.version else (
                f"secret '{ref.name}' (its current version)")
            return FetchResult.denied(f"{which} is disabled in Key Vault: enable it to read it")
        if error.status == 404:
            which = f"version {ref.version} of secret '{ref.name}'" if ref.version else (
                f"secret '{ref.name}'")
            return FetchResult.not_found(
                f"no {which} in the vault (a deleted secret is not found until recovered)")
        return FetchResult.unavailable(error.reason)
    return error


def read(client: AzureClient, identifier: str) -> FetchResult:
    """Read one identifier (``NAME``, ``NAME/VERSION`` or a secret URL)."""
    try:
        ref = parse(identifier, client.vault_url)
    except IdentifierError as exc:
        return FetchResult.unavailable(f"invalid identifier: {exc}")
    try:
        secret = call(f"reading '{ref}'", client.vault_url, client.secrets.get_secret,
                      ref.name, ref.version)
    except StoreError as exc:
        outcome = _answer(exc, ref)
    else:
        if secret.value is None:
            return FetchResult.not_found(f"secret '{ref}' holds no value")
        return FetchResult.found(secret.value, version=secret.properties.version)
    if isinstance(outcome, StoreError):
        raise outcome  # Unauthorized, throttled, transient, misconfigured: the core acts
    return outcome
