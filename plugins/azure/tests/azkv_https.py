"""HTTPS on 127.0.0.1 for the local Key Vault and Microsoft Entra ID servers.

:class:`TestCa` makes a certificate authority and a server certificate for
``127.0.0.1`` and ``localhost`` (written as PEM files: the CA bundle is what a
store's ``caCert`` names, so the SDKs trust the servers the normal way).
:class:`HttpsServer` serves a handler class over TLS with one thread per
connection (HTTP/1.1 keep-alive), the TLS handshake done in that thread.
"""

from __future__ import annotations

import contextlib
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
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


class TestCa:
    """A CA and a server certificate for 127.0.0.1, as PEM files in ``directory``.

    ``ca_path`` is the CA bundle to trust; ``cert_path`` and ``key_path`` the
    server's certificate and key.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = _name(f"secretstores-azure test CA {uuid.uuid4().hex[:8]}")
        ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
              .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(hours=1))
              .not_valid_after(now + datetime.timedelta(days=2))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(x509.KeyUsage(
                  digital_signature=True, key_cert_sign=True, crl_sign=True,
                  content_commitment=False, key_encipherment=False, data_encipherment=False,
                  key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
              .add_extension(ca_ski, critical=False)
              .sign(ca_key, hashes.SHA256()))
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca_name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.DNSName("localhost")]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                    ca_ski), critical=False)
                .sign(ca_key, hashes.SHA256()))
        self.ca_path = directory / "ca.pem"
        self.cert_path = directory / "server.pem"
        self.key_path = directory / "server.key"
        self.ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key_path.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))

    def server_context(self) -> ssl.SSLContext:
        """A TLS server context with the server certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler with JSON answers; ``server.app`` is the serving object."""

    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle keep-alive connection is dropped after this many seconds
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        try:
            if isinstance(self.connection, ssl.SSLSocket):
                self.connection.do_handshake()
        except (OSError, ssl.SSLError):
            self.close_connection = True
            self._failed_handshake = True
        else:
            self._failed_handshake = False

    def handle(self) -> None:
        if not self._failed_handshake:
            with contextlib.suppress(OSError, ssl.SSLError):
                super().handle()

    @property
    def app(self) -> Any:
        """The server object this handler serves (a Key Vault, a directory)."""
        return self.server.app  # type: ignore[attr-defined]

    def read_body(self) -> bytes:
        """The request's body (``Content-Length`` bytes)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def answer(self, status: int, body: Any = None, headers: dict[str, str] | None = None,
               *, raw: bytes | None = None, content_type: str = "application/json; charset=utf-8"
               ) -> None:
        """Send ``body`` as JSON (or ``raw`` bytes) with ``status`` and ``headers``."""
        payload = raw if raw is not None else (
            json.dumps(body).encode() if body is not None else b"")
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if payload or raw is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up mid-request are not the server's problem


class HttpsServer:
    """``handler`` served over TLS on 127.0.0.1 (``port``, ``url``) until :meth:`close`;
    over plain HTTP when ``ca`` is None (a host-local endpoint such as App Service's
    managed identity endpoint)."""

    def __init__(self, app: Any, handler: type[JsonHandler], ca: TestCa | None,
                 port: int = 0) -> None:
        self._server = _Server(("127.0.0.1", port), handler)
        self._server.app = app  # type: ignore[attr-defined]
        if ca is not None:
            self._server.socket = ca.server_context().wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False)
        self.port = int(self._server.server_address[1])
        self.url = f"{'https' if ca is not None else 'http'}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name=f"azkv-{type(app).__name__}")
        self._thread.start()

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


class _PageHandler(JsonHandler):
    def _page(self) -> None:
        self.read_body()
        self.answer(404, raw=b"<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>",
                    content_type="text/html")

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _page


class WebPage:
    """An HTTPS web server that answers every request with a 404 page: not a vault."""

    def __init__(self, ca: TestCa) -> None:
        self._server = HttpsServer(self, _PageHandler, ca)
        self.url = self._server.url

    def close(self) -> None:
        """Stop serving."""
        self._server.close()
