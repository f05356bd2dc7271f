"""Secret identifiers: a key name, optionally in another folder than the store's ``secretPath``.

Syntax::

    KEY                   the secret KEY in the store's secretPath (the gateway document's form)
    sub/folder/KEY        KEY in the folder sub/folder under the store's secretPath
    /other/folder/KEY     KEY in the folder /other/folder of the environment (absolute)
    /KEY                  KEY in the environment's root folder

The last ``/`` separates the folder from the key: Infisical keys never hold a
``/`` (they are sent as one URL path segment), nor spaces or ``:``. In a
template: ``{{ secrets.infisical.[/shared/db/DB_PASSWORD] }}``; JSON values are
drilled into there, ``{{ secrets.infisical.DB_CONFIG.password }}``.
"""

from __future__ import annotations

import attrs

from secretstores_infisical.config import folder_problem, normalize_folder


class IdentifierError(ValueError):
    """Raised when an identifier cannot name an Infisical secret."""


@attrs.frozen
class SecretRef:
    """One parsed identifier: the folder path (normalized) and the key."""

    folder: str
    key: str

    def __str__(self) -> str:
        return f"{self.folder.rstrip('/')}/{self.key}"


def parse(identifier: str, secret_path: str) -> SecretRef:
    """Parse ``identifier`` against the store's ``secretPath``.

    :raise IdentifierError: saying what is wrong (the message never holds a value).
    """
    folder_part, slash, key = identifier.rpartition("/")
    if not key:
        raise IdentifierError("the identifier names no key (it ends with '/')")
    if any(character.isspace() for character in key) or ":" in key:
        raise IdentifierError(f"'{key}' is not an Infisical key (no spaces or ':')")
    if not slash:
        folder = normalize_folder(secret_path)
    elif identifier.startswith("/"):
        folder = folder_part or "/"
    else:
        folder = normalize_folder(secret_path).rstrip("/") + "/" + folder_part
    problem = folder_problem(folder)
    if problem is not None:
        raise IdentifierError(problem)
    return SecretRef(normalize_folder(folder), key)
