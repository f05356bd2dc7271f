"""One store's Infisical SDK client: building it, logging in, and making one call.

Imported only when a store is first used: it imports ``infisical_sdk`` (Infisical's
official SDK, ``pip install infisicalsdk``), which imports boto3. The SDK's own
secrets cache is turned off (``cache_ttl=None``): the core's cache is the only
one, with one TTL and one invalidation. The SDK's ``requests`` session gets the
adapter of :mod:`secretstores_infisical.transport` (timeouts, pool, no retries).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import attrs
from infisical_sdk import InfisicalSDKClient

from secretstores.errors import (
    AuthenticationError,
    MisconfiguredError,
    StoreError,
    StoreUnavailableError,
)
from secretstores.model import Session, StoreSpec
from secretstores_infisical import transport
from secretstores_infisical.config import InfisicalConfig
from secretstores_infisical.errors import Answer, answer_of, not_infisical, parse_failure

T = TypeVar("T")

#: Renew a universal auth token this many seconds before it expires (at most a third
#: of its life, so a short-lived token is not renewed on every use).
RENEW_BEFORE = 60.0
#: The key a check asks for (its value is never requested: ``viewSecretValue=false``).
PROBE_KEY = "SECRETSTORES_CHECK_PROBE"


@attrs.frozen
class Unreadable:
    """An answer whose shape the SDK could not read (not Infisical's API, or a change that
    an approval policy holds: Infisical then answers ``approval`` instead of ``secret``)."""

    kind: str


Failure = Answer | Unreadable


def attempt(call: Callable[[], T]) -> tuple[T | None, Failure | None]:
    """Make one SDK call: ``(result, None)``, or ``(None, what failed)``.

    The core's errors raised by the transport (unreachable, 429, 5xx) propagate;
    the SDK's ``APIError`` becomes an :class:`Answer`. Nothing returned refers to
    the SDK's exception, so no error raised later can carry it as context.
    """
    try:
        return call(), None
    except StoreError:
        raise
    except Exception as exc:
        answer = answer_of(exc)
        if answer is not None:
            return None, answer
        if not parse_failure(exc):
            raise
        return None, Unreadable(type(exc).__name__)


def key_segment(key: str) -> str:
    """A key as one URL path segment (the SDK puts the name in the path as it is)."""
    return quote(key, safe="")


class InfisicalClient:
    """What the hooks receive as ``client``: the SDK client, the configuration, and what
    was learnt about the store's folder. Safe to share between the core's threads."""

    def __init__(self, sdk: Any, config: InfisicalConfig) -> None:
        self.sdk = sdk
        self.config = config
        self._lock = threading.Lock()
        self._home_checked = False
        self._home_problem: str | None = None

    def __repr__(self) -> str:
        config = self.config
        return (f"InfisicalClient(site={config.site!r}, project={config.project_id!r}, "
                f"environment={config.environment!r}, secretPath={config.folder!r})")

    @property
    def secrets(self) -> Any:
        """The SDK's ``V3RawSecrets`` (``/api/v3/secrets/raw``)."""
        return self.sdk.secrets

    def close(self) -> None:
        """Close the SDK client and its connection pool."""
        self.sdk.close()
        self.sdk.api.session.close()

    def where(self, folder: str | None = None) -> str:
        """``folder '/x' of environment 'prod'`` for messages."""
        return f"folder '{folder or self.config.folder}' of environment " \
               f"'{self.config.environment}'"

    def missing_problem(self, answer: Answer) -> str | None:
        """The misconfiguration a 404 shows (project, environment or the store's folder)."""
        config = self.config
        if answer.missing == "project":
            return (f"Infisical at {config.site} has no project '{config.project_id}' "
                    "(check 'projectId')")
        if answer.missing == "environment":
            return (f"project '{config.project_id}' has no environment "
                    f"'{config.environment}' (check 'environment')")
        if answer.missing is None and answer.status == 404:
            if not answer.infisical:
                return not_infisical(config.site, answer)
            return (f"{config.site} does not serve Infisical's secrets API "
                    f"({answer.describe()}): check 'siteUrl'")
        return None

    def folder_missing(self, folder: str) -> str:
        """The misconfiguration message for the store's own folder missing."""
        return (f"environment '{self.config.environment}' of project "
                f"'{self.config.project_id}' has no folder '{folder}' "
                "(check 'environment' and 'secretPath')")

    def probe(self) -> Failure | None:
        """Ask for :data:`PROBE_KEY` in the store's folder, without its value: proves the
        token, the project, the environment and the folder. Returns what failed, or
        None (the key does not exist, or exists)."""
        config = self.config
        _, failure = attempt(lambda: self.secrets.get_secret_by_name(
            secret_name=PROBE_KEY, project_id=config.project_id,
            environment_slug=config.environment, secret_path=config.folder,
            expand_secret_references=False, include_imports=False, view_secret_value=False))
        if isinstance(failure, Answer) and failure.missing == "secret":
            return None
        return failure

    def home_problem(self) -> str | None:
        """Why the store's own environment or folder is wrong, or None; asked once.

        Used when an identifier's other folder is missing: a wrong environment makes
        every folder missing, and that must read "misconfigured", not "not found".
        """
        with self._lock:
            if self._home_checked:
                return self._home_problem
        failure = self.probe()
        problem: str | None = None
        if isinstance(failure, Answer):
            if failure.missing == "folder":
                problem = self.folder_missing(self.config.folder)
            else:
                problem = self.missing_problem(failure)
            if failure.token_problem or failure.status >= 500:
                return None  # says nothing about the folder: ask again next time
        elif isinstance(failure, Unreadable):
            problem = not_infisical(self.config.site)
        with self._lock:
            self._home_checked, self._home_problem = True, problem
        return problem


def _login_error(config: InfisicalConfig, failure: Failure) -> StoreError:
    what = f"universal auth login with client ID '{config.client_id}'"
    if isinstance(failure, Unreadable):
        return MisconfiguredError(f"{what} failed: {not_infisical(config.site)}")
    if failure.status == 404:
        problem = not_infisical(config.site, failure) if not failure.infisical else (
            f"{config.site} has no universal auth login ({failure.describe()}): check "
            "'siteUrl'")
        return MisconfiguredError(f"{what} failed: {problem}")
    if failure.status >= 500:
        return StoreUnavailableError(f"{what} failed: {failure.describe()}")
    return AuthenticationError(f"{what} was refused: {failure.describe()}")


def connect(store: StoreSpec) -> Session:
    """Build the store's SDK client (and log in with universal auth): the core's Session."""
    config: InfisicalConfig = store.config
    sdk = InfisicalSDKClient(host=config.site, token=config.access_token, cache_ttl=None)
    transport.mount(sdk.api.session, config.site, timeout=store.timeout,
                    pool_size=store.concurrency)
    client = InfisicalClient(sdk, config)
    if not config.universal_auth:
        return Session(client=client, close=client.close)
    started = time.time()
    try:
        answer, failure = attempt(lambda: sdk.auth.universal_auth.login(
            client_id=config.client_id, client_secret=config.client_secret))
    except StoreError:
        client.close()
        raise
    if failure is not None or answer is None:
        client.close()
        raise _login_error(config, failure or Unreadable("empty answer"))
    expires_in = float(answer.expiresIn or 0)
    del answer  # it holds the access token: keep it in the SDK's session only
    if expires_in <= 0:  # a token without a TTL: nothing to renew
        return Session(client=client, close=client.close)
    return Session(client=client, expires_at=started + expires_in,
                   renew_before=min(RENEW_BEFORE, expires_in / 3), close=client.close)
