"""Review findings: each test failed before its fix."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from infisical_fixtures import ENVIRONMENT, Project

from secretstores import Status
from secretstores.testing.faults import Fault, FaultProxy


@contextmanager
def broken_bodies() -> Iterator[dict[str, Any]]:
    """A server on 127.0.0.1 that answers every request with a 200 whose headers promise
    a body it never sends: it closes the connection after one byte."""
    listener = socket.create_server(("127.0.0.1", 0))
    state: dict[str, Any] = {"url": f"http://127.0.0.1:{listener.getsockname()[1]}",
                             "requests": 0}
    lock = threading.Lock()

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                with lock:
                    state["requests"] += 1
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   b"Content-Length: 1000\r\n\r\n{")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        listener.close()


def test_a_body_cut_short_is_transient_and_not_retried_by_the_sdk(
        project: Project, make_stores: Any) -> None:
    """The SDK retries ``ChunkedEncodingError``/``ConnectionError`` four times, sleeping
    1 to 8 s; those are raised while requests reads the body, after the transport's
    ``send`` returned. The one attempt must end by itself as the core's transient error."""
    with broken_bodies() as server:
        stores = make_stores(project.store(configuration={"siteUrl": server["url"]},
                                           retries=0, timeout=2, deadline=4))
        result = stores.fetch("inf", ["KEY"])["KEY"]
        requests_seen = server["requests"]
    assert result.status is Status.UNAVAILABLE
    assert f"cannot reach Infisical at {server['url']}" in result.message, result.message
    assert requests_seen == 1


def test_a_write_retried_after_its_answer_was_lost_changes_the_secret_once(
        project: Project, make_stores: Any) -> None:
    """Infisical has no idempotency token; the core retries a write with the same
    ``request_id``. A retry whose first attempt went through (only its answer was lost)
    must not write again (one more version holding the same value)."""
    project.seed("KEY", "first")
    lost: list[str] = []

    def lose_first_update(method: str, path: str, headers: Mapping[str, str],
                          body: bytes) -> Fault | None:
        if method == "PATCH" and not lost:
            lost.append(path)
            return Fault(503, b"upstream connect error", {"Content-Type": "text/plain"},
                         forward=True)  # applied upstream, the answer lost on the way
        return None

    front = FaultProxy(project.api.url, on_request=lose_first_update)
    try:
        stores = make_stores(project.store(configuration={"siteUrl": front.url},
                                           readOnly=False))
        stores.put("inf", "KEY", "second")
    finally:
        front.close()
    assert lost  # the first update's answer was lost, and the core retried the write
    secret = project.admin.secrets.get_secret_by_name(
        secret_name="KEY", environment_slug=ENVIRONMENT, secret_path="/",
        project_id=project.id)
    assert (secret.secretValue, secret.version) == ("second", 2)
