"""A protocol-faithful local Azure Key Vault (secrets), over HTTPS on 127.0.0.1.

It speaks the Key Vault data-plane REST API that azure-keyvault-secrets uses,
with its paths, ``api-version`` handling, status codes, headers and JSON shapes:

- ``GET /secrets/{name}/{version}`` (``version`` empty: the current one),
  ``PUT /secrets/{name}`` (a new version), ``PATCH /secrets/{name}/{version}``,
  ``DELETE /secrets/{name}`` (soft delete), ``GET /secrets`` and
  ``GET /secrets/{name}/versions`` (paged: ``maxresults``, ``nextLink`` with a
  ``$skiptoken``), ``GET|DELETE /deletedsecrets/{name}``,
  ``POST /deletedsecrets/{name}/recover``.
- Every request needs a known ``api-version`` (400 ``BadParameter`` otherwise).
- The challenge handshake: a request without a valid token is answered 401 with
  ``WWW-Authenticate: Bearer authorization="<sign-in URL>/<tenant>",
  resource="https://vault.azure.net"``; tokens are checked as Key Vault checks
  Microsoft Entra ID's (signature, audience, tenant, expiry, revocation).
- Authorization by access policies (permissions per principal, 403
  ``AccessDenied``) or by Azure RBAC (role and deny assignments at the vault or
  secret scope, 403 ``ForbiddenByRbac``).
- A disabled secret version is 403 ``Forbidden`` with the inner code
  ``SecretDisabled``; a deleted secret is 404 ``SecretNotFound`` and cannot be
  written (409, ``ObjectIsDeletedButRecoverable``) until recovered or purged;
  an invalid name is 400 ``BadParameter``.
- :meth:`KeyVault.fail_next` answers the next requests with 429 ``Throttled``
  and a ``Retry-After``, or 503, as Key Vault does under load.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import attrs
from azkv_entra import KEY_VAULT_RESOURCE, Claims, Directory
from azkv_https import HttpsServer, JsonHandler, TestCa

#: The API versions azure-keyvault-secrets can ask for.
API_VERSIONS = ("2016-10-01", "7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6",
                "2025-07-01", "2026-04-01")
NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
RETENTION_DAYS = 90

#: Data actions of the secrets permissions (as RBAC errors name them).
ACTIONS = {
    "get": "Microsoft.KeyVault/vaults/secrets/getSecret/action",
    "list": "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    "set": "Microsoft.KeyVault/vaults/secrets/setSecret/action",
    "delete": "Microsoft.KeyVault/vaults/secrets/delete",
    "recover": "Microsoft.KeyVault/vaults/deletedSecrets/recover/action",
    "purge": "Microsoft.KeyVault/vaults/deletedSecrets/delete",
}
#: The built-in roles' secret permissions.
ROLES = {
    "Key Vault Secrets User": frozenset({"get", "list"}),
    "Key Vault Secrets Officer": frozenset({"get", "list", "set", "delete", "recover"}),
    "Key Vault Administrator": frozenset(ACTIONS),
}


@attrs.define
class Version:
    """One version of a secret."""

    id: str
    value: str
    content_type: str | None = None
    tags: dict[str, str] | None = None
    enabled: bool = True
    created: int = attrs.field(factory=lambda: int(time.time()))
    updated: int = attrs.field(factory=lambda: int(time.time()))


@attrs.define
class Secret:
    """A secret: its name as created, its versions (the last is current), its deletion."""

    name: str
    versions: list[Version] = attrs.field(factory=list)
    deleted_at: int | None = None


@attrs.define
class Request:
    """One request the vault saw (never a body)."""

    at: float
    method: str
    path: str
    api_version: str | None
    principal: str | None = None
    status: int = 0


class Gate:
    """Holds requests for secrets whose names start with ``prefix`` until ``count`` of
    them are in flight at once (or ``timeout`` passes): proof of concurrent reads."""

    def __init__(self, prefix: str, count: int, timeout: float = 15.0) -> None:
        self.prefix, self.count, self.timeout = prefix.lower(), count, timeout
        self.inflight = self.peak = 0
        self.opened = False
        self._condition = threading.Condition()

    def matches(self, path: str) -> bool:
        """Whether ``path`` reads a secret the gate holds."""
        return path.lower().startswith(f"/secrets/{self.prefix}")

    def enter(self) -> None:
        """Wait (bounded) until enough requests are in flight together."""
        with self._condition:
            self.inflight += 1
            self.peak = max(self.peak, self.inflight)
            if self.inflight >= self.count:
                self.opened = True
                self._condition.notify_all()
            self._condition.wait_for(lambda: self.opened, self.timeout)

    def leave(self) -> None:
        """One held request is answered."""
        with self._condition:
            self.inflight -= 1


@attrs.define
class Fault:
    """A canned error answer for the next request."""

    status: int
    retry_after: str | None = None


class KeyVault:
    """One vault: its secrets, who may do what, and its HTTPS endpoint (``url``).

    :param directory: the Microsoft Entra ID whose tokens the vault accepts.
    :param sign_in_url: the sign-in endpoint its challenge names.
    :param tenant: the tenant the vault belongs to.
    :param rbac: authorize with role assignments (else with access policies).
    """

    def __init__(self, directory: Directory, sign_in_url: str, tenant: str, ca: TestCa, *,
                 rbac: bool = True, name: str = "ss-test-vault") -> None:
        self.directory = directory
        self.sign_in_url = sign_in_url
        self.tenant = tenant
        self.rbac = rbac
        self.name = name
        self.secrets: dict[str, Secret] = {}
        self.access_policies: dict[str, set[str]] = {}
        self.roles: list[tuple[str, str, str]] = []  # object id, role, scope ("" = vault)
        self.denies: list[tuple[str, str, str]] = []  # object id, permission, scope
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        #: How many of the next writes (PUT) are applied but never answered (a lost answer).
        self.lost_answers = 0
        self.gate: Gate | None = None
        self.lock = threading.RLock()
        self._server = HttpsServer(self, _Handler, ca)
        self.url = self._server.url

    def close(self) -> None:
        """Stop serving."""
        self._server.close()

    # -- administration (what the Azure portal or ARM would do) ------------------------

    def grant(self, object_id: str, role_or_permissions: str | set[str],
              scope: str = "") -> None:
        """Give a principal a role (RBAC, at the vault or one secret) or access-policy
        permissions (``{"get"}``)."""
        with self.lock:
            if isinstance(role_or_permissions, str):
                self.roles.append((object_id, role_or_permissions, scope.lower()))
            else:
                self.access_policies.setdefault(object_id, set()).update(role_or_permissions)

    def deny(self, object_id: str, permission: str, scope: str) -> None:
        """An RBAC deny assignment: ``permission`` on secret ``scope`` is refused."""
        with self.lock:
            self.denies.append((object_id, permission, scope.lower()))

    def fail_next(self, count: int, status: int = 503, retry_after: str | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` (429: throttled)."""
        with self.lock:
            self.faults.extend([Fault(status, retry_after)] * count)

    def lose_next_answer(self, count: int = 1) -> None:
        """Apply the next ``count`` writes (PUT) but close the connection instead of
        answering: the client cannot tell whether the write happened."""
        with self.lock:
            self.lost_answers += count

    def heal(self) -> None:
        """Drop the pending canned answers."""
        with self.lock:
            self.faults.clear()
            self.lost_answers = 0

    def seen(self, method: str | None = None, path: str | None = None) -> list[Request]:
        """The requests seen, of ``method`` and starting with ``path`` if given."""
        with self.lock:
            return [r for r in self.requests if (method is None or r.method == method)
                    and (path is None or r.path.lower().startswith(path.lower()))]

    def allowed(self, object_id: str, permission: str, secret: str | None) -> bool:
        """Whether the principal may use ``permission`` on ``secret`` (or the vault)."""
        scopes = {"", (secret or "").lower()}
        with self.lock:
            if not self.rbac:
                return permission in self.access_policies.get(object_id, set())
            if any(o == object_id and p == permission and s in scopes
                   for o, p, s in self.denies):
                return False
            return any(o == object_id and permission in ROLES[r] and s in scopes
                       for o, r, s in self.roles)


