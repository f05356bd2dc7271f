"""A local Google Cloud Secret Manager (REST, v1) and the OAuth 2.0 token endpoint, on 127.0.0.1.

There is no installable Secret Manager emulator, so the tests run this one. It
speaks what the real service speaks over HTTP/1.1, so the official client's
REST transport and google-auth talk to it unchanged:

- ``POST /token``: the OAuth 2.0 JWT-bearer grant (RFC 7523) a service-account
  key is exchanged at. The assertion's RS256 signature is checked against the
  public half of the key registered for its ``iss`` and ``kid``, its audience
  must be ``https://oauth2.googleapis.com/token`` and its lifetime at most an
  hour, as Google checks them; a wrong key gets ``400 invalid_grant`` "Invalid
  JWT Signature." as from Google.
- ``/v1/projects/*/secrets...``: AccessSecretVersion, AddSecretVersion,
  CreateSecret, GetSecret, UpdateSecret (labels, version aliases), DeleteSecret,
  ListSecrets (paged), Get/Enable/Disable/DestroySecretVersion, also under
  ``projects/*/locations/*`` (regional secrets). Requests need a bearer token
  from ``/token`` (or a self-signed JWT, as the SDK makes by default); the
  caller's IAM roles are checked per permission on the project and the
  secret. Answers use Google's JSON mapping (project numbers in names, int64s
  as strings, enums as numbers when ``$alt=json;enum-encoding=int`` asks).
- Errors are Google's JSON error bodies (``{"error": {"code", "message",
  "status", "details"}}``) with the real messages: ``Secret [..] not found or has
  no versions.``, ``Secret Version [..] is in DISABLED state.``, IAM denials with
  an ``ErrorInfo`` of reason ``IAM_PERMISSION_DENIED``, an unknown project as
  ``CONSUMER_INVALID``, a disabled API as ``SERVICE_DISABLED``, quota as
  ``RESOURCE_EXHAUSTED``; unknown paths get the Google front end's HTML 404 page.

Test controls (what gcloud or an outage would do): :meth:`add_project`,
:meth:`new_service_account`, :meth:`grant`, :meth:`revoke_tokens`,
:meth:`fail_next` (Google-shaped UNAVAILABLE / RESOURCE_EXHAUSTED answers),
:meth:`fail_next_token` (the token endpoint's 5xx / 429), :meth:`drop_next_answer`
(the request is carried out, the connection closed before the answer),
:meth:`corrupt` (payload bytes altered in transit, checksum kept),
:meth:`hold_access_until` (reads wait until N are in flight at once), :meth:`store`
(bulk set-up) and :meth:`heal`. Every API request is recorded (:attr:`requests`,
:meth:`count`, :attr:`connections`, :attr:`max_in_flight`). ``python gcptest_server.py``
serves in a process of its own (the benchmark's way).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import itertools
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import google_crc32c
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
#: The audience Google requires of a JWT-bearer assertion, whatever the token URI.
TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
#: The audience of a self-signed JWT used directly as a bearer token.
API_AUDIENCE = "https://secretmanager.googleapis.com/"
SERVICE = "secretmanager.googleapis.com"
TOKEN_LIFETIME = 3599

ROLES: dict[str, frozenset[str]] = {
    "roles/secretmanager.secretAccessor": frozenset({"secretmanager.versions.access"}),
    "roles/secretmanager.secretVersionAdder": frozenset({"secretmanager.versions.add"}),
    "roles/secretmanager.viewer": frozenset({
        "secretmanager.secrets.get", "secretmanager.secrets.list",
        "secretmanager.versions.get", "secretmanager.versions.list"}),
    "roles/secretmanager.secretVersionManager": frozenset({
        "secretmanager.versions.add", "secretmanager.versions.enable",
        "secretmanager.versions.disable", "secretmanager.versions.destroy",
        "secretmanager.versions.get", "secretmanager.versions.list"}),
    "roles/secretmanager.admin": frozenset({
        "secretmanager.secrets.create", "secretmanager.secrets.delete",
        "secretmanager.secrets.get", "secretmanager.secrets.list",
        "secretmanager.secrets.update", "secretmanager.versions.access",
        "secretmanager.versions.add", "secretmanager.versions.destroy",
        "secretmanager.versions.disable", "secretmanager.versions.enable",
        "secretmanager.versions.get", "secretmanager.versions.list"}),
}
STATES = {"ENABLED": 1, "DISABLED": 2, "DESTROYED": 3}

_ID = r"[^/:]+"
_PARENT = rf"projects/(?P<project>{_ID})(?:/locations/(?P<location>{_ID}))?"
_SECRET = rf"{_PARENT}/secrets/(?P<secret>{_ID})"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(f"^/v1/{pattern}$"), rpc) for method, pattern, rpc in [
        ("GET", rf"{_SECRET}/versions/(?P<version>{_ID}):access", "AccessSecretVersion"),
        ("POST", rf"{_SECRET}/versions/(?P<version>{_ID}):disable", "DisableSecretVersion"),
        ("POST", rf"{_SECRET}/versions/(?P<version>{_ID}):enable", "EnableSecretVersion"),
        ("POST", rf"{_SECRET}/versions/(?P<version>{_ID}):destroy", "DestroySecretVersion"),
        ("GET", rf"{_SECRET}/versions/(?P<version>{_ID})", "GetSecretVersion"),
        ("POST", rf"{_SECRET}:addVersion", "AddSecretVersion"),
        ("GET", _SECRET, "GetSecret"),
        ("PATCH", _SECRET, "UpdateSecret"),
        ("DELETE", _SECRET, "DeleteSecret"),
        ("POST", rf"{_PARENT}/secrets", "CreateSecret"),
        ("GET", rf"{_PARENT}/secrets", "ListSecrets"),
    ]
]
_SECRET_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_PERMISSION = {
    "AccessSecretVersion": "secretmanager.versions.access",
    "DisableSecretVersion": "secretmanager.versions.disable",
    "EnableSecretVersion": "secretmanager.versions.enable",
    "DestroySecretVersion": "secretmanager.versions.destroy",
    "GetSecretVersion": "secretmanager.versions.get",
    "AddSecretVersion": "secretmanager.versions.add",
    "GetSecret": "secretmanager.secrets.get",
    "UpdateSecret": "secretmanager.secrets.update",
    "DeleteSecret": "secretmanager.secrets.delete",
    "CreateSecret": "secretmanager.secrets.create",
    "ListSecrets": "secretmanager.secrets.list",
}

#: What Google's front end answers for a path no API serves.
NOT_FOUND_PAGE = (
    b"<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n"
    b"  <title>Error 404 (Not Found)!!1</title>\n"
    b"  <p><b>404.</b> <ins>That\xe2\x80\x99s an error.</ins>\n"
    b"  <p>The requested URL was not found on this server.  "
    b"<ins>That\xe2\x80\x99s all we know.</ins>\n")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def crc32c(data: bytes) -> int:
    """The CRC32C (Castagnoli) of ``data``, as Secret Manager computes it."""
    return int(google_crc32c.value(data))


class ApiError(Exception):
    """An error answer: HTTP status, canonical status, message and details."""

    def __init__(self, code: int, status: str, message: str,
                 details: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message
        self.details = details or []
        self.headers = headers or {}

    def body(self) -> bytes:
        error: dict[str, Any] = {"code": self.code, "message": self.message,
                                 "status": self.status}
        if self.details:
            error["details"] = self.details
        return json.dumps({"error": error}).encode()


def error_info(reason: str, domain: str = "googleapis.com", **metadata: str) -> dict[str, Any]:
    """A ``google.rpc.ErrorInfo`` detail."""
    return {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
            "domain": domain, "metadata": metadata}


@dataclass
class Project:
    """A project: its id, its number, whether the Secret Manager API is enabled."""

    project_id: str
    number: str
    api_enabled: bool = True


@dataclass
class Version:
    """One secret version: data, state and the checksum the writer gave (if any)."""

    number: int
    data: bytes
    crc: int | None
    state: str = "ENABLED"
    create_time: str = field(default_factory=_now)
    destroy_time: str | None = None


@dataclass
class Secret:
    """A secret of a project (and a location, for regional secrets)."""

    number: str
    location: str | None
    secret_id: str
    labels: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    versions: list[Version] = field(default_factory=list)
    create_time: str = field(default_factory=_now)
    corrupt: bool = False

    @property
    def name(self) -> str:
        where = f"/locations/{self.location}" if self.location else ""
        return f"projects/{self.number}{where}/secrets/{self.secret_id}"

    @property
    def etag(self) -> str:
        return f'"{abs(hash((self.name, len(self.versions), self.create_time))):x}"'


@dataclass
class Token:
    """An access token the token endpoint issued."""

    email: str
    scopes: frozenset[str]
    expires: float


@dataclass(frozen=True)
class Recorded:
    """One API request: the RPC, the resource path and the caller's email."""

    rpc: str
    path: str
    caller: str | None
    connection: int


