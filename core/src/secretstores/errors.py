"""The exceptions secretstores raises.

One base class, :class:`SecretStoresError`, and a few subclasses, each raised in
one situation. No message ever contains a secret value: messages name stores,
fields, references and template lines only.
"""

from __future__ import annotations

from collections.abc import Iterable


class SecretStoresError(Exception):
    """Base class of every error secretstores raises on purpose."""


class ConfigError(SecretStoresError):
    """Raised when configuration is invalid; lists every problem found at once."""

    def __init__(self, problems: Iterable[str], *, source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        if len(self.problems) == 1:
            message = f"invalid configuration{where}: {self.problems[0]}"
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            message = f"invalid configuration{where} ({len(self.problems)} problems):\n{lines}"
        super().__init__(message)


class PluginNotInstalledError(ConfigError):
    """Raised when a store's type belongs to a plugin that is not installed."""


class StoreError(SecretStoresError):
    """Base class of errors that concern one store; ``store`` names it."""

    def __init__(self, message: str, *, store: str | None = None) -> None:
        self.store = store
        super().__init__(f"store '{store}': {message}" if store else message)


class AuthenticationError(StoreError):
    """Raised when a store rejects the credentials it was given (login failed)."""


class Unauthorized(StoreError):
    """Raised by a provider's fetch or store hook when the store answers "unauthorized".

    The core then authenticates again and retries the call once.
    """


class StoreUnavailableError(StoreError):
    """Raised when a store cannot be reached or answers with an unexpected error."""


class ReadOnlyStoreError(StoreError):
    """Raised when writing to a store that is read-only or whose type cannot write."""


class WriteConflictError(StoreError):
    """Raised when a write lost a race with another writer (check-and-set failed)."""


class SecretLookupError(StoreError):
    """Base class of errors about one secret reference in one store."""

    def __init__(
        self, message: str, *, store: str | None = None, reference: str | None = None
    ) -> None:
        self.reference = reference
        super().__init__(message, store=store)


class SecretNotFoundError(SecretLookupError):
    """Raised when a secret does not exist in its store (``| default(...)`` covers it)."""


class AccessDeniedError(SecretLookupError):
    """Raised when the store refuses to give the caller a secret it holds."""


class UnknownStoreError(SecretLookupError):
    """Raised when a reference names a store that is not configured."""


class UnknownReferenceError(SecretLookupError):
    """Raised when a reference names no mapping and direct access is off."""


class TemplateError(SecretStoresError):
    """Raised when rendering a template fails; lists each failed reference with its line.

    ``problems`` holds one line per failure, e.g. ``t.j2:3: secrets.aws.db: not found``.
    """

    def __init__(self, problems: Iterable[str], *, template: str | None = None) -> None:
        self.problems = list(problems)
        self.template = template
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            message = f"{len(self.problems)} problems:\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(message)
