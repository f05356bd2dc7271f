"""Secret identifiers: resource paths or plain names, with an optional version.

Syntax (the gateway document's two forms, and what GCP users write elsewhere)::

    NAME                                              latest version, configured project
    NAME:VERSION                                      (Cloud Run's and Cloud Functions' form)
    projects/PROJECT/secrets/NAME                     latest version
    projects/PROJECT/secrets/NAME/versions/VERSION
    projects/PROJECT/locations/LOCATION/secrets/NAME[/versions/VERSION]   regional secrets

``VERSION`` is ``latest``, a version number or a version alias. ``PROJECT``
is a project ID or number, and may differ from the store's ``projectId``
(cross-project reads work when the credentials allow them). Against a
regional endpoint (``secretmanager.LOCATION.rep.googleapis.com``) plain names
designate that location's secrets. Secret names hold only letters, digits,
``_`` and ``-``, so neither ``/`` nor ``:`` can be part of one.
"""

from __future__ import annotations

import re

import attrs

_NAME = r"[A-Za-z0-9_-]{1,255}"
_VERSION = r"latest|[1-9][0-9]{0,18}|[A-Za-z0-9_-]{1,63}"
_PROJECT = r"(?:(?:[a-z0-9-]+\.)+[a-z]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20}"
_LOCATION = r"[a-z][a-z0-9-]{1,62}"
_PATH = re.compile(
    rf"^projects/(?P<project>{_PROJECT})(?:/locations/(?P<location>{_LOCATION}))?"
    rf"/secrets/(?P<name>{_NAME})(?:/versions/(?P<version>{_VERSION}))?$")
_SHORT = re.compile(rf"^(?P<name>{_NAME})(?::(?P<version>{_VERSION}))?$")

#: The version a reference without one reads.
LATEST = "latest"


class IdentifierError(ValueError):
    """Raised when an identifier is neither a secret name nor a secret (version) path."""


@attrs.frozen
class SecretRef:
    """One parsed identifier: the secret and the version to read."""

    project: str
    name: str
    version: str = LATEST
    location: str | None = None

    @property
    def secret_path(self) -> str:
        """``projects/P[/locations/L]/secrets/NAME``."""
        where = f"/locations/{self.location}" if self.location else ""
        return f"projects/{self.project}{where}/secrets/{self.name}"

    @property
    def parent(self) -> str:
        """``projects/P[/locations/L]``: where the secret is created."""
        where = f"/locations/{self.location}" if self.location else ""
        return f"projects/{self.project}{where}"

    @property
    def version_path(self) -> str:
        """``projects/P[/locations/L]/secrets/NAME/versions/VERSION``: what is accessed."""
        return f"{self.secret_path}/versions/{self.version}"

    @property
    def pinned(self) -> bool:
        """Whether the identifier names a version (``versions/latest`` does not pin one)."""
        return self.version != LATEST


def parse(identifier: str, project: str, location: str | None = None) -> SecretRef:
    """Parse ``identifier``; plain names belong to ``project`` (and ``location``).

    :raises IdentifierError: with a message saying what the identifier should look like.
    """
    text = identifier.strip()
    if text.startswith("projects/"):
        found = _PATH.match(text)
        if found is None:
            raise IdentifierError(
                "expected projects/PROJECT/secrets/NAME[/versions/VERSION] (NAME: letters, "
                "digits, '_' and '-'; VERSION: latest, a number or an alias)")
        return SecretRef(found["project"], found["name"], found["version"] or LATEST,
                         found["location"])
    found = _SHORT.match(text)
    if found is None:
        raise IdentifierError(
            "expected a secret name (letters, digits, '_' and '-', at most 255), NAME:VERSION, "
            "or projects/PROJECT/secrets/NAME[/versions/VERSION]")
    return SecretRef(project, found["name"], found["version"] or LATEST, location)


def writable(identifier: str, project: str, location: str | None = None) -> SecretRef:
    """Parse the name of a secret to write or delete: no version may be given.

    :raises IdentifierError: when it is invalid or names a version.
    """
    ref = parse(identifier, project, location)
    text = identifier.strip()
    if "/versions/" in text or (not text.startswith("projects/") and ":" in text):
        raise IdentifierError("a version cannot be written or deleted: name the secret "
                              "(NAME or projects/PROJECT/secrets/NAME)")
    return ref
