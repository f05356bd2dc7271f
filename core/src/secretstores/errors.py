"""The exceptions secretstores raises.

One base class, :class:`SecretStoresError`, and a few subclasses, each raised in
one situation. No message ever contains a secret value: messages name stores,
fields, references and template lines only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar


class SecretStoresError(Exception):
    """Base class of every error secretstores raises on purpose."""


class ConfigError(SecretStoresError):
    """Raised when configuration is invalid; lists every problem found at once."""

    heading = "invalid configuration"

    def __init__(self, problems: Iterable[str], *, source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        if len(self.problems) == 1:
            message = f"{self.heading}{where}: {self.problems[0]}"
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            message = f"{self.heading}{where} ({len(self.problems)} problems):\n{lines}"
        super().__init__(message)


class PluginNotInstalledError(ConfigError):
    """Raised when a store's type belongs to a plugin that is not installed."""


class PluginError(ConfigError):
    """Raised when a plugin declares store types it cannot serve (a capability
    without its hook, no read at all) or two plugins declare one type."""

    heading = "unusable plugin"


class StoreError(SecretStoresError):
    """Base class of errors that concern one store; ``store`` names it.

    A provider raises these without a store (``raise TransientError("...")``);
    the core adds the store's name. ``reason`` is the message without it.
    """

    def __init__(self, message: str, *, store: str | None = None) -> None:
        self.store = store
        self.reason = message
        super().__init__(f"store '{store}': {message}" if store else message)

    def for_store(self, store: str) -> StoreError:
        """A fresh copy of this error naming ``store`` (no traceback, no context)."""
        clone = clone_error(self)
        clone.store = store
        clone.args = (f"store '{store}': {self.reason}",)
        return clone


E = TypeVar("E", bound=BaseException)


def clone_error(error: E) -> E:
    """A fresh copy of ``error`` without its traceback, cause or context, made without
    calling its ``__init__`` (provider subclasses may have constructors of their own)."""
    clone = BaseException.__new__(type(error))
    clone.__dict__.update(vars(error))
    clone.args = error.args
    return clone


class AuthenticationError(StoreError):
    """Raised when a store rejects the credentials it was given (login failed)."""


class Unauthorized(StoreError):
    """Raised by a provider's fetch or store hook when the store answers "unauthorized".

    The core then authenticates again and retries the call once.
    """


class StoreUnavailableError(StoreError):
    """Raised when a store cannot be reached or answers with an unexpected error.

    A provider raises it for failures that asking again will not cure; the core
    does not retry it.
    """


class TransientError(StoreUnavailableError):
    """Raised by a provider for a failure that may pass: a dropped connection, a
    timeout, a 502/503/504. The core retries the call with jittered exponential
    backoff, within the store's ``retries`` and ``deadline``.
    """


class ThrottledError(TransientError):
    """Raised by a provider when the store asked it to slow down (HTTP 429, a
    throttling error code). ``retry_after`` is the delay in seconds the store
    asked for, if it said; the core waits at least that long before retrying.
    """

    def __init__(self, message: str, *, store: str | None = None,
                 retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, store=store)


class MisconfiguredError(StoreUnavailableError):
    """Raised when a store's answers show that its configuration is wrong: an
    address that is not the store's API, a mount that does not exist or is of
    another engine. Never retried, never hidden by ``| default``.
    """


class UnsupportedOperationError(StoreError):
    """Raised, before anything is called, for an operation the store's type does not
    declare (its :class:`~secretstores.model.Capability`).
    """


class ReadOnlyStoreError(UnsupportedOperationError):
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
