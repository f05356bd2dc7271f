"""A tiny Kubernetes API for Vault's kubernetes auth: the TokenReview endpoint over HTTPS.

Vault (here OpenBao) posts each login's JWT to
``POST /apis/authentication.k8s.io/v1/tokenreviews`` on ``kubernetes_host``
and trusts the answer. This server says ``authenticated: true`` with the
service account's user for the JWTs it issued, ``false`` for anything else.
Its certificate is self-signed (made with ``cryptography``) and given to
Vault as ``kubernetes_ca_cert``.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import ssl
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

REVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenReviewServer:
    """An HTTPS TokenReview endpoint on 127.0.0.1 that knows the JWTs it issued."""

    def __init__(self, workdir: Path) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secretstores-test-k8s")])
        now = datetime.datetime.now(datetime.UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.ca_pem = self.certificate.public_bytes(serialization.Encoding.PEM).decode()
        cert_file, key_file = workdir / "k8s.crt", workdir / "k8s.key"
        cert_file.write_text(self.ca_pem)
        key_file.write_bytes(self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        #: JWT -> (namespace, service account name, uid)
        self.accounts: dict[str, tuple[str, str, str]] = {}
        #: how many reviews answered "authenticated", by service account name
        self.reviews: dict[str, int] = {}
        self._lock = threading.Lock()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.host = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()

    def issue(self, account: str, namespace: str = "default") -> str:
        """A service-account JWT (RS256, signed by this server's key) it will accept."""
        uid = str(uuid.uuid4())
        header = {"alg": "RS256", "kid": "secretstores-test", "typ": "JWT"}
        claims = {
            "iss": "kubernetes/serviceaccount",
            "sub": f"system:serviceaccount:{namespace}:{account}",
            "kubernetes.io/serviceaccount/namespace": namespace,
            "kubernetes.io/serviceaccount/service-account.name": account,
            "kubernetes.io/serviceaccount/service-account.uid": uid,
            "kubernetes.io/serviceaccount/secret.name": f"{account}-token",
        }
        signing_input = (_b64url(json.dumps(header).encode()) + "."
                         + _b64url(json.dumps(claims).encode()))
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        jwt = f"{signing_input}.{_b64url(signature)}"
        with self._lock:
            self.accounts[jwt] = (namespace, account, uid)
        return jwt

    def revoke(self, jwt: str) -> None:
        """Stop accepting ``jwt`` (as if its service account were deleted)."""
        with self._lock:
            self.accounts.pop(jwt, None)

    def review(self, token: str) -> dict[str, Any]:
        """The TokenReview status for ``token``."""
        with self._lock:
            known = self.accounts.get(token)
            if known is not None:
                self.reviews[known[1]] = self.reviews.get(known[1], 0) + 1
        if known is None:
            return {"authenticated": False, "error": "invalid bearer token"}
        namespace, account, uid = known
        return {"authenticated": True, "user": {
            "username": f"system:serviceaccount:{namespace}:{account}", "uid": uid,
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self._read_body()
                body = json.loads(raw or b"{}")
                if self.path.split("?")[0] != REVIEW_PATH:
                    self._send(404, {"kind": "Status", "status": "Failure", "code": 404})
                    return
                token = (body.get("spec") or {}).get("token", "")
                self._send(201, {"apiVersion": "authentication.k8s.io/v1",
                                 "kind": "TokenReview", "spec": {},
                                 "status": server.review(token)})

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                    return self.rfile.read(int(self.headers.get("Content-Length") or 0))
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
