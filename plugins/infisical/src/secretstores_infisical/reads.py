"""Reading secrets: one key with ``GET /api/v3/secrets/raw/{key}``, or a folder's keys with
one list call ``GET /api/v3/secrets/raw``.

The type declares both ``batch_read`` and ``read``. :func:`fetch_batch` gets every
identifier a render needs from the store; for each folder from which it needs at
least ``listThreshold`` keys (3 by default) it makes one list call and answers the
keys found there; everything else is left out of its answer, and the core reads
those one at a time with :func:`read_one`, fanned out over its worker threads.
So a key the list does not show (missing, hidden by a permission, imported from
another folder) gets the single read's exact answer: not found, denied (403) or
misconfigured. ``docs/providers/infisical.md`` has the measurements behind the
threshold.

References in values (``${OTHER_KEY}``) are expanded by Infisical, in both calls;
a single read also finds keys imported into the folder (``include_imports``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from secretstores.errors import StoreUnavailableError, Unauthorized
from secretstores.model import FetchResult
from secretstores_infisical.client import (
    Failure,
    InfisicalClient,
    Unreadable,
    attempt,
    key_segment,
)
from secretstores_infisical.errors import Answer, not_infisical
from secretstores_infisical.identifiers import IdentifierError, SecretRef, parse


def _found(secret: Any, ref: SecretRef, client: InfisicalClient) -> FetchResult:
    if getattr(secret, "secretValueHidden", False):
        return FetchResult.denied(f"Infisical hid the value of {ref} in "
                                  f"environment '{client.config.environment}'")
    value = secret.secretValue
    version = getattr(secret, "version", None)
    return FetchResult.found(value if isinstance(value, str) else "",
                             version=str(version) if version is not None else None)


def refused_token(answer: Answer) -> Unauthorized:
    """The error for a token Infisical no longer accepts: the core logs in again."""
    return Unauthorized(f"Infisical refused the token ({answer.describe()})")


def read_failure(client: InfisicalClient, ref: SecretRef, failure: Failure) -> FetchResult:
    """The result for a failed single read of ``ref`` (raises Unauthorized for a token)."""
    config = client.config
    if isinstance(failure, Unreadable):
        return FetchResult.misconfigured(not_infisical(config.site))
    if failure.token_problem:
        raise refused_token(failure)
    where = f"in environment '{config.environment}'"
    if failure.status == 403:
        return FetchResult.denied(f"Infisical refused to read {ref} {where}: {failure.message}")
    if failure.missing == "secret":
        return FetchResult.not_found(f"no secret {ref} {where}")
    if failure.missing == "folder":
        if ref.folder == config.folder:
            return FetchResult.misconfigured(client.folder_missing(ref.folder))
        problem = client.home_problem()
        if problem is not None:
            return FetchResult.misconfigured(problem)
        return FetchResult.not_found(f"no folder '{ref.folder}' {where}, so no secret {ref}")
    problem = client.missing_problem(failure)
    if problem is not None:
        return FetchResult.misconfigured(problem)
    if failure.status >= 500:  # Infisical failing: an outage (a cached value may ride it out)
        raise StoreUnavailableError(f"Infisical answered {failure.describe()} for {ref}")
    return FetchResult.unavailable(f"Infisical answered {failure.describe()} for {ref}")


def read_ref(client: InfisicalClient, ref: SecretRef) -> FetchResult:
    """Read one secret with ``GET /api/v3/secrets/raw/{key}``."""
    config = client.config
    secret, failure = attempt(lambda: client.secrets.get_secret_by_name(
        secret_name=key_segment(ref.key), project_id=config.project_id,
        environment_slug=config.environment, secret_path=ref.folder,
        expand_secret_references=True, include_imports=True, view_secret_value=True))
    if failure is not None:
        return read_failure(client, ref, failure)
    return _found(secret, ref, client)


def read_one(client: InfisicalClient, identifier: str) -> FetchResult:
    """One identifier's result."""
    try:
        ref = parse(identifier, client.config.secret_path)
    except IdentifierError as exc:
        return FetchResult.unavailable(f"invalid identifier: {exc}")
    return read_ref(client, ref)


def list_folder(client: InfisicalClient, folder: str) -> dict[str, Any]:
    """The shared secrets of ``folder`` whose values the list shows, by key.

    Empty when the list call is refused or fails for another reason than the token:
    the keys are then read one at a time, each with its own exact answer.
    """
    config = client.config
    answer, failure = attempt(lambda: client.secrets.list_secrets(
        environment_slug=config.environment, secret_path=folder, project_id=config.project_id,
        expand_secret_references=True, view_secret_value=True, recursive=False,
        include_imports=False))
    if isinstance(failure, Answer) and failure.token_problem:
        raise refused_token(failure)
    if failure is not None or answer is None:
        return {}
    return {secret.secretKey: secret for secret in answer.secrets
            if getattr(secret, "type", "shared") == "shared"
            and not getattr(secret, "secretValueHidden", False)}


def fetch_batch(client: InfisicalClient, identifiers: Sequence[str]) -> dict[str, FetchResult]:
    """Answer the keys of folders read ``listThreshold`` keys at a time with one list call
    each; leave every other identifier out (the core reads it with :func:`read_one`)."""
    results: dict[str, FetchResult] = {}
    folders: dict[str, dict[str, list[tuple[str, SecretRef]]]] = {}
    for identifier in identifiers:
        try:
            ref = parse(identifier, client.config.secret_path)
        except IdentifierError as exc:
            results[identifier] = FetchResult.unavailable(f"invalid identifier: {exc}")
            continue
        folders.setdefault(ref.folder, {}).setdefault(ref.key, []).append((identifier, ref))
    threshold = client.config.list_threshold
    for folder, keys in folders.items():
        if threshold == 0 or len(keys) < threshold:
            continue  # cheaper read one by one: left out
        listed = list_folder(client, folder)
        for key, wanted in keys.items():
            secret = listed.get(key)
            if secret is None:
                continue  # not in the list: read alone, for its exact answer
            for identifier, ref in wanted:
                results[identifier] = _found(secret, ref, client)
    return results