class SecretManagerServer:
    """Secret Manager's REST API and Google's token endpoint on one port of 127.0.0.1."""

    def __init__(self) -> None:
        self.projects: dict[str, Project] = {}
        self.secrets: dict[tuple[str, str | None, str], Secret] = {}
        self.public_keys: dict[tuple[str, str], rsa.RSAPublicKey] = {}
        self.bindings: dict[str, dict[str, set[str]]] = {}  # resource -> role -> members
        self.tokens: dict[str, Token] = {}
        self.requests: list[Recorded] = []
        self.token_requests = 0
        self.connections = 0
        self._faults: list[tuple[str | None, ApiError | str]] = []  # (for which RPC, what)
        self._token_faults: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._gate: threading.Condition | None = None
        self._gate_size = 0
        self._gate_open = False
        self._lock = threading.RLock()
        self._numbers = itertools.count(100000000001)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.api = self  # type: ignore[attr-defined]
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.token_uri = f"{self.url}/token"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name="gcptest-secretmanager")
        self._thread.start()

    # -- administration (what gcloud and the console do) --------------------------

    def add_project(self, project_id: str, *, api_enabled: bool = True) -> Project:
        """Create a project with a fresh project number."""
        with self._lock:
            project = Project(project_id, str(next(self._numbers)), api_enabled)
            self.projects[project_id] = project
            return project

    def new_service_account(self, name: str, project: str, *, register: bool = True,
                            token_uri: str | None = None) -> dict[str, Any]:
        """A new RSA key for ``name@project.iam.gserviceaccount.com``: the key file's JSON.

        With ``register`` false the key is made but Google never learns its public
        half (a deleted key, or one that never belonged to the account).
        """
        email = name if "@" in name else f"{name}@{project}.iam.gserviceaccount.com"
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_id = secrets.token_hex(20)
        if register:
            with self._lock:
                self.public_keys[(email, key_id)] = key.public_key()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        return {
            "type": "service_account", "project_id": project, "private_key_id": key_id,
            "private_key": pem, "client_email": email,
            "client_id": str(int.from_bytes(secrets.token_bytes(8), "big")),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri or self.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
                                    + email.replace("@", "%40"),
            "universe_domain": "googleapis.com",
        }

    def grant(self, email: str, role: str, *, project: str, secret: str | None = None) -> None:
        """``gcloud projects|secrets add-iam-policy-binding ... --role=ROLE``."""
        number = self.projects[project].number
        resource = f"projects/{number}" + (f"/secrets/{secret}" if secret else "")
        with self._lock:
            self.bindings.setdefault(resource, {}).setdefault(role, set()).add(
                f"serviceAccount:{email}")

    def revoke_tokens(self) -> None:
        """Every access token issued so far stops working (as when a key is rotated)."""
        with self._lock:
            self.tokens.clear()

    def fail_next(self, count: int, status: str = "UNAVAILABLE", *,
                  retry_delay: float | None = None) -> None:
        """Answer the next ``count`` API requests with a Google-shaped error."""
        with self._lock:
            self._faults.extend((None, _fault(status, retry_delay)) for _ in range(count))

    def fail_next_token(self, count: int, status: int = 503) -> None:
        """Answer the next ``count`` token requests with HTTP ``status`` (Google's
        ``internal_failure`` body for a 5xx, ``rate_limit_exceeded`` for a 429)."""
        with self._lock:
            self._token_faults.extend([status] * count)

    def heal(self) -> None:
        """Forget pending faults and the access gate."""
        with self._lock:
            self._faults.clear()
            self._token_faults.clear()
            self._gate, self._gate_size, self._gate_open = None, 0, False

    def hold_access_until(self, in_flight: int) -> None:
        """Hold each AccessSecretVersion until ``in_flight`` of them are being served at once
        (or 10 s pass): a batch read one at a time cannot get through quickly."""
        with self._lock:
            self._gate, self._gate_size = threading.Condition(self._lock), in_flight
            self._gate_open = False

    def drop_next_answer(self, count: int = 1, *, rpc: str | None = None) -> None:
        """Carry out the next ``count`` API requests (of ``rpc``, or any), then close the
        connection without answering: an answer lost on the way back."""
        with self._lock:
            self._faults.extend([(rpc, "drop")] * count)

    def store(self, project: str, secret_id: str, *data: bytes) -> None:
        """Create a secret with versions holding ``data`` directly (bulk set-up only)."""
        with self._lock:
            number = self.projects[project].number
            secret = Secret(number, None, secret_id)
            secret.versions = [Version(i, d, crc32c(d)) for i, d in enumerate(data, 1)]
            self.secrets[(number, None, secret_id)] = secret

    def corrupt(self, project: str, secret_id: str) -> None:
        """From now on the secret's payloads reach the client altered (checksum unchanged)."""
        with self._lock:
            self.secrets[(self.projects[project].number, None, secret_id)].corrupt = True

    def versions(self, project: str, secret_id: str) -> list[Version]:
        """The versions of a secret (for assertions)."""
        with self._lock:
            return list(self.secrets[(self.projects[project].number, None, secret_id)].versions)

    def count(self, rpc: str) -> int:
        """How many requests of ``rpc`` reached the server."""
        with self._lock:
            return sum(1 for r in self.requests if r.rpc == rpc)

    def reset_counts(self) -> None:
        """Forget the recorded requests and connections."""
        with self._lock:
            self.requests.clear()
            self.connections = 0
            self.token_requests = 0
            self.max_in_flight = 0

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    # -- the token endpoint --------------------------------------------------------

    def token(self, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        """Exchange a JWT-bearer assertion for an access token (Google's checks and answers)."""
        with self._lock:
            self.token_requests += 1
            fault = self._token_faults.pop(0) if self._token_faults else None
        if fault is not None:
            error = "rate_limit_exceeded" if fault == 429 else "internal_failure"
            return fault, {"error": error, "error_description": "Try again later."}
        grant = form.get("grant_type", [""])[0]
        if grant != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {"error": "unsupported_grant_type",
                         "error_description": "Invalid grant_type: " + grant}
        try:
            claims = self.verify_jwt(form.get("assertion", [""])[0])
        except ValueError as exc:
            return 400, {"error": "invalid_grant", "error_description": str(exc)}
        if claims.get("aud") != TOKEN_AUDIENCE:
            return 400, {"error": "invalid_grant", "error_description":
                         "Invalid JWT: Failed audience check. The expected audience is "
                         f"{TOKEN_AUDIENCE}."}
        scopes = frozenset(str(claims.get("scope") or "").split())
        if not scopes:
            return 400, {"error": "invalid_scope", "error_description":
                         "Invalid OAuth scope or ID token audience provided."}
        access_token = "ya29.c." + secrets.token_urlsafe(48)
        with self._lock:
            self.tokens[access_token] = Token(str(claims["iss"]), scopes,
                                              time.time() + TOKEN_LIFETIME)
        return 200, {"access_token": access_token, "expires_in": TOKEN_LIFETIME,
                     "token_type": "Bearer"}

    def verify_jwt(self, assertion: str) -> dict[str, Any]:
        """The claims of an RS256 JWT signed by a registered key; ValueError as Google says."""
        try:
            header_b64, payload_b64, signature_b64 = assertion.encode().split(b".")
            header = json.loads(_b64url(header_b64))
            claims = json.loads(_b64url(payload_b64))
            signature = _b64url(signature_b64)
        except ValueError:
            raise ValueError("Invalid JWT: malformed.") from None
        if header.get("alg") != "RS256" or not isinstance(claims, dict):
            raise ValueError("Invalid JWT Signature.")
        email = str(claims.get("iss", ""))
        with self._lock:
            known = any(owner == email for owner, _ in self.public_keys)
            public_key = self.public_keys.get((email, str(header.get("kid", ""))))
        if not known:
            raise ValueError("Invalid grant: account not found")
        if public_key is None:
            raise ValueError("Invalid JWT Signature.")
        try:
            public_key.verify(signature, header_b64 + b"." + payload_b64, padding.PKCS1v15(),
                              hashes.SHA256())
        except InvalidSignature:
            raise ValueError("Invalid JWT Signature.") from None
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if (not isinstance(iat, int | float) or not isinstance(exp, int | float)
                or exp - iat > 3600 or iat > now + 300 or exp < now - 300):
            raise ValueError("Invalid JWT: Token must be a short-lived token (60 minutes) and "
                             "in a reasonable timeframe. Check your iat and exp values in the "
                             "JWT claim.")
        return claims

    # -- the API -------------------------------------------------------------------

    def caller(self, authorization: str, rpc: str) -> str:
        """The email the bearer credential stands for; 401/403 as Google answers."""
        unauthenticated = "Request had invalid authentication credentials. Expected OAuth 2 " \
            "access token, login cookie or other valid authentication credential. See " \
            "https://developers.google.com/identity/sign-in/web/devconsole-project."
        method = f"google.cloud.secretmanager.v1.SecretManagerService.{rpc}"
        challenge = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", '
                                         'error="invalid_token"'}
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credential:
            raise ApiError(401, "UNAUTHENTICATED", unauthenticated.replace(
                "had invalid authentication credentials", "is missing required authentication "
                "credential"), [error_info("CREDENTIALS_MISSING", service=SERVICE,
                                           method=method)],
                {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'})
        with self._lock:
            token = self.tokens.get(credential)
        if token is None and credential.count(".") == 2 and not credential.startswith("ya29."):
            token = self._self_signed(credential)
        if token is None or token.expires < time.time():
            reason = "ACCESS_TOKEN_EXPIRED" if token is not None else \
                "ACCESS_TOKEN_TYPE_UNSUPPORTED"
            raise ApiError(401, "UNAUTHENTICATED", unauthenticated,
                           [error_info(reason, service=SERVICE, method=method)], challenge)
        if CLOUD_PLATFORM not in token.scopes:
            raise ApiError(403, "PERMISSION_DENIED",
                           "Request had insufficient authentication scopes.",
                           [error_info("ACCESS_TOKEN_SCOPE_INSUFFICIENT", service=SERVICE,
                                       method=method)])
        return token.email

    def _self_signed(self, credential: str) -> Token | None:
        """A self-signed JWT (the SDK's default for service accounts) as a bearer token."""
        try:
            claims = self.verify_jwt(credential)
        except ValueError:
            return None
        scopes = frozenset(str(claims.get("scope") or "").split())
        if claims.get("aud") == API_AUDIENCE:
            scopes |= {CLOUD_PLATFORM}
        return Token(str(claims["iss"]), scopes, float(claims["exp"]))

    def project(self, reference: str) -> Project:
        """The project an id or number names; CONSUMER_INVALID / SERVICE_DISABLED as Google."""
        with self._lock:
            project = self.projects.get(reference) or next(
                (p for p in self.projects.values() if p.number == reference), None)
        if project is None:
            raise ApiError(403, "PERMISSION_DENIED",
                           f"Permission denied on resource project {reference}.",
                           [error_info("CONSUMER_INVALID", consumer=f"projects/{reference}",
                                       containerInfo=reference, service=SERVICE)])
        if not project.api_enabled:
            url = (f"https://console.developers.google.com/apis/api/{SERVICE}/overview"
                   f"?project={project.number}")
            raise ApiError(403, "PERMISSION_DENIED",
                           f"Secret Manager API has not been used in project {project.number} "
                           f"before or it is disabled. Enable it by visiting {url} then retry. "
                           "If you enabled this API recently, wait a few minutes for the action "
                           "to propagate to our systems and retry.",
                           [error_info("SERVICE_DISABLED", consumer=f"projects/{project.number}",
                                       service=SERVICE, serviceTitle="Secret Manager API",
                                       activationUrl=url, containerInfo=project.number)])
        return project

    def authorize(self, email: str, permission: str, project: Project,
                  secret_id: str | None) -> None:
        """Refuse unless a role on the project or the secret grants ``permission``."""
        member = f"serviceAccount:{email}"
        resources = [f"projects/{project.number}"]
        if secret_id is not None:
            resources.append(f"projects/{project.number}/secrets/{secret_id}")
        with self._lock:
            for resource in resources:
                for role, members in self.bindings.get(resource, {}).items():
                    if member in members and permission in ROLES.get(role, frozenset()):
                        return
        raise ApiError(403, "PERMISSION_DENIED",
                       f"Permission '{permission}' denied on resource (or it may not exist).",
                       [error_info("IAM_PERMISSION_DENIED", "iam.googleapis.com",
                                   permission=permission)])

    def handle(self, rpc: str, match: re.Match[str], query: dict[str, list[str]],
               body: Any, caller: str, ints: bool) -> dict[str, Any]:
        """Carry out one authenticated, routed API request."""
        project = self.project(match["project"])
        self.authorize(caller, _PERMISSION[rpc], project, match.groupdict().get("secret"))
        location = match["location"]
        handler = getattr(self, f"_rpc_{rpc}")
        with self._lock:
            return handler(project, location, match, query, body, ints)  # type: ignore[no-any-return]

    def _secret(self, project: Project, location: str | None, secret_id: str,
                *, versions: bool = False) -> Secret:
        secret = self.secrets.get((project.number, location, secret_id))
        if secret is None:
            where = f"/locations/{location}" if location else ""
            name = f"projects/{project.number}{where}/secrets/{secret_id}"
            tail = " or has no versions" if versions else ""
            raise ApiError(404, "NOT_FOUND", f"Secret [{name}] not found{tail}.")
        return secret

    def _version(self, secret: Secret, reference: str) -> Version:
        if reference == "latest":
            if not secret.versions:
                raise ApiError(404, "NOT_FOUND", f"Secret [{secret.name}] not found or has no "
                                                 "versions.")
            return secret.versions[-1]
        number = int(reference) if reference.isdigit() else secret.aliases.get(reference)
        found = next((v for v in secret.versions if v.number == number), None)
        if found is None:
            raise ApiError(404, "NOT_FOUND",
                           f"Secret Version [{secret.name}/versions/{reference}] not found.")
        return found

    def _version_json(self, secret: Secret, version: Version, ints: bool) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "name": f"{secret.name}/versions/{version.number}",
            "createTime": version.create_time,
            "state": STATES[version.state] if ints else version.state,
            "replicationStatus": {"automatic": {}},
            "etag": f'"{version.number:x}{len(version.state):x}"',
        }
        if version.destroy_time:
            answer["destroyTime"] = version.destroy_time
        if version.crc is not None:
            answer["clientSpecifiedPayloadChecksum"] = True
        return answer

    def _secret_json(self, secret: Secret) -> dict[str, Any]:
        answer: dict[str, Any] = {"name": secret.name, "createTime": secret.create_time,
                                  "etag": secret.etag}
        if secret.location is None:
            answer["replication"] = {"automatic": {}}
        if secret.labels:
            answer["labels"] = dict(secret.labels)
        if secret.aliases:
            answer["versionAliases"] = {k: str(v) for k, v in secret.aliases.items()}
        return answer

    def _rpc_AccessSecretVersion(self, project: Project, location: str | None,
                                 match: re.Match[str], query: Any, body: Any,
                                 ints: bool) -> dict[str, Any]:
        secret = self._secret(project, location, match["secret"], versions=True)
        version = self._version(secret, match["version"])
        if version.state != "ENABLED":
            raise ApiError(400, "FAILED_PRECONDITION",
                           f"Secret Version [{secret.name}/versions/{version.number}] is in "
                           f"{version.state} state.")
        data = version.data
        if secret.corrupt:
            data = bytes([data[0] ^ 0x20]) + data[1:] if data else b"\x00"
        payload: dict[str, Any] = {"data": base64.b64encode(data).decode()}
        if version.crc is not None:
            payload["dataCrc32c"] = str(version.crc)
        return {"name": f"{secret.name}/versions/{version.number}", "payload": payload}

    def _rpc_GetSecretVersion(self, project: Project, location: str | None,
                              match: re.Match[str], query: Any, body: Any,
                              ints: bool) -> dict[str, Any]:
        secret = self._secret(project, location, match["secret"])
        return self._version_json(secret, self._version(secret, match["version"]), ints)

    def _change_state(self, project: Project, location: str | None, match: re.Match[str],
                      state: str, ints: bool) -> dict[str, Any]:
        secret = self._secret(project, location, match["secret"])
        version = self._version(secret, match["version"])
        if version.state == "DESTROYED":
            raise ApiError(400, "FAILED_PRECONDITION",
                           f"Secret Version [{secret.name}/versions/{version.number}] is in "
                           "DESTROYED state.")
        version.state = state
        if state == "DESTROYED":
            version.data, version.destroy_time = b"", _now()
        return self._version_json(secret, version, ints)

    def _rpc_DisableSecretVersion(self, project: Project, location: str | None,
                                  match: re.Match[str], query: Any, body: Any,
                                  ints: bool) -> dict[str, Any]:
        return self._change_state(project, location, match, "DISABLED", ints)

    def _rpc_EnableSecretVersion(self, project: Project, location: str | None,
                                 match: re.Match[str], query: Any, body: Any,
                                 ints: bool) -> dict[str, Any]:
        return self._change_state(project, location, match, "ENABLED", ints)

    def _rpc_DestroySecretVersion(self, project: Project, location: str | None,
                                  match: re.Match[str], query: Any, body: Any,
                                  ints: bool) -> dict[str, Any]:
        return self._change_state(project, location, match, "DESTROYED", ints)

    def _rpc_AddSecretVersion(self, project: Project, location: str | None,
                              match: re.Match[str], query: Any, body: Any,
                              ints: bool) -> dict[str, Any]:
        secret = self._secret(project, location, match["secret"])
        payload = (body or {}).get("payload") or {}
        data = base64.b64decode(payload.get("data", ""))
        if len(data) > 65536:
            raise ApiError(400, "INVALID_ARGUMENT",
                           "Secret Payload cannot be larger than 65536 bytes.")
        crc = payload.get("dataCrc32c")
        if crc is not None and int(crc) != crc32c(data):
            raise ApiError(400, "INVALID_ARGUMENT",
                           "Checksum mismatch: the data_crc32c of the payload does not match "
                           "its data.")
        number = secret.versions[-1].number + 1 if secret.versions else 1
        version = Version(number, data, int(crc) if crc is not None else None)
        secret.versions.append(version)
        return self._version_json(secret, version, ints)

    def _rpc_CreateSecret(self, project: Project, location: str | None,
                          match: re.Match[str], query: dict[str, list[str]], body: Any,
                          ints: bool) -> dict[str, Any]:
        secret_id = query.get("secretId", [""])[0]
        if not _SECRET_ID.match(secret_id):
            raise ApiError(400, "INVALID_ARGUMENT",
                           "Secret ID must contain only letters, numbers, dashes and "
                           "underscores, and be at most 255 characters long.")
        if location is None and "replication" not in (body or {}):
            raise ApiError(400, "INVALID_ARGUMENT", "Secret.replication is required.")
        key = (project.number, location, secret_id)
        if key in self.secrets:
            where = f"/locations/{location}" if location else ""
            raise ApiError(409, "ALREADY_EXISTS",
                           f"Secret [projects/{project.number}{where}/secrets/{secret_id}] "
                           "already exists.")
        secret = Secret(project.number, location, secret_id,
                        labels=dict((body or {}).get("labels") or {}))
        self.secrets[key] = secret
        return self._secret_json(secret)

    def _rpc_GetSecret(self, project: Project, location: str | None, match: re.Match[str],
                       query: Any, body: Any, ints: bool) -> dict[str, Any]:
        return self._secret_json(self._secret(project, location, match["secret"]))

    def _rpc_UpdateSecret(self, project: Project, location: str | None,
                          match: re.Match[str], query: dict[str, list[str]], body: Any,
                          ints: bool) -> dict[str, Any]:
        secret = self._secret(project, location, match["secret"])
        mask = {p for m in query.get("updateMask", []) for p in m.split(",")}
        if not mask:
            raise ApiError(400, "INVALID_ARGUMENT", "update_mask is required.")
        if "versionAliases" in mask or "version_aliases" in mask:
            aliases = {k: int(v) for k, v in (body.get("versionAliases") or {}).items()}
            if any(v not in {x.number for x in secret.versions} for v in aliases.values()):
                raise ApiError(400, "INVALID_ARGUMENT",
                               "Version aliases must point to existing versions.")
            secret.aliases = aliases
        if "labels" in mask:
            secret.labels = dict(body.get("labels") or {})
        return self._secret_json(secret)

    def _rpc_DeleteSecret(self, project: Project, location: str | None, match: re.Match[str],
                          query: Any, body: Any, ints: bool) -> dict[str, Any]:
        secret = self._secret(project, location, match["secret"])
        del self.secrets[(secret.number, location, secret.secret_id)]
        return {}

    def _rpc_ListSecrets(self, project: Project, location: str | None, match: re.Match[str],
                         query: dict[str, list[str]], body: Any, ints: bool) -> dict[str, Any]:
        size = int(query.get("pageSize", ["25000"])[0] or 25000)
        start = int(query.get("pageToken", ["0"])[0] or 0)
        found = sorted((s for (number, where, _), s in self.secrets.items()
                        if number == project.number and where == location),
                       key=lambda s: s.secret_id)
        page = found[start:start + size]
        answer: dict[str, Any] = {}
        if page:
            answer["secrets"] = [self._secret_json(s) for s in page]
        if start + size < len(found):
            answer["nextPageToken"] = str(start + size)
        answer["totalSize"] = len(found)
        return answer

    def next_fault(self, rpc: str) -> ApiError | str | None:
        """The fault the next request of ``rpc`` gets, if any."""
        with self._lock:
            for i, (only, _) in enumerate(self._faults):
                if only in (None, rpc):
                    return self._faults.pop(i)[1]
            return None

    def record(self, rpc: str, path: str, caller: str | None, connection: int) -> None:
        with self._lock:
            self.requests.append(Recorded(rpc, path, caller, connection))

    @contextlib.contextmanager
    def serving(self, rpc: str) -> Iterator[None]:
        """Count the requests in flight (and hold accesses at the gate, if set)."""
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            gate = self._gate if rpc == "AccessSecretVersion" else None
            if gate is not None:
                if self.in_flight >= self._gate_size:
                    self._gate_open = True  # for good: the first ones may be done already
                    gate.notify_all()
                gate.wait_for(lambda: self._gate_open, timeout=10)
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1


def _fault(status: str, retry_delay: float | None) -> ApiError:
    if status == "RESOURCE_EXHAUSTED":
        details = [error_info("RATE_LIMIT_EXCEEDED", quota_metric=f"{SERVICE}/access_requests",
                              quota_limit="AccessRequestsPerMinutePerProject",
                              service=SERVICE, consumer="projects/0")]
        if retry_delay is not None:
            details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo",
                            "retryDelay": f"{retry_delay:g}s"})
        return ApiError(429, status, "Quota exceeded for quota metric 'Access requests' and "
                        "limit 'Access requests per minute per project' of service "
                        f"'{SERVICE}' for consumer 'project_number:0'.", details)
    if status == "UNAVAILABLE":
        return ApiError(503, status, "The service is currently unavailable.")
    if status == "INTERNAL":
        return ApiError(500, status, "Internal error encountered.")
    raise ValueError(f"no canned fault for {status}")


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # Google's front ends take every connection a client opens


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        api: SecretManagerServer = self.server.api  # type: ignore[attr-defined]
        with api._lock:
            api.connections += 1
            self.connection_number = api.connections

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json; "
              "charset=UTF-8", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Vary", "Origin, X-Origin, Referer")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _serve(self) -> None:
        api: SecretManagerServer = self.server.api  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/token" and self.command == "POST":
            status, answer = api.token(parse_qs(raw.decode()))
            self._send(status, json.dumps(answer).encode(),
                       headers={"Cache-Control": "no-cache, no-store, max-age=0, "
                                                 "must-revalidate", "Pragma": "no-cache"})
            return
        route = next(((rpc, m) for method, pattern, rpc in _ROUTES
                      if method == self.command and (m := pattern.match(parts.path))), None)
        if route is None:
            self._send(404, NOT_FOUND_PAGE, "text/html; charset=UTF-8")
            return
        rpc, match = route
        ints = "enum-encoding=int" in ";".join(query.get("$alt", []))
        caller: str | None = None
        fault = api.next_fault(rpc)
        try:
            if isinstance(fault, ApiError):
                api.record(rpc, parts.path, None, self.connection_number)
                raise fault
            try:
                caller = api.caller(self.headers.get("Authorization", ""), rpc)
            finally:
                api.record(rpc, parts.path, caller, self.connection_number)
            body = json.loads(raw) if raw else {}
            with api.serving(rpc):
                answer = api.handle(rpc, match, query, body, caller, ints)
        except ApiError as error:
            self._send(error.code, error.body(), headers=error.headers)
            return
        if fault == "drop":  # done, but the answer never reaches the client
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(200, json.dumps(answer).encode())

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve


@contextlib.contextmanager
def running() -> Iterator[SecretManagerServer]:
    """A server for the duration of a ``with`` block."""
    server = SecretManagerServer()
    try:
        yield server
    finally:
        server.close()


def main() -> None:
    """Serve in a process of its own (the benchmark runs it so): one project, ``main-project``,
    and an admin service account; prints ``{"url", "project", "key"}`` as one JSON line and
    serves until its standard input closes."""
    import sys

    with running() as server:
        server.add_project("main-project")
        key = server.new_service_account("admin", "main-project")
        server.grant(key["client_email"], "roles/secretmanager.admin", project="main-project")
        print(json.dumps({"url": server.url, "project": "main-project", "key": key}), flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
