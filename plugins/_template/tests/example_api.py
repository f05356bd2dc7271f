"""A protocol-faithful local server of the Example Secrets API, for the plugin's tests.

Real sockets on 127.0.0.1: the plugin's client talks to it exactly as to the
real service. ``tokens`` maps each token to the namespaces it may use;
``deny`` lists secret names refused (403); ``fail_next`` makes the next
requests fail with 503, or 429 and ``Retry-After``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote


class ExampleApi:
    """The server and its state; ``close()`` stops it."""

    def __init__(self) -> None:
        self.secrets: dict[str, dict[str, str]] = {}
        self.tokens: dict[str, set[str]] = {}
        self.deny: set[str] = set()
        self.failures: list[tuple[int, dict[str, str]]] = []
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.api = self  # type: ignore[attr-defined]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_next(self, count: int, *, throttle: bool = False) -> None:
        with self.lock:
            failure = (429, {"Retry-After": "0"}) if throttle else (503, {})
            self.failures.extend([failure] * count)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, body: Any = None, headers: dict[str, str] | None = None
                ) -> None:
        payload = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _route(self) -> tuple[ExampleApi, str, str] | None:
        api: ExampleApi = self.server.api  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        self._body = self.rfile.read(length) if length else b""
        parts = self.path.split("/", 4)  # "", "v1", namespace, "secrets", name
        if len(parts) < 4 or parts[1] != "v1" or parts[3] != "secrets":
            self._answer(404, {"error": "no such route"})
            return None
        with api.lock:
            failure = api.failures.pop(0) if api.failures else None
        if failure is not None:
            self._answer(failure[0], {"error": "try again"}, failure[1])
            return None
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        namespace = parts[2]
        if token not in api.tokens:
            self._answer(401, {"error": "unknown token"})
            return None
        if namespace not in api.tokens[token]:
            self._answer(403, {"error": "namespace not allowed"})
            return None
        return api, namespace, unquote(parts[4]) if len(parts) > 4 else ""

    def do_GET(self) -> None:
        routed = self._route()
        if routed is None:
            return
        api, namespace, name = routed
        with api.lock:
            secrets = api.secrets.setdefault(namespace, {})
            if not name:
                return self._answer(200, {"names": sorted(secrets)})
            if name in api.deny:
                return self._answer(403, {"error": "denied"})
            if name not in secrets:
                return self._answer(404, {"error": "not found"})
            return self._answer(200, {"value": secrets[name]})

    def do_PUT(self) -> None:
        routed = self._route()
        if routed is None:
            return
        api, namespace, name = routed
        value = json.loads(self._body)["value"]
        with api.lock:
            api.secrets.setdefault(namespace, {})[name] = value
        self._answer(204)

    def do_DELETE(self) -> None:
        routed = self._route()
        if routed is None:
            return
        api, namespace, name = routed
        with api.lock:
            existed = api.secrets.setdefault(namespace, {}).pop(name, None) is not None
        self._answer(204 if existed else 404, None if existed else {"error": "not found"})

    def log_message(self, format: str, *args: Any) -> None:
        pass
