"""Writing, deleting and listing secrets, and the store's check.

A write updates the key (``PATCH /api/v3/secrets/raw/{key}``) and, when Infisical
says it does not exist, creates it (``POST``); a create that finds the key
created meanwhile updates it. Infisical has no idempotency token. The core
gives each write a ``request_id``, the same on every retry of it: when a write
is retried (its first answer was lost, say), the key is read first and, if it
already holds the value, nothing is written again, so a retried write never
makes another version. First attempts never pay that extra read.
Folders are never created: a write into a folder that does not exist fails,
saying so. Every call sends ``type: shared``.
"""

from __future__ import annotations

from secretstores.errors import (
    AccessDeniedError,
    MisconfiguredError,
    StoreError,
    StoreUnavailableError,
    Unauthorized,
)
from secretstores.writes import WriteAttempts
from secretstores_infisical.client import (
    Failure,
    InfisicalClient,
    Unreadable,
    attempt,
    key_segment,
)
from secretstores_infisical.errors import Answer, not_infisical
from secretstores_infisical.identifiers import IdentifierError, SecretRef, parse
from secretstores_infisical.reads import refused_token


def _ref(client: InfisicalClient, name: str, action: str) -> SecretRef:
    try:
        return parse(name, client.config.secret_path)
    except IdentifierError as exc:
        raise StoreError(f"cannot {action} '{name}': {exc}") from None


def failed(client: InfisicalClient, action: str, what: str, folder: str, failure: Failure,
           *hidden: str) -> StoreError:
    """The error for a failed write, delete or list of ``what`` (a key path or a folder).

    ``hidden``: texts (the value written) to cut out of Infisical's message.
    """
    config = client.config
    if isinstance(failure, Unreadable):
        if action == "store" and failure.kind == "KeyError":
            return StoreUnavailableError(
                f"Infisical did not return the written secret {what}: a change approval "
                f"policy on {client.where(folder)} may hold the change for review "
                "(it is not applied yet), or 'siteUrl' is not Infisical's API")
        return MisconfiguredError(not_infisical(config.site))
    if failure.token_problem:
        return refused_token(failure)
    message = failure.describe()
    for text in hidden:
        if len(text) >= 4:  # Infisical never quotes a value; this is a second line of defence
            message = message.replace(text, "<value>")
    if failure.status == 403:
        return AccessDeniedError(f"Infisical refused to {action} {what} in environment "
                                 f"'{config.environment}': {message}")
    if failure.missing == "folder":
        if folder == config.folder:
            return MisconfiguredError(client.folder_missing(folder))
        return StoreError(f"cannot {action} {what}: {client.where(folder)} does not exist "
                          "(create the folder in Infisical first)")
    problem = client.missing_problem(failure)
    if problem is not None:
        return MisconfiguredError(problem)
    return StoreUnavailableError(f"cannot {action} {what}: Infisical answered {message}")


#: The writes attempted, to recognise a retry (see :mod:`secretstores.writes`).
_attempts = WriteAttempts()


def _holds(client: InfisicalClient, ref: SecretRef, value: str) -> bool:
    """Whether key ``ref`` holds ``value`` itself (False when it cannot be read: the
    write then goes ahead)."""
    config = client.config
    secret, failure = attempt(lambda: client.secrets.get_secret_by_name(
        secret_name=key_segment(ref.key), project_id=config.project_id,
        environment_slug=config.environment, secret_path=ref.folder,
        expand_secret_references=False, include_imports=False, view_secret_value=True))
    if failure is not None or secret is None or getattr(secret, "secretValueHidden", False):
        return False
    return bool(secret.secretValue == value)


def put(client: InfisicalClient, name: str, value: str, request_id: str | None = None) -> bool:
    """Give secret ``name`` the value ``value``, creating it when it does not exist."""
    ref = _ref(client, name, "store")
    config = client.config
    if request_id is not None and not _attempts.first(request_id) \
            and _holds(client, ref, value):
        return True  # an earlier attempt of this write went through
    common = {"secret_path": ref.folder, "environment_slug": config.environment,
              "project_id": config.project_id, "secret_value": value}

    def update() -> Failure | None:
        # skip_multiline_encoding None: the SDK leaves it out, so the secret keeps its own
        return attempt(lambda: client.secrets.update_secret_by_name(
            current_secret_name=key_segment(ref.key), skip_multiline_encoding=None,
            **common))[1]

    failure = update()
    if isinstance(failure, Answer) and failure.missing == "secret":
        failure = attempt(lambda: client.secrets.create_secret_by_name(
            secret_name=key_segment(ref.key), **common))[1]
        if isinstance(failure, Answer) and failure.status == 400 \
                and "already exist" in failure.message:
            failure = update()  # another writer created it meanwhile
    if failure is None:
        return True
    raise failed(client, "store", str(ref), ref.folder, failure, value)


def delete(client: InfisicalClient, name: str) -> bool:
    """Delete secret ``name``: True if it was deleted, False if it did not exist."""
    ref = _ref(client, name, "delete")
    config = client.config
    _, failure = attempt(lambda: client.secrets.delete_secret_by_name(
        secret_name=key_segment(ref.key), secret_path=ref.folder,
        environment_slug=config.environment, project_id=config.project_id))
    if failure is None:
        return True
    if isinstance(failure, Answer) and (
            failure.missing == "secret"
            or (failure.missing == "folder" and ref.folder != config.folder)):
        return False
    raise failed(client, "delete", str(ref), ref.folder, failure)


def list_names(client: InfisicalClient) -> list[str]:
    """Every key under the store's ``secretPath``, subfolders included, as identifiers
    (``KEY``, or ``sub/folder/KEY`` for a subfolder's). Values are not requested."""
    config = client.config
    home = config.folder
    answer, failure = attempt(lambda: client.secrets.list_secrets(
        environment_slug=config.environment, secret_path=home, project_id=config.project_id,
        expand_secret_references=False, view_secret_value=False, recursive=True,
        include_imports=False))
    if failure is not None or answer is None:
        raise failed(client, "list", f"the secrets of {client.where()}", home,
                     failure or Unreadable("empty answer"))
    names: set[str] = set()
    for secret in answer.secrets:
        if getattr(secret, "type", "shared") != "shared":
            continue
        folder = "/" + (getattr(secret, "secretPath", None) or home).strip("/")
        if folder == home:
            names.add(secret.secretKey)
        elif folder.startswith(home.rstrip("/") + "/"):
            names.add(folder[len(home.rstrip("/")) + 1:] + "/" + secret.secretKey)
        else:
            names.add(f"{folder.rstrip('/')}/{secret.secretKey}")
    return sorted(names)


def check(client: InfisicalClient, subject: str) -> str:
    """Prove the store works: Infisical accepts the token and the store's project,
    environment and folder exist (one read of a probe key, without its value)."""
    config = client.config
    failure = client.probe()
    accepted = (f"{subject} accepted by {config.site}; {client.where()} exists in project "
                f"'{config.project_id}'")
    if failure is None:
        return accepted
    if isinstance(failure, Answer):
        if failure.token_problem:
            raise Unauthorized(f"Infisical refused the token ({failure.describe()})")
        if failure.status == 403 and failure.error == "PermissionDenied":
            return f"{accepted} (the identity may not describe every key there)"
        if failure.missing == "folder":
            raise MisconfiguredError(client.folder_missing(config.folder))
    raise failed(client, "read", f"the secrets of {client.where()}", config.folder, failure)
