"""Secret identifiers: a full ARN, a partial ARN or a name, plus an optional version selector.

Syntax::

    NAME-OR-ARN
    NAME-OR-ARN?stage=STAGE            (AWSCURRENT, AWSPREVIOUS, AWSPENDING or custom)
    NAME-OR-ARN?versionId=VERSION-ID
    NAME-OR-ARN?versionId=VERSION-ID&stage=STAGE   (both must name the same version)

``?`` cannot occur in a Secrets Manager name (letters, digits and ``/_+=.@-``)
nor in an ARN, so the selector never collides with a real secret. In a
template: ``{{ secrets.aws.[prod/db?stage=AWSPREVIOUS].password }}``.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

#: The stage Secrets Manager returns when none is asked for.
CURRENT_STAGE = "AWSCURRENT"

_OPTIONS = {"stage": "stage", "versionStage": "stage", "versionId": "version_id"}


class IdentifierError(ValueError):
    """Raised when an identifier's version selector cannot be parsed."""


@attrs.frozen
class SecretRef:
    """One parsed identifier: the ``SecretId`` to send and the version to ask for."""

    secret_id: str
    stage: str | None = None
    version_id: str | None = None

    @property
    def batchable(self) -> bool:
        """Whether ``BatchGetSecretValue`` can fetch it (it only returns AWSCURRENT)."""
        return self.version_id is None and self.stage in (None, CURRENT_STAGE)

    def request(self) -> dict[str, str]:
        """The ``GetSecretValue`` parameters for this reference."""
        params = {"SecretId": self.secret_id}
        if self.stage is not None:
            params["VersionStage"] = self.stage
        if self.version_id is not None:
            params["VersionId"] = self.version_id
        return params


def parse(identifier: str) -> SecretRef:
    """Parse ``identifier``; raise :class:`IdentifierError` when its selector is malformed."""
    secret_id, sep, query = identifier.partition("?")
    secret_id = secret_id.strip()
    if not secret_id:
        raise IdentifierError("the identifier names no secret")
    if not sep:
        return SecretRef(secret_id)
    found: dict[str, str] = {}
    for part in query.split("&"):
        key, eq, value = part.partition("=")
        if key not in _OPTIONS:
            raise IdentifierError(
                f"unknown version option '{key}' (expected stage=... or versionId=...)"
            )
        if not eq or not value:
            raise IdentifierError(f"version option '{key}' needs a value")
        field = _OPTIONS[key]
        if field in found:
            raise IdentifierError(f"version option '{key}' is given twice")
        found[field] = value
    return SecretRef(secret_id, **found)


def keys_of(arn: str, name: str) -> set[str]:
    """Every identifier without selector that designates the secret ``arn``/``name``.

    Its name, its full ARN, and its partial ARN (the full ARN without the
    ``-`` and six random characters Secrets Manager appends).
    """
    keys = {name, arn}
    if len(arn) > 7 and arn[-7] == "-":
        keys.add(arn[:-7])
    return keys


def match(secret_ids: Iterable[str], arn: str, name: str) -> list[str]:
    """The ``secret_ids`` that designate the secret ``arn``/``name``."""
    keys = keys_of(arn, name)
    return [secret_id for secret_id in secret_ids if secret_id in keys]
