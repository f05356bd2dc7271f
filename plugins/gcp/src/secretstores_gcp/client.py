"""Building one store's Secret Manager client: credentials, one access token, the REST transport.

The Google client libraries are imported here, inside :func:`connect`, on a
store's first use. :func:`connect` runs when the core authenticates the store:

1. credentials from the configured service account key (or Application
   Default Credentials), scoped to ``cloud-platform``;
2. one access token, fetched now: for a key, google-auth signs a JWT and
   exchanges it at the key's ``token_uri``, so a wrong, deleted or disabled key
   is refused here, once, as an :class:`~secretstores.errors.AuthenticationError`
   (not on each read), and concurrent reads never race to refresh it;
3. the official ``SecretManagerServiceClient`` over its REST transport (JSON
   over HTTP/1.1; see docs/providers/gcp.md for why not gRPC), sending its
   bytes through :class:`~secretstores_gcp.http.LeanSession`, a urllib3 pool
   of the store's ``concurrency`` connections.

The session expires with the token: the core logs in again five minutes
before, so no token is refreshed in the middle of the core's concurrent
reads. Nothing here sends a request twice: a ``401`` becomes
:class:`~secretstores.errors.Unauthorized` (the core logs in again, once, and
retries), token requests go through
:class:`~secretstores_gcp.tokens.TokenRequest` (no google-auth retries), and
every other retry is the core's.
"""

from __future__ import annotations

import datetime
from typing import Any

import attrs

from secretstores.errors import (
    AuthenticationError,
    StoreError,
    ThrottledError,
    TransientError,
)
from secretstores.model import Session, StoreSpec
from secretstores_gcp import SCOPE, __version__, logs
from secretstores_gcp.config import GcpConfig
from secretstores_gcp.errors import call, network_reason
from secretstores_gcp.identifiers import SecretRef, parse

#: Log in again this many seconds before the access token expires (google-auth itself
#: refreshes 3 min 45 s before: the core's renewal comes first).
RENEW_BEFORE = 300.0


@attrs.define
class GcpClient:
    """What the plugin's hooks receive as ``client``: the SDK client and the store's settings."""

    sdk: Any = attrs.field(repr=False)
    project: str
    location: str | None
    endpoint: str
    timeout: float
    principal: str

    def ref(self, identifier: str) -> SecretRef:
        """Parse ``identifier`` against the store's project (and regional endpoint)."""
        return parse(identifier, self.project, self.location)

    def call(self, operation: str, method: str, **params: Any) -> Any:
        """One SDK call (no SDK retries, the store's timeout), errors classified."""
        return call(operation, getattr(self.sdk, method), self.endpoint, self.timeout, **params)

    def close(self) -> None:
        """Close the connection pool."""
        self.sdk.transport.close()


def _credentials(config: GcpConfig) -> Any:
    """Credentials for the configured key, or Application Default Credentials."""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError
    from google.oauth2 import service_account

    key = config.key_info
    if key is not None:
        try:
            return service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                key, scopes=[SCOPE])
        except (ValueError, TypeError):  # the text may quote the key: never shown
            raise AuthenticationError(
                f"{config.credential_source} cannot be used: its private_key is not a "
                "valid PEM private key") from None
    try:
        credentials, _ = google.auth.default(scopes=[SCOPE])
    except DefaultCredentialsError:
        raise AuthenticationError(
            "no Application Default Credentials found: set 'serviceAccountKey', or "
            "GOOGLE_APPLICATION_CREDENTIALS, or run `gcloud auth application-default login` "
            "(https://cloud.google.com/docs/authentication/external/set-up-adc)") from None
    return credentials


def principal_of(credentials: Any, config: GcpConfig) -> str:
    """Who the credentials are, for messages: the service account or user email."""
    email = config.client_email or getattr(credentials, "service_account_email", None) or \
        getattr(credentials, "account", None)
    if email and email != "default":
        return str(email)
    return f"Application Default Credentials ({type(credentials).__name__})"


