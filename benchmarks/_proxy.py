"""Local proxies that add latency to every request and count requests, for the benchmarks.

``HttpProxy`` forwards HTTP/1.1 requests (Vault, AWS) and sleeps ``delay``
seconds before each; ``TcpProxy`` forwards raw TCP (PostgreSQL) and sleeps
``delay`` before passing on each chunk the client sends (one per query round
trip). Both listen on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "content-length",
        "upgrade", "te", "trailer"}


class HttpProxy:
    """An HTTP reverse proxy that delays and counts every request."""

    def __init__(self, upstream: str, delay: float = 0.020) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.delay = delay
        self.count = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else delayed ACKs add ~40 ms per request

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                with proxy.lock:
                    proxy.count += 1
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                time.sleep(proxy.delay)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                response, data = self._upstream_request(body, headers)
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in _HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _upstream_request(self, body: bytes | None, headers: dict[str, str]
                                  ) -> tuple[http.client.HTTPResponse, bytes]:
                # one upstream connection per client connection, kept alive like it
                for attempt in (1, 2):
                    connection = getattr(self, "upstream", None)
                    if connection is None:
                        connection = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                        connection.connect()
                        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        self.upstream = connection
                    try:
                        connection.request(self.command, self.path, body=body, headers=headers)
                        response = connection.getresponse()
                        return response, response.read()
                    except (OSError, http.client.HTTPException):
                        connection.close()
                        self.upstream = None
                        if attempt == 2:
                            raise
                raise AssertionError("unreachable")

            def finish(self) -> None:
                super().finish()
                if getattr(self, "upstream", None) is not None:
                    self.upstream.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_LIST = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        with self.lock:
            self.count = 0

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class TcpProxy:
    """A TCP proxy that delays each chunk from the client and counts them."""

    def __init__(self, host: str, port: int, delay: float = 0.020) -> None:
        self.target = (host, port)
        self.delay = delay
        self.count = 0
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, delayed: bool) -> None:
        try:
            while data := source.recv(65536):
                if delayed:
                    with self.lock:
                        self.count += 1
                    time.sleep(self.delay)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def reset(self) -> None:
        with self.lock:
            self.count = 0

    def close(self) -> None:
        self.listener.close()


class ProxyProcess:
    """Runs proxies in a child process (so their CPU is not charged to the client).

    ``targets`` maps a name to ``http://host:port`` or ``tcp://host:port``; each
    proxy's address is in ``urls`` (HTTP) or ``ports``; :meth:`counts` and
    :meth:`reset` talk to the child's control endpoint.
    """

    def __init__(self, targets: dict[str, str], delay: float = 0.020) -> None:
        import json
        import subprocess
        import sys

        self.process = subprocess.Popen(
            [sys.executable, __file__, json.dumps(targets), str(delay)],
            stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        info = json.loads(self.process.stdout.readline())
        self.ports: dict[str, int] = info["ports"]
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}
        self.control = f"http://127.0.0.1:{info['control']}"

    def counts(self) -> dict[str, int]:
        import json
        import urllib.request

        with urllib.request.urlopen(f"{self.control}/counts") as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def total(self) -> int:
        return sum(self.counts().values())

    def reset(self) -> None:
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.control}/reset", method="POST"))

    def set_delay(self, seconds: float) -> None:
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.control}/delay/{seconds}",
                                                      method="POST"))

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def _serve(targets: dict[str, str], delay: float) -> None:
    import json

    proxies: dict[str, HttpProxy | TcpProxy] = {}
    for name, target in targets.items():
        if target.startswith("tcp://"):
            host, _, port = target.removeprefix("tcp://").partition(":")
            proxies[name] = TcpProxy(host, int(port), delay)
        else:
            proxies[name] = HttpProxy(target, delay)

    class Control(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._answer(json.dumps({n: p.count for n, p in proxies.items()}).encode())

        def do_POST(self) -> None:
            for proxy in proxies.values():
                if self.path.startswith("/delay/"):
                    proxy.delay = float(self.path.removeprefix("/delay/"))
                else:
                    proxy.reset()
            self._answer(b"{}")

    control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
    ports = {name: (p.port if isinstance(p, TcpProxy) else p.server.server_address[1])
             for name, p in proxies.items()}
    print(json.dumps({"ports": ports, "control": control.server_address[1]}), flush=True)
    control.serve_forever()


if __name__ == "__main__":
    import json
    import sys

    _serve(json.loads(sys.argv[1]), float(sys.argv[2]))
