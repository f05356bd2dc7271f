"""A protocol-faithful local Infisical API server, for the plugin's tests and benchmark.

Real sockets on 127.0.0.1; the real SDK (``infisical_sdk``) talks to it exactly
as to Infisical. It serves what the plugin and its tests use, with Infisical's
paths, JSON shapes, status codes and error bodies (``{"reqId", "statusCode",
"message", "error"}``, from Infisical's Fastify error handler):

- ``POST /api/v1/auth/universal-auth/login``: ``{"accessToken", "expiresIn",
  "accessTokenMaxTTL", "tokenType"}``; 401 ``Invalid credentials``;
- ``GET /api/v3/secrets/raw`` (``workspaceId``, ``environment``, ``secretPath``,
  ``viewSecretValue``, ``recursive``, ...): ``{"secrets": [...], "imports": []}``,
  an empty list for a folder that does not exist, keys the identity may not
  describe left out, 403 when a listed value may not be read;
- ``GET|POST|PATCH|DELETE /api/v3/secrets/raw/{secretName}``: ``{"secret": {...}}``;
  404 ``Secret with name '...' not found`` / ``Folder with path '...' in environment
  with slug '...' not found`` / ``Project with ... not found``; 403
  ``PermissionDenied``, ``ForbiddenReadSecretError``, ``ProjectMembershipNotFound``;
  400 ``Secret already exist``; ``{"approval": {...}}`` where a change policy holds;
- ``POST /api/v2/folders``: ``{"folder": {...}}``.

Access tokens are HS256 JWTs carrying ``identityId`` and ``identityAccessTokenId``
(as Infisical signs them). An expired, malformed or badly signed token is refused
with 403 ``TokenError``, a revoked one with 401 ``UnauthorizedError``. Secret
references (``${KEY}``) are not expanded and imports are not modelled.

Run it alone (``python infisical_api.py``) for the benchmark: it prints one JSON
line ``{"url", "project", "token"}`` (an admin token) and serves until killed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import attrs

LOGIN = "POST /api/v1/auth/universal-auth/login"
LIST = "GET /api/v3/secrets/raw"
GET = "GET /api/v3/secrets/raw/{secretName}"
CREATE = "POST /api/v3/secrets/raw/{secretName}"
UPDATE = "PATCH /api/v3/secrets/raw/{secretName}"
DELETE = "DELETE /api/v3/secrets/raw/{secretName}"
FOLDER = "POST /api/v2/folders"

#: What Infisical's rate limiter answers (@fastify/rate-limit throwing its RateLimitError),
#: for a fault proxy to send with ``Retry-After``.
RATE_LIMITED = json.dumps({"reqId": "req-ratelimited", "statusCode": 429,
                           "message": "Rate limit exceeded. Please try again in 1 seconds",
                           "error": "RateLimitExceeded"}).encode()


class ApiError(Exception):
    """An error answer, raised by a handler (the way Infisical's services throw)."""

    def __init__(self, status: int, error: str, message: Any, **extra: Any) -> None:
        super().__init__(str(message))
        self.status, self.error, self.message, self.extra = status, error, message, extra


def not_found(message: str, name: str = "NotFound") -> ApiError:
    return ApiError(404, name, message)


def invalid(path: str, message: str) -> ApiError:
    """What a ZodError becomes: 422 ``ValidationFailure`` whose message is the issues list."""
    return ApiError(422, "ValidationFailure", [{"code": "custom", "message": message,
                                                "path": [path]}])


def permission_denied(action: str) -> ApiError:
    """What CASL's ForbiddenError becomes: ``You are not allowed to <action> on secrets``."""
    return ApiError(403, "PermissionDenied", f"You are not allowed to {action} on secrets",
                    details=[{"action": action, "inverted": True, "subject": "secrets"}])


@attrs.define
class Identity:
    """A machine identity: the projects it is a member of and what its role refuses."""

    id: str
    projects: set[str] = attrs.field(factory=set)
    #: Every project, full rights (the test's admin, which seeds through the SDK).
    admin: bool = False
    #: Keys it may not even describe: left out of lists, 403 PermissionDenied when read.
    hidden: set[str] = attrs.field(factory=set)
    #: Keys it may describe but not read the value of: 403 ForbiddenReadSecretError.
    deny_read: set[str] = attrs.field(factory=set)
    #: No create, edit or delete: 403 PermissionDenied.
    read_only: bool = False


@attrs.define
class Token:
    identity: str
    expires_at: float | None
    revoked: bool = False


@attrs.define
class UniversalAuth:
    identity: str
    client_secret: str
    access_token_ttl: int


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def normalize(path: str) -> str:
    """Infisical's folder path: leading slash, no trailing slash (``removeTrailingSlash``)."""
    return "/" + path.strip("/")


class InfisicalApi:
    """The server and its state; ``close()`` stops it."""

    def __init__(self, port: int = 0) -> None:
        self.lock = threading.RLock()
        self._key = secrets.token_bytes(32)
        #: project id -> environment slug -> folder path -> key -> secret record
        self.projects: dict[str, dict[str, dict[str, dict[str, dict[str, Any]]]]] = {}
        self.identities: dict[str, Identity] = {}
        self.universal: dict[str, UniversalAuth] = {}
        self.tokens: dict[str, Token] = {}  # identityAccessTokenId -> token record
        #: (project, environment, folder) where a change policy holds writes for approval
        self.approval: set[tuple[str, str, str]] = set()
        #: every request served, by route (``GET /api/v3/secrets/raw/{secretName}``)
        self.requests: Counter[str] = Counter()
        #: logins per client ID, and refusals by (status, error)
        self.logins: Counter[str] = Counter()
        self.refused: Counter[tuple[int, str]] = Counter()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
        self._server.api = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.admin = self.add_identity(admin=True)
        self.admin_token = self.issue_token(self.admin)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- set-up (what an Infisical admin does in the web UI) --------------------------

    def add_project(self, environments: tuple[str, ...] = ("dev", "staging", "prod")) -> str:
        """A new project with the environments' root folders; its ID."""
        project = str(uuid.uuid4())
        with self.lock:
            self.projects[project] = {env: {"/": {}} for env in environments}
        return project

    def add_identity(self, *projects: str, admin: bool = False, read_only: bool = False
                     ) -> Identity:
        identity = Identity(str(uuid.uuid4()), set(projects), admin=admin, read_only=read_only)
        with self.lock:
            self.identities[identity.id] = identity
        return identity

    def issue_token(self, identity: Identity, ttl: int = 0) -> str:
        """An access token for ``identity`` (Token Auth); ``ttl`` 0: it never expires."""
        token_id = str(uuid.uuid4())
        now = time.time()
        payload: dict[str, Any] = {"identityId": identity.id, "identityAccessTokenId": token_id,
                                   "authTokenType": "identityAccessToken", "iat": int(now)}
        if ttl > 0:
            payload["exp"] = int(now + ttl)
        with self.lock:
            self.tokens[token_id] = Token(identity.id, now + ttl if ttl > 0 else None)
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(payload).encode())
        signature = hmac.new(self._key, f"{header}.{body}".encode(), hashlib.sha256).digest()
        return f"{header}.{body}.{_b64(signature)}"

    def add_universal_auth(self, identity: Identity, ttl: int = 7200) -> tuple[str, str]:
        """Attach universal auth to ``identity``: its (client ID, client secret)."""
        client_id = str(uuid.uuid4())
        client_secret = secrets.token_hex(32)
        with self.lock:
            self.universal[client_id] = UniversalAuth(identity.id, client_secret, ttl)
        return client_id, client_secret

    def revoke_tokens(self, identity: Identity) -> None:
        """Revoke every access token of ``identity`` (as revoking them in the UI does)."""
        with self.lock:
            for token in self.tokens.values():
                if token.identity == identity.id:
                    token.revoked = True

    def hold_for_approval(self, project: str, environment: str, folder: str) -> None:
        """Put a change policy on a folder: writes there become approval requests."""
        with self.lock:
            self.approval.add((project, environment, normalize(folder)))

    # -- authentication -----------------------------------------------------------------

    def login(self, body: dict[str, Any]) -> dict[str, Any]:
        client_id, client_secret = body.get("clientId"), body.get("clientSecret")
        if not isinstance(client_id, str) or not isinstance(client_secret, str):
            raise ApiError(422, "ValidationFailure", "clientId and clientSecret are required")
        with self.lock:
            auth = self.universal.get(client_id)
            if auth is None or not hmac.compare_digest(auth.client_secret, client_secret):
                raise ApiError(401, "UnauthorizedError", "Invalid credentials")
            self.logins[client_id] += 1
            identity = self.identities[auth.identity]
        token = self.issue_token(identity, auth.access_token_ttl)
        return {"accessToken": token, "expiresIn": auth.access_token_ttl,
                "accessTokenMaxTTL": 2592000, "tokenType": "Bearer"}

    def authenticate(self, authorization: str | None) -> Identity:
        if not authorization or not authorization.startswith("Bearer "):
            raise ApiError(401, "UnauthorizedError", "Missing Authorization header")
        parts = authorization.removeprefix("Bearer ").split(".")
        try:
            header, body, signature = parts
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, TypeError):
            raise ApiError(403, "TokenError", "The provided access token is malformed. Please "
                           "use a valid token or generate a new one and try again.") from None
        expected = hmac.new(self._key, f"{header}.{body}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(_b64(expected), signature):
            raise ApiError(403, "TokenError", "invalid signature")
        with self.lock:
            token = self.tokens.get(str(payload.get("identityAccessTokenId")))
            if token is not None and token.expires_at is not None \
                    and time.time() >= token.expires_at:
                raise ApiError(403, "TokenError",
                               "Your token has expired. Please re-authenticate.")
            if token is None or token.revoked:
                raise ApiError(401, "UnauthorizedError",
                               "You are not allowed to access this resource")
            return self.identities[token.identity]

    def project(self, identity: Identity, project: Any) -> dict[str, dict[str, Any]]:
        if not project:
            raise ApiError(400, "BadRequest", "Either workspaceId or workspaceSlug is required")
        envs = self.projects.get(project)
        if envs is None:
            raise not_found(f"Project with {project} not found")
        if not identity.admin and project not in identity.projects:
            raise ApiError(403, "ProjectMembershipNotFound",
                           f"You are not a member of this project with ID {project}. Please "
                           "assign this identity to the project with the appropriate "
                           "permissions, then try again.")
        return envs

    # -- secrets -------------------------------------------------------------------------

    @staticmethod
    def shape(project: str, environment: str, path: str, record: dict[str, Any],
              hidden: bool = False) -> dict[str, Any]:
        """A secret as Infisical's ``reshapeBridgeSecret`` answers it."""
        return {
            "secretKey": record["key"], "secretPath": path, "workspace": project,
            "projectId": project, "environment": environment,
            "secretComment": record["comment"], "version": record["version"],
            "type": "shared", "_id": record["id"], "id": record["id"], "user": None,
            "tags": [], "skipMultilineEncoding": record["skipMultilineEncoding"],
            "secretReminderRepeatDays": None, "secretReminderNote": None, "metadata": None,
            "secretMetadata": [], "createdAt": record["createdAt"],
            "updatedAt": record["updatedAt"], "isRotatedSecret": False, "rotationId": None,
            "secretReminderRecipients": [],
            **({"secretValue": "<hidden-by-infisical>", "secretValueHidden": True} if hidden
               else {"secretValue": record["value"], "secretValueHidden": False}),
        }

    def folder(self, envs: dict[str, Any], environment: Any, path: str, operation: str
               ) -> dict[str, dict[str, Any]]:
        folder = (envs.get(environment) or {}).get(path)
        if folder is None:
            raise not_found(f"Folder with path '{path}' in environment with slug "
                            f"'{environment}' not found", operation)
        return folder  # type: ignore[no-any-return]

    def list_secrets(self, identity: Identity, query: dict[str, str]) -> dict[str, Any]:
        project, environment = query.get("workspaceId"), query.get("environment")
        path = normalize(query.get("secretPath", "/"))
        view = query.get("viewSecretValue", "true") == "true"
        recursive = query.get("recursive", "false") == "true"
        with self.lock:
            envs = self.project(identity, project)
            folders = envs.get(environment) or {}
            if path not in folders:
                return {"secrets": [], "imports": []}
            paths = [p for p in folders
                     if p == path or (recursive and p.startswith(path.rstrip("/") + "/"))]
            listed = []
            for folder in sorted(paths):
                for key, record in sorted(folders[folder].items()):
                    if key in identity.hidden:
                        continue  # may not describe it: filtered out
                    unreadable = key in identity.deny_read
                    if view and unreadable:
                        if folder != path:
                            continue  # a recursive secret without read value: filtered out
                        raise permission_denied("readValue")
                    listed.append(self.shape(str(project), str(environment), folder, record,
                                             hidden=not view or unreadable))
        return {"secrets": listed, "imports": []}

    def get_secret(self, identity: Identity, name: str, query: dict[str, str]
                   ) -> dict[str, Any]:
        project, environment = query.get("workspaceId"), query.get("environment")
        path = normalize(query.get("secretPath", "/"))
        view = query.get("viewSecretValue", "true") == "true"
        with self.lock:
            envs = self.project(identity, project)
            record = self.folder(envs, environment, path, "GetSecretByName").get(name)
            if name in identity.hidden:
                raise permission_denied("describeSecret")
            if record is None:
                raise not_found(f"Secret with name '{name}' not found")
            if view and name in identity.deny_read:
                raise ApiError(403, "ForbiddenReadSecretError", "You do not have permission "
                               f"to view secret value on secret with name '{name}'")
            return {"secret": self.shape(str(project), str(environment), path, record,
                                         hidden=not view)}

    def write(self, identity: Identity, method: str, name: str, body: dict[str, Any]
              ) -> dict[str, Any]:
        project, environment = body.get("workspaceId"), body.get("environment")
        path = normalize(str(body.get("secretPath") or "/"))
        if not name.strip() or " " in name:
            raise invalid("secretName", "Secret name cannot contain spaces.")
        if ":" in name:
            raise invalid("secretName", "Secret name cannot contain colon.")
        operation = {"POST": "CreateSecret", "PATCH": "UpdateSecret",
                     "DELETE": "DeleteSecret"}[method]
        with self.lock:
            envs = self.project(identity, project)
            folder = self.folder(envs, environment, path, operation)
            record = folder.get(name)
            if method == "POST" and record is not None:
                raise ApiError(400, "BadRequest", "Secret already exist")
            if method == "PATCH" and record is None:
                raise not_found(f"Secret with name {name} not found")
            if method == "DELETE" and record is None:
                raise not_found("Secret not found")
            if identity.read_only:
                action = {"POST": "create", "PATCH": "edit", "DELETE": "delete"}[method]
                raise permission_denied(action)
            if method != "DELETE" and (project, environment, path) in self.approval:
                return {"approval": {"id": str(uuid.uuid4()), "status": "open",
                                     "slug": f"{method.lower()}-{name}"}}
            now = _now()
            if method == "POST":
                record = folder[name] = {
                    "id": str(uuid.uuid4()), "key": name, "value": body.get("secretValue", ""),
                    "comment": body.get("secretComment") or "", "version": 1,
                    "skipMultilineEncoding": bool(body.get("skipMultilineEncoding")),
                    "createdAt": now, "updatedAt": now}
            elif method == "PATCH":
                assert record is not None
                if "secretValue" in body:
                    record["value"] = body["secretValue"]
                if "skipMultilineEncoding" in body:
                    record["skipMultilineEncoding"] = bool(body["skipMultilineEncoding"])
                record["version"] += 1
                record["updatedAt"] = now
            else:
                record = folder.pop(name)
            return {"secret": self.shape(str(project), str(environment), path, record)}

    def create_folder(self, identity: Identity, body: dict[str, Any]) -> dict[str, Any]:
        project, environment = body.get("projectId"), body.get("environment")
        parent, name = normalize(str(body.get("path") or "/")), str(body.get("name") or "")
        if not re.match(r"^[a-zA-Z0-9_-]+$", name):
            raise invalid("name", "Invalid folder name. Only alphanumeric characters, dashes, "
                          "and underscores are allowed.")
        with self.lock:
            envs = self.project(identity, project)
            self.folder(envs, environment, parent, "CreateFolder")
            path = normalize(f"{parent}/{name}")
            if path in envs[environment]:
                raise ApiError(400, "BadRequest", f"Folder with name '{name}' already exists")
            envs[environment][path] = {}
            now = _now()
            return {"folder": {"id": str(uuid.uuid4()), "name": name, "createdAt": now,
                               "updatedAt": now, "envId": f"env-{environment}", "path": path,
                               "version": 1, "parentId": None, "isReserved": False,
                               "description": None}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def _answer(self, status: int, body: dict[str, Any],
                headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _serve(self) -> None:
        api: InfisicalApi = self.server.api  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        segments = url.path.split("/")
        name = unquote(segments[5]) if len(segments) == 6 and url.path.startswith(
            "/api/v3/secrets/raw/") else None
        route = f"{self.command} {url.path}"
        if name is not None:
            route = f"{self.command} /api/v3/secrets/raw/{{secretName}}"
        try:
            body = json.loads(raw) if raw else {}
            if not isinstance(body, dict):
                raise ValueError("body")
        except ValueError:
            return self._answer(400, {"statusCode": 400, "code": "FST_ERR_CTP_INVALID_JSON",
                                      "error": "Bad Request", "message": "Body is not JSON"})
        if route not in (LOGIN, LIST, GET, CREATE, UPDATE, DELETE, FOLDER):
            return self._answer(404, {"message": f"Route {self.command}:{url.path} not found",
                                      "error": "Not Found", "statusCode": 404})
        with api.lock:
            api.requests[route] += 1
        try:
            if route == LOGIN:
                answer = api.login(body)
            else:
                identity = api.authenticate(self.headers.get("Authorization"))
                if route == LIST:
                    answer = api.list_secrets(identity, query)
                elif route == GET:
                    answer = api.get_secret(identity, str(name), query)
                elif route == FOLDER:
                    answer = api.create_folder(identity, body)
                else:
                    answer = api.write(identity, self.command, str(name), body)
        except ApiError as exc:
            with api.lock:
                api.refused[(exc.status, exc.error)] += 1
            return self._answer(exc.status, {"reqId": f"req-{uuid.uuid4().hex[:14]}",
                                             "statusCode": exc.status, "message": exc.message,
                                             "error": exc.error, **exc.extra})
        self._answer(200, answer)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    """Serve until killed; print ``{"url", "project", "token"}`` (an admin token) first."""
    api = InfisicalApi()
    project = api.add_project()
    print(json.dumps({"url": api.url, "project": project, "token": api.admin_token}),
          flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        api.close()


if __name__ == "__main__":
    sys.exit(main())
