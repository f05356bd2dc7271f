"""A Vault front with a protocol-faithful ``auth/aws/login`` (IAM method), for OpenBao.

OpenBao has no aws auth method. This HTTP server stands in front of a real
OpenBao: it answers ``POST /v1/auth/<mount>/login`` as Vault's aws auth method
does for ``iam`` logins, and forwards every other request to OpenBao unchanged
(recording the ``X-Vault-Namespace`` header of each).

A login carries ``iam_http_request_method``, and base64 ``iam_request_url``,
``iam_request_body`` and ``iam_request_headers`` (a JSON map of header name to
values): a signed ``sts:GetCallerIdentity`` request. Like Vault, the front
checks the ``X-Vault-AWS-IAM-Server-ID`` header (present, equal to the
configured value, and covered by the signature), replays the request to its
configured STS endpoint (moto in server mode, which verifies the signature),
reads the caller's ARN from the answer, matches it against the role's bound
principal, and returns a Vault login answer with a real OpenBao token minted
with the root token.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import hvac

_LOGIN = re.compile(r"^/v1/auth/(?P<mount>[^?]+)/login$")
_HOP_BY_HOP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length"}


@attrs.define
class AwsRole:
    """A role of the aws auth method: who may log in, and what the token gets."""

    bound_iam_principal_arn: str
    policies: list[str]
    ttl: str = "60s"


class VaultFront:
    """An HTTP server on 127.0.0.1: aws iam login itself, everything else to OpenBao."""

    def __init__(self, bao_address: str, root_token: str, sts_endpoint: str,
                 mount: str = "aws", iam_server_id: str | None = None) -> None:
        self.bao = urlsplit(bao_address)
        self.root_token = root_token
        self.sts_endpoint = sts_endpoint.rstrip("/")
        self.mount = mount
        self.iam_server_id = iam_server_id
        self.roles: dict[str, AwsRole] = {}
        #: the X-Vault-Namespace header (or None) of each forwarded request
        self.namespaces: list[str | None] = []
        #: (method, path) of each forwarded request
        self.requests: list[tuple[str, str]] = []
        self.logins = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.address = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- the aws auth method ------------------------------------------------

    def login(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer an iam login as Vault does: (HTTP status, JSON body)."""
        role_name = payload.get("role")
        role = self.roles.get(str(role_name))
        if role is None:
            return 400, {"errors": [f"entry for role {role_name} not found"]}
        try:
            method = payload["iam_http_request_method"]
            url = base64.b64decode(payload["iam_request_url"]).decode()
            body = base64.b64decode(payload["iam_request_body"]).decode()
            raw_headers = json.loads(base64.b64decode(payload["iam_request_headers"]))
        except (KeyError, ValueError, TypeError) as exc:
            return 400, {"errors": [f"error parsing iam request: {exc}"]}
        if method != "POST":
            return 400, {"errors": ["invalid iam_http_request_method; only POST is supported"]}
        headers = {k: (v[0] if isinstance(v, list) else v) for k, v in raw_headers.items()}
        if parse_qs(body).get("Action") != ["GetCallerIdentity"]:
            return 400, {"errors": ["error parsing body: invalid request body"]}
        if self.iam_server_id is not None:
            problem = self._check_server_id(headers)
            if problem:
                return 400, {"errors": [f"error validating X-Vault-AWS-IAM-Server-ID header: "
                                        f"{problem}"]}
        status, answer = self._replay(urlsplit(url), body, headers)
        if status != 200:
            return 400, {"errors": [f"error making upstream request: received error code "
                                    f"{status} from STS: {answer}"]}
        arn = _caller_arn(answer)
        if arn != role.bound_iam_principal_arn:
            return 403, {"errors": ["permission denied"]}
        token = hvac.Client(url=self.bao.geturl(), token=self.root_token).auth.token.create(
            policies=role.policies, ttl=role.ttl, renewable=True, no_parent=True,
            meta={"role": str(role_name), "client_arn": arn})
        self.logins += 1
        return 200, {"request_id": "", "lease_id": "", "renewable": False,
                     "lease_duration": 0, "data": None, "warnings": None,
                     "auth": dict(token["auth"], metadata={"role": role_name, "client_arn": arn})}

    def _check_server_id(self, headers: dict[str, str]) -> str | None:
        lowered = {k.lower(): v for k, v in headers.items()}
        value = lowered.get("x-vault-aws-iam-server-id")
        if value is None:
            return "missing header \"X-Vault-AWS-IAM-Server-ID\""
        if value != self.iam_server_id:
            return f"expected \"{self.iam_server_id}\" but got \"{value}\""
        signed = re.search(r"SignedHeaders=([^,\s]+)", lowered.get("authorization", ""))
        if not signed or "x-vault-aws-iam-server-id" not in signed.group(1).split(";"):
            return "vault header wasn't signed"
        return None

    def _replay(self, url: Any, body: str, headers: dict[str, str]) -> tuple[int, str]:
        """Send the signed request to the configured STS endpoint, as Vault does."""
        endpoint = urlsplit(self.sts_endpoint)
        connection_class = (http.client.HTTPSConnection if endpoint.scheme == "https"
                            else http.client.HTTPConnection)
        connection = connection_class(endpoint.netloc, timeout=30)
        try:
            connection.putrequest("POST", url.path or "/", skip_host=True,
                                  skip_accept_encoding=True)
            for name, value in headers.items():
                if name.lower() != "content-length":
                    connection.putheader(name, value)
            data = body.encode()
            connection.putheader("Content-Length", str(len(data)))
            connection.endheaders(data)
            response = connection.getresponse()
            return response.status, response.read().decode(errors="replace")
        finally:
            connection.close()

    # -- the HTTP side --------------------------------------------------------

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        self.namespaces.append(handler.headers.get("X-Vault-Namespace"))
        self.requests.append((handler.command, handler.path))
        connection = http.client.HTTPConnection(self.bao.netloc, timeout=30)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
            connection.request(handler.command, handler.path, body=body or None, headers=headers)
            response = connection.getresponse()
            data = response.read()
            handler.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() not in _HOP_BY_HOP:
                    handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        finally:
            connection.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self) -> None:
                body = self._body()
                match = _LOGIN.match(self.path)
                if self.command in ("POST", "PUT") and match and match["mount"] == front.mount:
                    try:
                        status, payload = front.login(json.loads(body or b"{}"))
                    except ValueError:
                        status, payload = 400, {"errors": ["invalid JSON"]}
                    data = json.dumps(payload).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                front._forward(self, body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

            def do_LIST(self) -> None:
                self._handle()

        return Handler


def _caller_arn(xml_text: str) -> str | None:
    """The ``Arn`` of a GetCallerIdentityResponse."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError:
        return None
    for element in root.iter():
        if element.tag.endswith("Arn"):
            return element.text
    return None
