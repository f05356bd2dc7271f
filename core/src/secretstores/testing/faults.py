"""Servers that misbehave on purpose, for provider tests over real sockets.

- :class:`BlackHole` accepts TCP connections and never answers: a store that
  hangs. Point a store's address at it to test timeouts and deadlines.
- :class:`FaultProxy` forwards HTTP/1.1 to a real server and can answer the
  next requests itself (a 503, a 429 with ``Retry-After``, a plain 404 page),
  or hold them without answering: transient failures, throttling and
  misconfigured addresses in front of the real thing.
- :func:`closed_port` gives a port nothing listens on: connections are refused.

Everything listens on 127.0.0.1 and stops with ``close()`` (or ``with``).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import attrs

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
               "content-length", "upgrade", "te", "trailer"}


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Server:
    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class BlackHole(_Server):
    """Accepts connections on 127.0.0.1 and never sends a byte back."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True,
                                        name="secretstores-blackhole")
        self._thread.start()

    def _accept(self) -> None:
        self._listener.settimeout(0.05)
        while not self._closed.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self._held.append(connection)  # kept open, never read, never answered

    def close(self) -> None:
        """Stop accepting and drop every held connection."""
        self._closed.set()
        self._thread.join(timeout=5)
        self._listener.close()
        for connection in self._held:
            connection.close()


@attrs.frozen
class Fault:
    """One canned answer: status, headers and body; ``hang`` holds the request instead;
    ``forward`` sends the request upstream first and then gives this answer instead."""

    status: int = 503
    body: bytes = b""
    headers: Mapping[str, str] = attrs.field(factory=dict)
    hang: bool = False
    forward: bool = False


class FaultProxy(_Server):
    """An HTTP/1.1 proxy in front of ``upstream`` that can answer the next requests itself.

    >>> proxy = FaultProxy("http://127.0.0.1:8200")          # doctest: +SKIP
    >>> proxy.fail_next(2, status=503)                       # doctest: +SKIP
    >>> proxy.fail_next(1, status=429, headers={"Retry-After": "1"})  # doctest: +SKIP

    ``requests`` counts every request seen, ``faults_served`` the canned answers given.
    ``on_request(method, path, headers, body)``, if given, sees every request first
    and may answer it itself by returning a :class:`Fault` (``forward=True`` on the
    fault: forward it, then replace the answer, as if the answer was lost).
    """

    def __init__(self, upstream: str,
                 on_request: Callable[[str, str, Mapping[str, str], bytes], Fault | None]
                 | None = None) -> None:
        self.on_request = on_request
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.requests = 0
        self.faults_served = 0
        self._faults: list[Fault] = []
        self._always: Fault | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.proxy = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.02}, daemon=True,
                                        name="secretstores-faultproxy")
        self._thread.start()
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def fail_next(self, count: int, *, status: int = 503, body: bytes = b"",
                  headers: Mapping[str, str] | None = None, hang: bool = False) -> None:
        """Answer the next ``count`` requests with ``status`` (or hold them, ``hang``)."""
        fault = Fault(status, body, dict(headers or {}), hang)
        with self._lock:
            self._faults.extend([fault] * count)

    def always(self, *, status: int = 503, body: bytes = b"",
               headers: Mapping[str, str] | None = None, hang: bool = False) -> None:
        """Answer every request from now on like this (until :meth:`heal`)."""
        with self._lock:
            self._always = Fault(status, body, dict(headers or {}), hang)

    def heal(self) -> None:
        """Forward every request again (held requests are answered with 503)."""
        with self._lock:
            self._faults.clear()
            self._always = None
            held, self._release = self._release, threading.Event()  # later hangs hold again
        held.set()

    def _next_fault(self) -> Fault | None:
        with self._lock:
            self.requests += 1
            if self._faults:
                self.faults_served += 1
                return self._faults.pop(0)
            if self._always is not None:
                self.faults_served += 1
                return self._always
        return None

    def close(self) -> None:
        """Stop serving: held requests are released and open connections closed."""
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)



class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        proxy: FaultProxy = self.server.proxy  # type: ignore[attr-defined]
        with proxy._lock:
            proxy._connections.add(self.connection)

    def finish(self) -> None:
        proxy: FaultProxy = self.server.proxy  # type: ignore[attr-defined]
        with proxy._lock:
            proxy._connections.discard(self.connection)
        super().finish()

    def _serve(self) -> None:
        proxy: FaultProxy = self.server.proxy  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault = None
        if proxy.on_request is not None:
            fault = proxy.on_request(self.command, self.path, dict(self.headers.items()), body)
        if fault is None:
            fault = proxy._next_fault()
        if fault is not None and fault.hang:
            proxy._release.wait()
            fault = Fault(503)
        if fault is None or fault.forward:
            status, headers, payload = self._forward(proxy, body)
        if fault is not None:
            status, headers, payload = fault.status, list(fault.headers.items()), fault.body
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

    def do_LIST(self) -> None:  # Vault's LIST verb
        self._serve()

    def _forward(self, proxy: FaultProxy, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(*proxy.upstream, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
            return response.status, kept, payload
        finally:
            connection.close()

    def log_message(self, format: str, *args: Any) -> None:
        pass
