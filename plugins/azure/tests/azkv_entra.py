"""A local Microsoft Entra ID sign-in endpoint that azure-identity really talks to.

It serves what ``ClientSecretCredential`` and the workload identity credential ask
Microsoft Entra ID for, with the paths, form fields, status codes and JSON shapes
of ``login.microsoftonline.com``:

- ``GET /{tenant}/v2.0/.well-known/openid-configuration``: the tenant's OpenID
  configuration (MSAL reads the token endpoint from it); an unknown tenant is
  400 ``invalid_tenant`` (AADSTS90002).
- ``POST /{tenant}/oauth2/v2.0/token`` with ``grant_type=client_credentials``: a
  client secret (``client_secret``) or a federated token (``client_assertion``,
  workload identity) for scope ``https://vault.azure.net/.default``. A wrong
  secret is 401 ``invalid_client`` (AADSTS7000215), an unknown application 400
  ``unauthorized_client`` (AADSTS700016), an unknown resource 400
  ``invalid_resource`` (AADSTS500011).

:class:`AppServiceIdentity` is the managed identity endpoint App Service and Azure
Functions give a process (``IDENTITY_ENDPOINT``, ``IDENTITY_HEADER``): plain HTTP on
the host, ``GET ?api-version=2019-08-01&resource=...[&client_id=...]`` with the
``X-IDENTITY-HEADER`` header, answering the system-assigned identity's token, or a
user-assigned identity's when ``client_id`` names one.

Access tokens are JWTs (``aud``, ``iss``, ``tid``, ``appid``, ``oid``, ``exp``,
``jti``) signed with a key the local Key Vault shares: it checks them as Key Vault
checks Entra ID's tokens. :meth:`Directory.revoke` makes every token issued to
an application so far stop working (the contract suite's expired credentials).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
from azkv_https import HttpsServer, JsonHandler, TestCa

#: The resource Key Vault's challenge names, and the scope azure-identity asks for.
KEY_VAULT_RESOURCE = "https://vault.azure.net"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME = 3599


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@attrs.define
class App:
    """An app registration (service principal) of a tenant."""

    client_id: str
    object_id: str
    secrets: set[str] = attrs.field(factory=set)
    #: Tokens it may present as ``client_assertion`` (a workload identity's federation).
    federated: set[str] = attrs.field(factory=set)


@attrs.define
class Claims:
    """What a verified access token says."""

    tenant: str
    app: str
    oid: str
    audience: str
    jti: str


class Directory:
    """Tenants and their app registrations, and the tokens issued to them."""

    def __init__(self) -> None:
        self.tenants: dict[str, dict[str, App]] = {}
        self.key = secrets.token_bytes(32)
        self.revoked: set[str] = set()
        self.issued: list[tuple[str, str]] = []  # (jti, client id)
        #: Every access token issued (for tests proving none is ever logged).
        self.tokens: list[str] = []
        #: Every token request: (tenant, client id, "secret" or "assertion", HTTP status).
        self.token_requests: list[tuple[str, str, str, int]] = []
        self.lock = threading.Lock()

    def tenant(self, tenant_id: str | None = None) -> str:
        """Add a tenant (a new GUID unless given); return its id."""
        tenant_id = tenant_id or str(uuid.uuid4())
        with self.lock:
            self.tenants.setdefault(tenant_id, {})
        return tenant_id

    def app(self, tenant_id: str, *, secret: str | None = None,
            federated: str | None = None) -> App:
        """Register an application in ``tenant_id`` with a client secret or a federated token."""
        app = App(str(uuid.uuid4()), str(uuid.uuid4()))
        if secret is not None:
            app.secrets.add(secret)
        if federated is not None:
            app.federated.add(federated)
        with self.lock:
            self.tenants[tenant_id][app.client_id] = app
        return app

    def revoke(self, client_id: str) -> None:
        """Make every access token issued to ``client_id`` so far stop working at the vault."""
        with self.lock:
            self.revoked.update(jti for jti, client in self.issued if client == client_id)

    def issue(self, tenant_id: str, app: App, audience: str) -> str:
        """A signed access token for ``app`` of ``tenant_id``."""
        now = int(time.time())
        jti = uuid.uuid4().hex
        header = {"typ": "JWT", "alg": "HS256", "kid": "secretstores-test"}
        claims = {"aud": audience, "iss": f"https://sts.windows.net/{tenant_id}/",
                  "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME, "appid": app.client_id,
                  "oid": app.object_id, "sub": app.object_id, "tid": tenant_id,
                  "ver": "1.0", "jti": jti, "idtyp": "app"}
        signing_input = (_b64url(json.dumps(header).encode()) + "."
                         + _b64url(json.dumps(claims).encode()))
        signature = hmac.new(self.key, signing_input.encode(), hashlib.sha256).digest()
        token = signing_input + "." + _b64url(signature)
        with self.lock:
            self.issued.append((jti, app.client_id))
            self.tokens.append(token)
        return token

    def verify(self, token: str) -> Claims | str:
        """The claims of a valid, unexpired, unrevoked token, or why it is not one."""
        try:
            header, payload, signature = token.split(".")
            expected = hmac.new(self.key, f"{header}.{payload}".encode(),
                                hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64url(signature)):
                return "AKV10031: Invalid signature."
            claims = json.loads(_unb64url(payload))
        except (ValueError, TypeError):
            return "AKV10000: Request is missing a Bearer or PoP token."
        if claims.get("exp", 0) <= time.time():
            return "AKV10013: Token expired."
        with self.lock:
            if claims.get("jti") in self.revoked:
                return "AKV10022: Token was revoked."
        return Claims(claims["tid"], claims["appid"], claims["oid"], claims["aud"], claims["jti"])


class EntraId:
    """The sign-in endpoint of a :class:`Directory`, over HTTPS on 127.0.0.1."""

    def __init__(self, directory: Directory, ca: TestCa) -> None:
        self.directory = directory
        self._server = HttpsServer(self, _Handler, ca)
        self.url = self._server.url

    def close(self) -> None:
        """Stop serving."""
        self._server.close()


def _error(code: str, number: int, description: str) -> dict[str, Any]:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return {"error": code,
            "error_description": f"AADSTS{number}: {description}\r\nTrace ID: {trace}\r\n"
                                 f"Correlation ID: {correlation}\r\nTimestamp: {stamp}",
            "error_codes": [number], "timestamp": stamp, "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={number}"}


def _tenant_not_found(tenant: str) -> dict[str, Any]:
    return _error("invalid_tenant", 90002,
                  f"Tenant '{tenant}' not found. Check to make sure you have the correct "
                  "tenant ID and are signing into the correct cloud.")


class _Handler(JsonHandler):
    NO_CACHE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}

    def do_GET(self) -> None:
        entra: EntraId = self.app
        parts = urlsplit(self.path).path.strip("/").split("/")
        if parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            tenant = parts[0]
            if tenant not in entra.directory.tenants:
                self.answer(400, _tenant_not_found(tenant), self.NO_CACHE)
                return
            base = f"{entra.url}/{tenant}"
            self.answer(200, {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post", "private_key_jwt", "client_secret_basic"],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token",
                                             "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{base}/v2.0",
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "http_logout_supported": True, "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "kerberos_endpoint": f"{base}/kerberos",
                "tenant_region_scope": "EU", "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com", "rbac_url": "https://pas.windows.net",
            }, {"Cache-Control": "max-age=86400, private"})
            return
        self.answer(404, raw=b"", content_type="text/html")

    def do_POST(self) -> None:
        entra: EntraId = self.app
        directory = entra.directory
        body = self.read_body()
        parts = urlsplit(self.path).path.strip("/").split("/")
        if parts[1:] != ["oauth2", "v2.0", "token"]:
            self.answer(404, raw=b"", content_type="text/html")
            return
        tenant = parts[0]
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        client_id = form.get("client_id", "")
        method = "assertion" if "client_assertion" in form else "secret"
        status, answer = self._token(directory, tenant, form, client_id)
        with directory.lock:
            directory.token_requests.append((tenant, client_id, method, status))
        self.answer(status, answer, self.NO_CACHE)

    def _token(self, directory: Directory, tenant: str, form: dict[str, str],
               client_id: str) -> tuple[int, dict[str, Any]]:
        if tenant not in directory.tenants:
            return 400, _tenant_not_found(tenant)
        if form.get("grant_type") != "client_credentials":
            return 400, _error("unsupported_grant_type", 70003,
                               "The app requested an unsupported grant type.")
        app = directory.tenants[tenant].get(client_id)
        if app is None:
            return 400, _error("unauthorized_client", 700016,
                               f"Application with identifier '{client_id}' was not found in "
                               f"the directory '{tenant}'. This can happen if the application "
                               "has not been installed by the administrator of the tenant.")
        if "client_assertion" in form:
            if (form.get("client_assertion_type") != JWT_BEARER
                    or form["client_assertion"] not in app.federated):
                return 401, _error("invalid_client", 700211,
                                   "No matching federated identity record found for presented "
                                   "assertion.")
        elif form.get("client_secret") not in app.secrets:
            return 401, _error("invalid_client", 7000215,
                               "Invalid client secret provided. Ensure the secret being sent in "
                               "the request is the client secret value, not the client secret "
                               f"ID, for a secret added to app '{client_id}'.")
        scopes = form.get("scope", "").split()
        resource = scopes[0].removesuffix("/.default") if scopes else ""
        if resource != KEY_VAULT_RESOURCE:
            return 400, _error("invalid_resource", 500011,
                               f"The resource principal named {resource} was not found in the "
                               f"tenant named {tenant}.")
        token = directory.issue(tenant, app, KEY_VAULT_RESOURCE)
        return 200, {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME,
                     "ext_expires_in": TOKEN_LIFETIME, "access_token": token}


class AppServiceIdentity:
    """App Service's managed identity endpoint for one host, over plain HTTP on 127.0.0.1.

    ``system`` is the host's system-assigned identity; ``assigned`` the user-assigned
    identities attached to it, by client id. ``header`` is the ``IDENTITY_HEADER`` secret.
    """

    def __init__(self, directory: Directory, tenant: str, system: App) -> None:
        self.directory = directory
        self.tenant = tenant
        self.system = system
        self.assigned: dict[str, App] = {}
        self.header = secrets.token_urlsafe(16)
        #: Every token request: the client id asked for ("" for the system identity).
        self.requests: list[str] = []
        self._server = HttpsServer(self, _IdentityHandler, None)
        self.url = f"{self._server.url}/msi/token"

    def close(self) -> None:
        """Stop serving."""
        self._server.close()


class _IdentityHandler(JsonHandler):
    def do_GET(self) -> None:
        endpoint: AppServiceIdentity = self.app
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path != "/msi/token":
            self.answer(404, {"statusCode": 404, "message": "Not found"})
            return
        if self.headers.get("X-IDENTITY-HEADER") != endpoint.header:
            self.answer(401, {"statusCode": 401, "message": "Unauthorized request"})
            return
        if query.get("api-version") != "2019-08-01":
            self.answer(400, {"statusCode": 400, "message": "Invalid api-version"})
            return
        client_id = query.get("client_id", "")
        with endpoint.directory.lock:
            endpoint.requests.append(client_id)
        app = endpoint.assigned.get(client_id) if client_id else endpoint.system
        if app is None:
            self.answer(400, {"statusCode": 400, "message": "No Managed Identity found for "
                                                            "specified ClientId/ResourceId/"
                                                            "PrincipalId."})
            return
        resource = query.get("resource", "").removesuffix("/.default")
        if resource != KEY_VAULT_RESOURCE:
            self.answer(500, {"statusCode": 500, "message": "An unexpected error occured "
                                                            "while fetching the AAD Token."})
            return
        token = endpoint.directory.issue(endpoint.tenant, app, KEY_VAULT_RESOURCE)
        self.answer(200, {"access_token": token,
                          "expires_on": str(int(time.time()) + TOKEN_LIFETIME),
                          "resource": resource, "token_type": "Bearer",
                          "client_id": app.client_id})
