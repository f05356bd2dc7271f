"""Fixtures: moto in server mode on 127.0.0.1, a recording proxy in front of it, stores.

The proxy is the core's test FaultProxy, forwarding every request to moto,
with a hook that records which operation it was and which access key signed
it; it can also answer the next few requests itself with a real-shaped AWS
error (throttling, expired token). Nothing in boto3 or the plugin is mocked: every call crosses
real sockets.
"""

from __future__ import annotations

import http.client
import json
import threading
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import boto3
import pytest
from moto.server import ThreadedMotoServer

from secretstores.api import SecretStores
from secretstores.testing import one_store_stores
from secretstores.testing.faults import Fault, FaultProxy

REGION = "us-east-1"
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
STORE = "aws"


@attrs.frozen
class Recorded:
    """One request the proxy saw: the AWS operation and the access key that signed it."""

    operation: str
    access_key: str | None


@attrs.frozen
class Canned:
    """An error the proxy gives instead of AWS's answer, for one operation or any."""

    fault: Fault
    operation: str | None


def aws_error(code: str, message: str, status: int = 400) -> tuple[int, bytes]:
    """An error body shaped like Secrets Manager's (JSON 1.1 protocol)."""
    return status, json.dumps({"__type": code, "message": message}).encode()


class RecordingProxy:
    """A :class:`FaultProxy` in front of moto that records which AWS operation each
    request was and which access key signed it, and can answer the next ones with a
    real-shaped AWS error (throttling, expired token)."""

    def __init__(self, upstream: str) -> None:
        self.requests: list[Recorded] = []
        self._canned: list[Canned] = []
        self._lock = threading.Lock()
        self._proxy = FaultProxy(upstream, on_request=self._seen)
        self.url = self._proxy.url

    def fail_next(self, count: int, code: str, message: str, *, status: int = 400,
                  operation: str | None = None, forward: bool = False) -> None:
        """Answer the next ``count`` requests (of ``operation``, or any) with this error.

        With ``forward`` the request still reaches moto and only its answer is
        replaced: a response lost on the way back.
        """
        status, body = aws_error(code, message, status)
        fault = Fault(status, body, {"Content-Type": "application/x-amz-json-1.1",
                                     "x-amzn-RequestId": str(uuid.uuid4())}, forward=forward)
        with self._lock:
            self._canned.extend(Canned(fault, operation) for _ in range(count))

    def count(self, operation: str) -> int:
        """How many requests of ``operation`` the proxy has seen."""
        with self._lock:
            return sum(1 for r in self.requests if r.operation == operation)

    def operations(self) -> list[str]:
        """The operations seen, in order."""
        with self._lock:
            return [r.operation for r in self.requests]

    def reset(self) -> None:
        """Forget the recorded requests and any pending canned answers."""
        with self._lock:
            self.requests.clear()
            self._canned.clear()

    def _seen(self, method: str, path: str, headers: Mapping[str, str],
              body: bytes) -> Fault | None:
        recorded = Recorded(_operation(method, path, headers, body), _access_key(headers))
        with self._lock:
            self.requests.append(recorded)
            for i, canned in enumerate(self._canned):
                if canned.operation in (None, recorded.operation):
                    return self._canned.pop(i).fault
        return None

    def close(self) -> None:
        """Stop serving."""
        self._proxy.close()


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), "")


def _operation(method: str, path: str, headers: Mapping[str, str], body: bytes) -> str:
    target = _header(headers, "X-Amz-Target")
    if target:  # JSON protocol: "secretsmanager.GetSecretValue"
        return target.rpartition(".")[2]
    action = parse_qs(body.decode("utf-8", "replace")).get("Action")  # query protocol (STS)
    return action[0] if action else f"{method} {path}"


def _access_key(headers: Mapping[str, str]) -> str | None:
    authorization = _header(headers, "Authorization")
    marker = "Credential="
    if marker not in authorization:
        return None
    return authorization.split(marker, 1)[1].split("/", 1)[0]


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AWS setting of the machine running the tests may leak in; never ask IMDS."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto in server mode on a free port of 127.0.0.1, for the whole session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto(moto_url: str) -> str:
    """moto's URL, its state reset (``POST /moto-api/reset``) before the test."""
    connection = http.client.HTTPConnection(urlsplit(moto_url).netloc, timeout=10)
    try:
        connection.request("POST", "/moto-api/reset")
        assert connection.getresponse().status == 200
    finally:
        connection.close()
    return moto_url


@pytest.fixture
def proxy(moto: str) -> Iterator[RecordingProxy]:
    """A recording proxy in front of moto (fresh per test)."""
    server = RecordingProxy(moto)
    yield server
    server.close()


@pytest.fixture
def admin(moto: str) -> Any:
    """A boto3 Secrets Manager client talking to moto directly, for seeding and checking."""
    client = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
    ).client("secretsmanager", endpoint_url=moto)
    yield client
    client.close()


def configuration(endpoint: str, **extra: Any) -> dict[str, Any]:
    """A store configuration with static keys pointing at ``endpoint``."""
    return {"region": REGION, "accessKeyId": ACCESS_KEY, "secretAccessKey": SECRET_KEY,
            "endpointUrl": endpoint, **extra}


@pytest.fixture
def make_stores(tmp_path: Path) -> Iterator[Any]:
    """``make_stores(configuration, **store_options)`` -> SecretStores with one store ``aws``."""
    with one_store_stores(tmp_path, STORE, "aws_secrets_manager") as make:
        yield make


@pytest.fixture
def stores(make_stores: Any, proxy: RecordingProxy) -> SecretStores:
    """A store ``aws`` with static keys, reached through the recording proxy (read-only,
    as every store in the gateway document's shape)."""
    return make_stores(configuration(proxy.url))  # type: ignore[no-any-return]


@pytest.fixture
def writer(make_stores: Any, proxy: RecordingProxy) -> SecretStores:
    """The store ``aws`` allowed to write (``"readOnly": false``)."""
    return make_stores(configuration(proxy.url), readOnly=False)  # type: ignore[no-any-return]


@pytest.fixture
def store_config() -> Any:
    """The :func:`configuration` helper: static keys, region, ``endpointUrl``."""
    return configuration
