"""The CLI on a real terminal (a pseudo-terminal): hidden prompts and progress."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

CANARY = "canary-tty-Q9m4-never-echo"


class Terminal:
    """A child process on a pseudo-terminal, read and typed into like a person would."""

    def __init__(self, *args: str, cwd: Path | None = None) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "secretstores.cli", *args], stdin=slave, stdout=slave,
            stderr=slave, cwd=cwd, env=os.environ.copy(), close_fds=True)
        os.close(slave)
        self.screen = ""

    def read_until(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"never saw {text!r}; screen: {self.screen!r}"
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    self.screen += os.read(self.master, 4096).decode(errors="replace")
                except OSError:  # the child closed the terminal
                    break

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def finish(self) -> int:
        code = self.process.wait(60)
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if not ready:
                break
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.screen += chunk.decode(errors="replace")
        os.close(self.master)
        return code


def test_put_prompts_hidden_with_confirmation_and_never_echoes() -> None:
    terminal = Terminal("put", "local", "api_key")
    terminal.read_until("Value for local/api_key")
    terminal.type(CANARY + "\r")
    terminal.read_until("Repeat for confirmation")
    terminal.type(CANARY + "\r")
    assert terminal.finish() == 0
    assert CANARY not in terminal.screen  # typed twice, shown never
    assert "stored api_key in local" in terminal.screen
    got = subprocess.run([sys.executable, "-m", "secretstores.cli", "get", "local", "api_key"],
                         capture_output=True, text=True, check=True)
    assert got.stdout == CANARY + "\n"


def test_migrate_shows_progress_on_a_terminal(tmp_path: Path) -> None:
    config = tmp_path / "secretstores.toml"
    config.write_text(
        '[[stores]]\nname = "src"\ntype = "db"\n[stores.configuration]\n'
        f'url = "sqlite:///{tmp_path}/src.db"\n\n'
        '[[stores]]\nname = "dst"\ntype = "db"\n[stores.configuration]\n'
        f'url = "sqlite:///{tmp_path}/dst.db"\n')
    for name in ("one", "two"):
        subprocess.run([sys.executable, "-m", "secretstores.cli", "put", "src", name],
                       input=f"{CANARY}-{name}", text=True, check=True, cwd=tmp_path,
                       capture_output=True)
    terminal = Terminal("migrate", "--from", "src", "--to", "dst", cwd=tmp_path)
    assert terminal.finish() == 0
    assert "[2/2]" in terminal.screen
    assert "2 copied" in terminal.screen
    assert CANARY not in terminal.screen
