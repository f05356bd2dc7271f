"""Building one store's ``SecretClient`` and credential, and signing in.

The Azure SDKs are imported here, inside :func:`connect`, on a store's first use.
One client is built per store (and again only when the core re-authenticates);
SDK clients are thread-safe, so the core's worker threads share it.

Every request is limited to the store's ``timeout``; the SDKs' own retries are
off (``retry_total=0``: the core retries); the connection pool holds as many
connections as the store's ``concurrency`` (azure-core's own requests transport,
given a pooled ``requests.Session`` through its documented ``session`` option);
HTTP logging never includes bodies (``logging_enable=False``, and azure-core's
header logging redacts ``Authorization``).

What requests would read from the environment on every request (the proxy for
the vault: ``HTTPS_PROXY``, ``NO_PROXY``...; the CA bundle:
``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``) is read once, when the store signs
in, and given to the SDK as its ``proxies`` and ``connection_verify`` options:
scanning the environment cost about 1 ms of CPU per request, which is what a
cold render of many secrets waits for.

Signing in runs Key Vault's challenge handshake once: :func:`connect` asks the
vault for a secret that does not exist, the vault answers 401 with a
``WWW-Authenticate`` challenge naming its tenant and resource, the credential
gets a token from Microsoft Entra ID for them, and the vault answers the retried
request (404: the token is accepted). A credential the directory refuses thus
fails the login, which the core remembers for a back-off window, instead of
failing every read.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import attrs

from secretstores.errors import AccessDeniedError, MisconfiguredError
from secretstores.model import Session, StoreSpec
from secretstores_azure import __version__, logs
from secretstores_azure.config import AzureConfig
from secretstores_azure.errors import KeyVaultError, call

#: The credentials of the default chain that a server process may use, in order.
DEFAULT_CHAIN = ("environment", "workload identity", "managed identity", "Azure CLI")
_EXCLUDED = ("exclude_shared_token_cache_credential", "exclude_visual_studio_code_credential",
             "exclude_powershell_credential", "exclude_developer_cli_credential",
             "exclude_interactive_browser_credential", "exclude_broker_credential")


@attrs.define
class AzureClient:
    """What the plugin's hooks receive as ``client``: the ``SecretClient`` and its vault."""

    secrets: Any = attrs.field(repr=False)
    credential: Any = attrs.field(repr=False)
    vault_url: str

    def close(self) -> None:
        """Close the client's and the credential's connections."""
        self.secrets.close()
        close = getattr(self.credential, "close", None)
        if close is not None:
            close()


def transport_options(store: StoreSpec) -> dict[str, Any]:
    """The azure-core options every client and credential of ``store`` is built with."""
    config: AzureConfig = store.config
    options: dict[str, Any] = {
        "connection_timeout": store.timeout,
        "read_timeout": store.timeout,
        "retry_total": 0,  # the core retries, with one policy for every store
        "logging_enable": False,  # never log request or response bodies
        "user_agent": f"secretstores-azure/{__version__}",
    }
    if config.ca_cert is not None:
        options["connection_verify"] = str(Path(config.ca_cert).expanduser())
    return options


def credential(store: StoreSpec) -> Any:
    """The store's credential: its app registration's client secret, or the default chain."""
    from azure.identity import ClientSecretCredential, DefaultAzureCredential

    config: AzureConfig = store.config
    options = transport_options(store)
    if config.authority_host is not None:
        options["authority"] = config.authority_host
    if config.disable_instance_discovery:
        options["disable_instance_discovery"] = True
    if config.client_secret is not None:
        assert config.tenant_id is not None and config.client_id is not None
        return ClientSecretCredential(config.tenant_id, config.client_id, config.client_secret,
                                      **options)
    if config.client_id is not None:
        options["managed_identity_client_id"] = config.client_id
        options["workload_identity_client_id"] = config.client_id
    if config.tenant_id is not None:
        options["workload_identity_tenant_id"] = config.tenant_id
    return DefaultAzureCredential(**options, **dict.fromkeys(_EXCLUDED, True))


def vault_options(store: StoreSpec) -> dict[str, Any]:
    """The options of the store's ``SecretClient``: :func:`transport_options`, with the
    proxy and CA bundle the environment gives for the vault read once."""
    import requests.utils

    config: AzureConfig = store.config
    options = transport_options(store)
    if "connection_verify" not in options:
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            options["connection_verify"] = bundle
    proxies = {scheme: url for scheme, url in
               requests.utils.get_environ_proxies(config.url).items() if scheme != "no"}
    if proxies:
        options["proxies"] = proxies
    return options


def pooled_session(store: StoreSpec) -> Any:
    """A ``requests.Session`` whose pool keeps ``store.concurrency`` connections per host,
    and that does not read the environment again on each request (:func:`vault_options`
    did, once)."""
    import requests
    from urllib3.util.retry import Retry

    session = requests.Session()
    session.trust_env = False
    # As azure-core's own adapter: urllib3 never retries or follows redirects by itself.
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=4, pool_maxsize=max(store.concurrency, 1),
        max_retries=Retry(total=False, redirect=False, raise_on_status=False))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def connect(store: StoreSpec) -> Session:
    """Sign ``store`` in and return a :class:`Session` holding an :class:`AzureClient`."""
    from azure.keyvault.secrets import SecretClient

    logs.install()
    config: AzureConfig = store.config
    if config.ca_cert is not None and not Path(config.ca_cert).expanduser().is_file():
        raise MisconfiguredError(f"'caCert' names no readable file: {config.ca_cert}")
    token_source = credential(store)
    secrets = SecretClient(
        config.url, token_source, verify_challenge_resource=config.verify_challenge_resource,
        session=pooled_session(store), **vault_options(store))
    client = AzureClient(secrets, token_source, config.url)
    try:
        sign_in(client, config)
    except BaseException:
        client.close()
        raise
    return Session(client=client, close=client.close)


def sign_in(client: AzureClient, config: AzureConfig) -> str:
    """Run the challenge handshake and prove the vault accepts the token; say what happened.

    Asks for a secret that cannot exist: 404 means the token was accepted, and so
    does 403 (the principal may not read that name: Key Vault checked the token
    first).
    """
    probe = f"secretstores-sign-in-{uuid.uuid4().hex[:12]}"
    what = f"signing in to {config.url} as {config.principal}"
    try:
        call(what, client.vault_url, client.secrets.get_secret, probe)
    except AccessDeniedError:
        return "token accepted (this principal may not read every secret)"
    except KeyVaultError as exc:
        if exc.status != 404:
            raise
    return "token accepted"