def _kv_error(code: str, message: str, inner: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if inner is not None:
        error["innererror"] = {"code": inner}
    return {"error": error}


def _not_found(name: str, version: str | None = None) -> dict[str, Any]:
    which = f"{name}/{version}" if version else name
    return _kv_error("SecretNotFound",
                     f"A secret with (name/id) {which} was not found in this key vault. If you "
                     "recently deleted this secret you may be able to recover it using the "
                     "correct recovery command. For help resolving this issue, please see "
                     "https://go.microsoft.com/fwlink/?linkid=2125182")


class _Refused(Exception):
    """An error answer, raised by the operations and sent by the handler."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body
        super().__init__(status)


class _Handler(JsonHandler):

    # -- plumbing -------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Cache-Control": "no-cache", "Pragma": "no-cache", "Expires": "-1",
                "x-ms-keyvault-region": "westeurope",
                "x-ms-client-request-id": self.headers.get("x-ms-client-request-id", ""),
                "x-ms-request-id": str(uuid.uuid4()),
                "x-ms-keyvault-service-version": "1.9.2163.1",
                "x-ms-keyvault-network-info":
                    "conn_type=Ipv4;addr=127.0.0.1;act_addr_fam=InterNetwork;",
                "X-Content-Type-Options": "nosniff",
                "Strict-Transport-Security": "max-age=31536000;includeSubDomains"}

    def _send(self, record: Request, status: int, body: Any = None,
              extra: dict[str, str] | None = None) -> None:
        record.status = status
        self.answer(status, body, {**self._headers(), **(extra or {})})

    def _challenge(self) -> dict[str, str]:
        vault: KeyVault = self.app
        return {"WWW-Authenticate": f'Bearer authorization="{vault.sign_in_url}/{vault.tenant}", '
                                    f'resource="{KEY_VAULT_RESOURCE}"'}

    def _serve(self) -> None:
        vault: KeyVault = self.app
        body = self.read_body()
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        record = Request(time.time(), self.command, unquote(url.path), query.get("api-version"))
        with vault.lock:
            vault.requests.append(record)
            fault = vault.faults.pop(0) if vault.faults else None
        if fault is not None:
            self._fault(record, fault)
            return
        version = query.get("api-version")
        if version not in API_VERSIONS:
            message = ("The api-version query parameter is missing." if version is None else
                       f"The specified version ({version}) is not recognized. Consider using "
                       f"the latest supported version ({API_VERSIONS[-1]}).")
            self._send(record, 400, _kv_error("BadParameter", message))
            return
        claims = self._authenticate(record)
        if claims is None:
            return
        record.principal = claims.oid
        gate = vault.gate if vault.gate is not None and vault.gate.matches(url.path) else None
        if gate is not None:
            gate.enter()
        try:
            status, answer = self._route(claims, url.path, query, body)
        except _Refused as refused:
            status, answer = refused.status, refused.body
        finally:
            if gate is not None:
                gate.leave()
        with vault.lock:
            lose = self.command == "PUT" and status == 200 and vault.lost_answers > 0
            vault.lost_answers -= lose
        if lose:
            self.close_connection = True  # applied, but the answer is lost on the way
            return
        self._send(record, status, answer)

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST = _serve

    def _fault(self, record: Request, fault: Fault) -> None:
        if fault.status == 429:
            body = _kv_error("Throttled", "Request was not processed because too many requests "
                                          "were received. Reason: VaultRequestTypeLimitReached")
        else:
            body = _kv_error("ServiceUnavailable",
                             "The service is temporarily unavailable. Please retry.")
        extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        self._send(record, fault.status, body, extra)

    def _authenticate(self, record: Request) -> Claims | None:
        vault: KeyVault = self.app
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not token:
            self._send(record, 401, _kv_error(
                "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token."),
                self._challenge())
            return None
        claims = vault.directory.verify(token)
        if isinstance(claims, Claims):
            if claims.audience.rstrip("/") != KEY_VAULT_RESOURCE:
                claims = (f"AKV10022: Invalid audience. Expected {KEY_VAULT_RESOURCE}, "
                          f"found: {claims.audience}.")
            elif claims.tenant != vault.tenant:
                claims = (f"AKV10032: Invalid issuer. Expected one of "
                          f"https://sts.windows.net/{vault.tenant}/, found: "
                          f"https://sts.windows.net/{claims.tenant}/.")
        if isinstance(claims, str):
            self._send(record, 401, _kv_error("Unauthorized", claims), self._challenge())
            return None
        return claims

    # -- authorization --------------------------------------------------------------------

    def _require(self, claims: Claims, permission: str, secret: str | None = None) -> None:
        vault: KeyVault = self.app
        if vault.allowed(claims.oid, permission, secret):
            return
        caller = f"appid={claims.app};oid={claims.oid};iss=https://sts.windows.net/{claims.tenant}/"
        if not vault.rbac:
            raise _Refused(403, _kv_error(
                "Forbidden",
                f"The user, group or application '{caller}' does not have secrets {permission} "
                f"permission on key vault '{vault.name};location=westeurope'. For help "
                "resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
                "AccessDenied"))
        resource = (f"/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/"
                    f"secretstores/providers/microsoft.keyvault/vaults/{vault.name}"
                    + (f"/secrets/{secret}" if secret else ""))
        raise _Refused(403, _kv_error(
            "Forbidden",
            "Caller is not authorized to perform action on resource.\r\nIf role assignments, "
            "deny assignments or role definitions were changed recently, please observe "
            f"propagation time.\r\nCaller: {caller}\r\nAction: '{ACTIONS[permission]}'\r\n"
            f"Resource: '{resource}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\n"
            f"DecisionReason: null \r\nVault: {vault.name};location=westeurope\r\n",
            "ForbiddenByRbac"))

    # -- routes ---------------------------------------------------------------------------

    def _route(self, claims: Claims, path: str, query: dict[str, str], body: bytes
               ) -> tuple[int, Any]:
        parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
        method = self.command
        if parts[:1] == ["secrets"]:
            if len(parts) == 1 and method == "GET":
                self._require(claims, "list")
                return 200, self._list(query)
            name = self._name(parts[1]) if len(parts) > 1 else ""
            rest = parts[2:]
            if rest == ["versions"] and method == "GET":
                self._require(claims, "list", name)
                return 200, self._list(query, name)
            if len(rest) <= 1:
                version = rest[0] if rest else ""
                if method == "GET":
                    self._require(claims, "get", name)
                    return 200, self._get(name, version)
                if method == "PUT" and not rest:
                    self._require(claims, "set", name)
                    return 200, self._set(name, body)
                if method == "PATCH":
                    self._require(claims, "set", name)
                    return 200, self._update(name, version, body)
                if method == "DELETE" and not rest:
                    self._require(claims, "delete", name)
                    return 200, self._delete(name)
        if parts[:1] == ["deletedsecrets"] and len(parts) >= 2:
            name = self._name(parts[1])
            if len(parts) == 2 and method == "GET":
                self._require(claims, "list", name)
                return 200, self._deleted_bundle(self._deleted(name))
            if len(parts) == 2 and method == "DELETE":
                self._require(claims, "purge", name)
                self._purge(name)
                return 204, None
            if parts[2:] == ["recover"] and method == "POST":
                self._require(claims, "recover", name)
                return 200, self._recover(name)
        raise _Refused(404, _kv_error("NotFound", f"The requested URI {path} does not exist."))

    def _name(self, name: str) -> str:
        if not NAME.match(name):
            raise _Refused(400, _kv_error(
                "BadParameter", f"The request URI contains an invalid name: {name}"))
        return name

    def _live(self, name: str) -> Secret | None:
        vault: KeyVault = self.app
        secret = vault.secrets.get(name.lower())
        return secret if secret is not None and secret.deleted_at is None else None

    def _attributes(self, version: Version) -> dict[str, Any]:
        return {"enabled": version.enabled, "created": version.created,
                "updated": version.updated, "recoveryLevel": "Recoverable+Purgeable",
                "recoverableDays": RETENTION_DAYS}

    def _bundle(self, secret: Secret, version: Version, *, value: bool) -> dict[str, Any]:
        vault: KeyVault = self.app
        answer: dict[str, Any] = {
            "id": f"{vault.url}/secrets/{quote(secret.name)}/{version.id}",
            "attributes": self._attributes(version)}
        if value:
            answer["value"] = version.value
        if version.content_type is not None:
            answer["contentType"] = version.content_type
        if version.tags:
            answer["tags"] = dict(version.tags)
        return answer

    def _get(self, name: str, version_id: str) -> dict[str, Any]:
        vault: KeyVault = self.app
        with vault.lock:
            secret = self._live(name)
            if secret is None:
                raise _Refused(404, _not_found(name, version_id or None))
            if version_id:
                version = next((v for v in secret.versions if v.id == version_id.lower()), None)
                if version is None:
                    raise _Refused(404, _not_found(name, version_id))
            else:
                version = secret.versions[-1]
            if not version.enabled:
                raise _Refused(403, _kv_error(
                    "Forbidden", "Operation get is not allowed on a disabled secret.",
                    "SecretDisabled"))
            return self._bundle(secret, version, value=True)

    def _json(self, body: bytes) -> dict[str, Any]:
        try:
            parsed = json.loads(body or b"null")
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise _Refused(400, _kv_error("BadParameter", "The request body is not valid JSON."))
        return parsed

    def _set(self, name: str, body: bytes) -> dict[str, Any]:
        vault: KeyVault = self.app
        request = self._json(body)
        if not isinstance(request.get("value"), str):
            raise _Refused(400, _kv_error("BadParameter", "Property 'value' is required."))
        attributes = request.get("attributes") or {}
        with vault.lock:
            secret = vault.secrets.get(name.lower())
            if secret is not None and secret.deleted_at is not None:
                raise _Refused(409, _kv_error(
                    "Conflict",
                    f"Secret {secret.name} is currently in a deleted but recoverable state, and "
                    "its name cannot be reused; in this state, the secret can only be recovered "
                    "or purged.", "ObjectIsDeletedButRecoverable"))
            if secret is None:
                secret = vault.secrets[name.lower()] = Secret(name)
            version = Version(uuid.uuid4().hex, request["value"], request.get("contentType"),
                              request.get("tags"), bool(attributes.get("enabled", True)))
            secret.versions.append(version)
            return self._bundle(secret, version, value=True)

    def _update(self, name: str, version_id: str, body: bytes) -> dict[str, Any]:
        vault: KeyVault = self.app
        request = self._json(body)
        with vault.lock:
            secret = self._live(name)
            if secret is None:
                raise _Refused(404, _not_found(name, version_id or None))
            version = (next((v for v in secret.versions if v.id == version_id.lower()), None)
                       if version_id else secret.versions[-1])
            if version is None:
                raise _Refused(404, _not_found(name, version_id))
            attributes = request.get("attributes") or {}
            if "enabled" in attributes:
                version.enabled = bool(attributes["enabled"])
            if "contentType" in request:
                version.content_type = request["contentType"]
            if "tags" in request:
                version.tags = request["tags"]
            version.updated = int(time.time())
            return self._bundle(secret, version, value=False)

    def _deleted_bundle(self, secret: Secret) -> dict[str, Any]:
        vault: KeyVault = self.app
        answer = self._bundle(secret, secret.versions[-1], value=False)
        answer["id"] = f"{vault.url}/secrets/{quote(secret.name)}/{secret.versions[-1].id}"
        deleted = secret.deleted_at or int(time.time())
        answer.update({"recoveryId": f"{vault.url}/deletedsecrets/{quote(secret.name)}",
                       "deletedDate": deleted,
                       "scheduledPurgeDate": deleted + RETENTION_DAYS * 86400})
        return answer

    def _delete(self, name: str) -> dict[str, Any]:
        vault: KeyVault = self.app
        with vault.lock:
            secret = self._live(name)
            if secret is None:
                raise _Refused(404, _not_found(name))
            secret.deleted_at = int(time.time())
            return self._deleted_bundle(secret)

    def _deleted(self, name: str) -> Secret:
        vault: KeyVault = self.app
        secret = vault.secrets.get(name.lower())
        if secret is None or secret.deleted_at is None:
            raise _Refused(404, _kv_error("SecretNotFound", "Deleted Secret not found"))
        return secret

    def _purge(self, name: str) -> None:
        vault: KeyVault = self.app
        with vault.lock:
            self._deleted(name)
            del vault.secrets[name.lower()]

    def _recover(self, name: str) -> dict[str, Any]:
        vault: KeyVault = self.app
        with vault.lock:
            secret = self._deleted(name)
            secret.deleted_at = None
            return self._bundle(secret, secret.versions[-1], value=False)

    def _list(self, query: dict[str, str], name: str | None = None) -> dict[str, Any]:
        vault: KeyVault = self.app
        try:
            size = int(query.get("maxresults") or 25)
            skip = int(json.loads(base64.urlsafe_b64decode(
                query["$skiptoken"] + "==")).get("NextMarker", 0)) if "$skiptoken" in query else 0
        except (ValueError, KeyError):
            raise _Refused(400, _kv_error("BadParameter", "Invalid paging parameters.")) from None
        if not 1 <= size <= 25:
            raise _Refused(400, _kv_error(
                "BadParameter", "The value of maxresults must be between 1 and 25."))
        with vault.lock:
            if name is None:
                secrets = sorted((s for s in vault.secrets.values() if s.deleted_at is None),
                                 key=lambda s: s.name.lower())
                items = [{"id": f"{vault.url}/secrets/{quote(s.name)}",
                          "attributes": self._attributes(s.versions[-1]),
                          **({"contentType": s.versions[-1].content_type}
                             if s.versions[-1].content_type else {})} for s in secrets]
            else:
                secret = self._live(name)
                if secret is None:
                    raise _Refused(404, _not_found(name))
                items = [{"id": f"{vault.url}/secrets/{quote(secret.name)}/{v.id}",
                          "attributes": self._attributes(v)} for v in secret.versions]
        page = items[skip:skip + size]
        next_link = None
        if skip + size < len(items):
            token = base64.urlsafe_b64encode(json.dumps(
                {"NextMarker": skip + size, "TargetLocation": 0}).encode()).decode().rstrip("=")
            where = "secrets" if name is None else f"secrets/{quote(name)}/versions"
            next_link = (f"{vault.url}/{where}?api-version={query['api-version']}"
                         f"&$skiptoken={token}&maxresults={size}")
        return {"value": page, "nextLink": next_link}