def _refresh(credentials: Any, request: Any, source: str) -> None:
    """Get the first access token; login failures as the core's errors."""
    from google.auth.exceptions import RefreshError, TransportError

    from secretstores_gcp.tokens import RetryableAnswer

    try:
        credentials.refresh(request)
    except RefreshError as exc:
        reason = exc.args[0] if exc.args and isinstance(exc.args[0], str) else type(exc).__name__
        if getattr(exc, "retryable", False):
            raise TransientError(f"getting an access token with {source} failed: "
                                 f"{reason}") from None
        raise AuthenticationError(f"{source} was refused: {reason}") from None
    except RetryableAnswer as exc:
        text = f"getting an access token with {source}: the token endpoint answered " \
               f"HTTP {exc.status}"
        if exc.status == 429:
            raise ThrottledError(text) from None
        raise TransientError(text) from None
    except TransportError as exc:
        raise TransientError(f"getting an access token with {source}: cannot reach the "
                             f"token endpoint: {network_reason(exc)}") from None
    except (ValueError, TypeError) as exc:  # signing failed: the key's text is never shown
        raise AuthenticationError(f"{source} cannot sign a token request "
                                  f"({type(exc).__name__})") from None


def _expiry(credentials: Any) -> float | None:
    expiry = getattr(credentials, "expiry", None)
    if not isinstance(expiry, datetime.datetime):
        return None
    if expiry.tzinfo is None:  # google-auth keeps naive UTC datetimes
        expiry = expiry.replace(tzinfo=datetime.UTC)
    return expiry.timestamp()


def connect(store: StoreSpec) -> Session:
    """Authenticate ``store`` and return a :class:`Session` holding a :class:`GcpClient`."""
    from google.api_core.gapic_v1.client_info import ClientInfo
    from google.cloud.secretmanager_v1 import SecretManagerServiceClient
    from google.cloud.secretmanager_v1.services.secret_manager_service.transports.rest import (
        SecretManagerServiceRestTransport,
    )

    from secretstores_gcp.http import LeanSession
    from secretstores_gcp.tokens import TokenRequest

    logs.install()
    config: GcpConfig = store.config
    credentials = _credentials(config)
    token_request = TokenRequest(store.timeout)
    _refresh(credentials, token_request, config.credential_source)
    endpoint = config.endpoint_url
    info = ClientInfo(user_agent=f"secretstores-gcp/{__version__}")  # type: ignore[no-untyped-call]
    transport: Any = SecretManagerServiceRestTransport(host=endpoint, credentials=credentials,
                                                       client_info=info)
    # The transport's own session is google-auth's AuthorizedSession (requests, a pool of 10,
    # a refresh and resend after each 401 in every thread): ours replaces it, and the
    # transport's method stubs, bound to the session they were made with, are made again.
    transport._session.close()
    transport._session = LeanSession(credentials, token_request, endpoint,
                                     pool_size=store.concurrency, timeout=store.timeout)
    transport._prep_wrapped_messages(info)
    sdk = SecretManagerServiceClient(transport=transport)
    client = GcpClient(sdk, project=config.project_id, location=config.location,
                       endpoint=endpoint, timeout=store.timeout,
                       principal=principal_of(credentials, config))
    return Session(client=client, expires_at=_expiry(credentials), renew_before=RENEW_BEFORE,
                   close=client.close)


def check(client: GcpClient) -> str:
    """Prove Secret Manager accepts the token for the project: list one secret.

    ``roles/secretmanager.secretAccessor`` (the gateway document's role) grants
    no listing: a plain IAM denial proves it too (the token was accepted and the
    project exists with the API enabled; those failures are errors).
    """
    from secretstores_gcp.errors import ApiFailure

    parent = f"projects/{client.project}" + (
        f"/locations/{client.location}" if client.location else "")
    try:
        client.call("ListSecrets", "list_secrets",
                    request={"parent": parent, "page_size": 1})
    except ApiFailure as exc:
        if exc.status == "PERMISSION_DENIED":
            return (f"{client.principal} accepted by Secret Manager for project "
                    f"'{client.project}' (listing secrets is not allowed)")
        raise StoreError(f"checking project '{client.project}' failed: {exc}") from None
    return f"{client.principal} accepted by Secret Manager for project '{client.project}'"
