"""Secret identifiers: a secret's name, optionally a version, or its Key Vault URL.

Syntax::

    NAME                                   the current version
    NAME/VERSION                           that version (the 32 hex digits Key Vault shows)
    https://VAULT/secrets/NAME[/VERSION]   the "Secret Identifier" the Azure portal shows

A Key Vault secret name is 1 to 127 letters, digits and dashes, compared without
regard to case. Names cannot hold ``_``, and template names cannot hold ``-``, so
in an identifier ``_`` stands for ``-``: ``{{ secrets.az.openai_key }}`` reads the
secret ``openai-key``, as does ``{{ secrets.az.[openai-key] }}``. Listings give
names in that form (:func:`listed`), so every listed name can be written in a
template as it is. A JSON value is drilled into by key in the template
(``{{ secrets.az.[db-credentials].password }}``).
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import attrs

_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_VERSION = re.compile(r"^[0-9A-Za-z]{1,64}$")


class IdentifierError(ValueError):
    """Raised when an identifier is not a Key Vault secret name (with a version)."""


@attrs.frozen
class SecretRef:
    """One parsed identifier: the secret's name as Key Vault knows it, and a version."""

    name: str
    version: str | None = None

    def __str__(self) -> str:
        return f"{self.name}/{self.version}" if self.version else self.name


def vault_name(name: str) -> str:
    """The Key Vault name an identifier's name stands for (``_`` is ``-``)."""
    vault = name.strip().replace("_", "-")
    if not _NAME.match(vault):
        raise IdentifierError(
            f"'{name}' is not a Key Vault secret name (1 to 127 letters, digits and "
            "dashes; '_' stands for '-')")
    return vault


def listed(name: str) -> str:
    """How a listing shows secret ``name``: with ``_`` for ``-``, a valid template name."""
    return name.replace("-", "_")


def _host(netloc: str) -> str:
    host = netloc.lower()
    return host[:-4] if host.endswith(":443") else host


def parse(identifier: str, vault_url: str) -> SecretRef:
    """Parse ``identifier`` for the vault at ``vault_url``.

    :raises IdentifierError: it is not ``NAME``, ``NAME/VERSION`` or a secret
        identifier URL of this vault.
    """
    text = identifier.strip()
    if not text:
        raise IdentifierError("the identifier names no secret")
    if "://" in text:
        parts = urlsplit(text)
        if _host(parts.netloc) != _host(urlsplit(vault_url).netloc):
            raise IdentifierError(
                f"the identifier is a secret of the vault at {parts.scheme}://{parts.netloc}, "
                f"but this store reads {vault_url}")
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        if len(segments) not in (2, 3) or segments[0] != "secrets" or parts.query:
            raise IdentifierError(
                "a Key Vault URL identifier reads https://VAULT/secrets/NAME[/VERSION]")
        segments = segments[1:]
    else:
        segments = text.split("/")
        if len(segments) > 2:
            raise IdentifierError("an identifier is NAME or NAME/VERSION (one '/' at most)")
    name = vault_name(segments[0])
    version = segments[1].strip() if len(segments) == 2 else None
    if version is not None and not _VERSION.match(version):
        raise IdentifierError(
            f"'{version}' is not a secret version (Key Vault versions are 32 hex digits)")
    return SecretRef(name, version)


def plain(identifier: str, vault_url: str, action: str) -> str:
    """The secret name of an identifier to write or delete (a version cannot be).

    :raises IdentifierError: the identifier is invalid or pins a version.
    """
    ref = parse(identifier, vault_url)
    if ref.version is not None:
        raise IdentifierError(f"cannot {action} a version: name the secret alone ('{ref.name}')")
    return ref.name
