"""End to end: ``secretstores render --watch`` on two templates against a real OpenBao.

A secret rotated with hvac shows in both outputs, each rewritten atomically (readers
never see a partial file) and each ``--on-change`` command run exactly once per
change. A real network outage (a TCP proxy between the watcher and OpenBao, stopped
and started again: the dev server keeps its data in memory, so it cannot be
restarted itself) leaves the outputs in place and the watcher running; when the
proxy is back the watcher resumes by itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from vaulttest_bao import BaoServer, free_port

CANARY = "canary-watch-bao-Kd93"


def wait_for(condition: Callable[[], bool], what: str, bound: float = 30.0) -> None:
    """Poll ``condition`` until true; fail after ``bound`` seconds (a generous bound)."""
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


class Proxy:
    """A TCP proxy on a fixed port of 127.0.0.1 to ``target``; :meth:`stop` refuses new
    connections and cuts the open ones, :meth:`start` listens again on the same port."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        """Listen (again) and forward."""
        self._listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)

    def stop(self) -> None:
        """Close the listener and every connection through it."""
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept()
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()


class Readers:
    """Threads reading files over and over, recording every content seen."""

    def __init__(self, *paths: Path) -> None:
        self.seen: dict[Path, set[bytes]] = {path: set() for path in paths}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._read, args=(path,), daemon=True)
                         for path in paths]
        for thread in self._threads:
            thread.start()

    def _read(self, path: Path) -> None:
        while not self._stop.is_set():
            try:
                self.seen[path].add(path.read_bytes())
            except FileNotFoundError:
                self.seen[path].add(b"<missing>")
            time.sleep(0.001)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_render_watch_against_openbao(bao: BaoServer, prefix: str, tmp_path: Path) -> None:
    root = bao.root()

    def rotate(version: int) -> None:
        root.secrets.kv.v2.create_or_update_secret(
            path=f"{prefix}/api", secret={"value": f"{CANARY}-api-{version}"})

    rotate(1)
    bao.seed(f"{prefix}/db", {"password": f"{CANARY}-db"})
    token = root.auth.token.create(policies=["app"], ttl="1h")["auth"]["client_token"]
    proxy = Proxy(bao.port)
    proxy.start()
    config = tmp_path / "secretstores.json"
    config.write_text(json.dumps({"defaultStores": False, "stores": [
        {"name": "v", "type": "hashicorp_vault", "timeout": 2, "deadline": 4, "retries": 1,
         "configuration": {"address": f"http://127.0.0.1:{proxy.port}", "token": token}}]}))
    (tmp_path / "a.j2").write_text(f"api={{{{ secrets.v.[{prefix}/api] }}}}\n")
    (tmp_path / "b.j2").write_text(f"key={{{{ secrets.v.[{prefix}/api] }}}}\n"
                                   f"db={{{{ secrets.v.[{prefix}/db].password }}}}\n")
    a_out, b_out = tmp_path / "a.conf", tmp_path / "b.conf"
    a_log, b_log = tmp_path / "a.changes", tmp_path / "b.changes"
    errors = tmp_path / "stderr"

    def a_text(version: int) -> bytes:
        return f"api={CANARY}-api-{version}\n".encode()

    def b_text(version: int) -> bytes:
        return f"key={CANARY}-api-{version}\ndb={CANARY}-db\n".encode()

    with open(errors, "wb") as stderr:
        watcher = subprocess.Popen(
            [sys.executable, "-m", "secretstores.cli", "--config", str(config), "render",
             "--watch", "--interval", "1",
             f"{tmp_path}/a.j2:{a_out}:echo changed >> {a_log}",
             f"{tmp_path}/b.j2:{b_out}:echo changed >> {b_log}"],
            stdout=subprocess.DEVNULL, stderr=stderr, env=os.environ.copy())
    readers: Readers | None = None
    try:
        wait_for(lambda: lines(a_log) == lines(b_log) == ["changed"], "the first renders")
        assert a_out.read_bytes() == a_text(1) and b_out.read_bytes() == b_text(1)
        assert a_out.stat().st_mode & 0o777 == b_out.stat().st_mode & 0o777 == 0o600
        readers = Readers(a_out, b_out)

        rotate(2)
        wait_for(lambda: a_out.read_bytes() == a_text(2) and b_out.read_bytes() == b_text(2),
                 "both outputs rewritten with the rotated secret")
        wait_for(lambda: len(lines(a_log)) == len(lines(b_log)) == 2, "the on-change commands")

        proxy.stop()  # OpenBao unreachable
        wait_for(lambda: errors.read_text().count("keeping") == 2, "the outage reported")
        rotate(3)  # meanwhile, behind the outage
        assert a_out.read_bytes() == a_text(2) and b_out.read_bytes() == b_text(2)
        assert watcher.poll() is None, "the watcher died in the outage"

        proxy.start()
        wait_for(lambda: a_out.read_bytes() == a_text(3) and b_out.read_bytes() == b_text(3),
                 "the watcher resumed after the outage")
        wait_for(lambda: len(lines(a_log)) == len(lines(b_log)) == 3, "the on-change commands")
        assert errors.read_text().count("rendered again") == 2
    finally:
        if readers is not None:
            readers.stop()
        watcher.send_signal(signal.SIGTERM)
        code = watcher.wait(timeout=60)
        proxy.stop()
    assert code == 0
    # exactly once per change: polls that found nothing new ran nothing
    assert lines(a_log) == lines(b_log) == ["changed"] * 3
    # readers saw each version whole, and nothing else (no partial, empty or missing file)
    assert readers.seen[a_out] == {a_text(1), a_text(2), a_text(3)}
    assert readers.seen[b_out] == {b_text(1), b_text(2), b_text(3)}
    assert CANARY not in errors.read_text()
