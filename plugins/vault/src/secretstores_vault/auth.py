"""Logging in to Vault: a token, a Kubernetes service account, or an AWS IAM principal.

Imported only when a store is first used (it imports hvac, and botocore for AWS).
A login that returns a lease gives the session an ``expires_at``, so the core
logs in again before the token expires. Error messages name the method, the
role and the mount, never a token, a JWT or a key.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from typing import Any
from urllib.parse import urlsplit

import hvac
import hvac.exceptions

from secretstores.errors import (
    AuthenticationError,
    MisconfiguredError,
    StoreError,
    StoreUnavailableError,
)
from secretstores.model import Session, StoreSpec
from secretstores_vault.client import VaultClient, no_route, not_vault, vault_reason
from secretstores_vault.config import VaultConfig

#: The signed request body of an AWS IAM login (as Vault's own CLI sends it).
_GET_CALLER_IDENTITY = "Action=GetCallerIdentity&Version=2011-06-15"


def new_client(config: VaultConfig, token: str | None = None, *, timeout: float = 5.0,
               pool_size: int = 20) -> hvac.Client:
    """An hvac client for ``config``'s address and namespace (no request is made).

    Requests travel through :class:`~secretstores_vault.transport.Transport`, whose
    pool holds as many connections as the core reads in parallel (the store's
    ``concurrency``), each request limited to ``timeout`` seconds.
    """
    from secretstores_vault.transport import Transport

    verify: bool | str = config.ca_cert if config.ca_cert else True
    transport = Transport(config.address, verify=verify, pool_size=pool_size, timeout=timeout)
    return hvac.Client(url=config.address, token=token, namespace=config.namespace or None,
                       verify=verify, session=transport, timeout=timeout)


def authenticate(store: StoreSpec) -> Session:
    """Log in with the store's method and return the session the core keeps."""
    config: VaultConfig = store.config
    client = new_client(config, token=config.token if config.method == "TOKEN" else None,
                        timeout=store.timeout, pool_size=store.concurrency)
    if config.method == "TOKEN":
        wrapped = VaultClient(client, config)
        return Session(client=wrapped, close=wrapped.close)
    if config.method == "K8S":
        return _kubernetes(config, client)
    return _aws(config, client)


def _session(client: hvac.Client, config: VaultConfig, response: Any) -> Session:
    auth = (response or {}).get("auth") or {}
    token = auth.get("client_token")
    if not token:
        raise StoreUnavailableError("the login answer holds no client token")
    client.token = token
    wrapped = VaultClient(client, config)
    lease = float(auth.get("lease_duration") or 0)
    if lease <= 0:  # a token that never expires (root-like): nothing to renew
        return Session(client=wrapped, close=wrapped.close)
    # Renew a third of the way before the end: 20 s of a 60 s token, 30 s of longer ones.
    return Session(client=wrapped, expires_at=time.time() + lease,
                   renew_before=min(30.0, lease / 3), close=wrapped.close)


def _failure(what: str, exc: Exception, *secrets: str | None) -> Exception:
    """The error for a failed login: which method and role, what Vault said, no secret."""
    if isinstance(exc, StoreError):  # the transport's: cannot reach Vault, 429, 503
        clone = copy.copy(exc)
        clone.reason = f"{what} failed: {exc.reason}"
        clone.args = (clone.reason,)
        return clone
    if isinstance(exc, hvac.exceptions.InvalidPath) and (not_vault(exc) or no_route(exc)):
        return MisconfiguredError(f"{what} failed: {vault_reason(exc)} (is the auth method "
                                  "enabled at that mount, and 'address' Vault's URL?)")
    if isinstance(exc, hvac.exceptions.VaultError):
        errors = getattr(exc, "errors", None) or [str(exc).split(", on ")[0]]
        reason = "; ".join(str(e) for e in errors) or type(exc).__name__
    else:
        reason = f"{type(exc).__name__}: {exc}"
    for secret in secrets:
        if secret and len(secret) >= 3:
            reason = reason.replace(secret, "<redacted>")
    if isinstance(exc, hvac.exceptions.VaultDown | hvac.exceptions.InternalServerError):
        return StoreUnavailableError(f"{what} failed: {reason}")
    return AuthenticationError(f"{what} failed: {reason}")


def _kubernetes(config: VaultConfig, client: hvac.Client) -> Session:
    what = (f"kubernetes login (role '{config.k8s_role}', "
            f"mount '{config.k8s_mount_point.strip('/')}')")
    try:
        with open(config.k8s_token_path, encoding="utf-8") as handle:
            jwt = handle.read().strip()
    except OSError as exc:
        raise AuthenticationError(
            f"{what} failed: cannot read the service-account token at "
            f"{config.k8s_token_path}: {exc.strerror}") from None
    try:
        response = client.auth.kubernetes.login(
            role=config.k8s_role, jwt=jwt, use_token=False,
            mount_point=config.k8s_mount_point.strip("/"))
    except Exception as exc:
        client.adapter.close()
        raise _failure(what, exc, jwt) from None
    return _session(client, config, response)


def _aws(config: VaultConfig, client: hvac.Client) -> Session:
    what = (f"aws iam login (role '{config.aws_role}', "
            f"mount '{config.aws_mount_point.strip('/')}')")
    try:
        import botocore.session
    except ImportError:
        raise AuthenticationError(
            f"{what} failed: AWS IAM login needs botocore: "
            "pip install 'secretstores-vault[aws]'") from None
    try:
        credentials = botocore.session.Session().get_credentials()
    except Exception as exc:  # a broken provider in the chain (bad profile, unreachable role)
        raise AuthenticationError(
            f"{what} failed: cannot load AWS credentials: {type(exc).__name__}") from None
    if credentials is None:
        raise AuthenticationError(
            f"{what} failed: no AWS credentials found in the standard chain "
            "(environment, shared files, instance or container role)")
    frozen = credentials.get_frozen_credentials()
    params = iam_login_data(config, frozen)
    try:
        response = client.adapter.login(
            url=f"/v1/auth/{config.aws_mount_point.strip('/')}/login",
            use_token=False, json=dict(params, role=config.aws_role))
    except Exception as exc:
        client.adapter.close()
        raise _failure(what, exc, frozen.secret_key, frozen.token) from None
    return _session(client, config, response)


def iam_login_data(config: VaultConfig, credentials: Any) -> dict[str, str]:
    """The ``iam_*`` fields of an AWS IAM login, as Vault's own CLI builds them.

    A ``sts:GetCallerIdentity`` request to ``awsStsEndpoint``, signed (SigV4,
    service ``sts``, region ``awsRegion``) with ``credentials``; the
    ``X-Vault-AWS-IAM-Server-ID`` header is signed too when configured. Vault
    replays the request to STS to learn who signed it.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    url = config.aws_sts_endpoint.rstrip("/") + "/"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "Host": urlsplit(url).netloc,
    }
    if config.aws_iam_server_id:
        headers["X-Vault-AWS-IAM-Server-ID"] = config.aws_iam_server_id
    request = AWSRequest(method="POST", url=url, data=_GET_CALLER_IDENTITY, headers=headers)
    SigV4Auth(credentials, "sts", config.aws_region).add_auth(request)
    signed = {name: [value] for name, value in request.headers.items()}
    return {
        "iam_http_request_method": "POST",
        "iam_request_url": _b64(url),
        "iam_request_body": _b64(_GET_CALLER_IDENTITY),
        "iam_request_headers": _b64(json.dumps(signed)),
    }


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")
