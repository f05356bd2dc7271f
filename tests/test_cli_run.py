"""``run`` as a supervisor, with real child processes: signals forwarded, the child's
status (128+N for a signal), env files merged in order, usage errors, secret values
masked in the child's output (streaming, split writes, binary), and ``--watch``."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from secretstores.cli.masking import CONCEALED, Masker

CANARY = "canary-run-Vb73-never-print"
CLI = [sys.executable, "-m", "secretstores.cli"]


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the command in a child process, as a user does."""
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, text=True,
                          env=os.environ.copy(), timeout=120)


def cli_bytes(*args: str) -> subprocess.CompletedProcess[bytes]:
    """Like :func:`cli`, output as bytes."""
    return subprocess.run([*CLI, *args], capture_output=True, env=os.environ.copy(),
                          timeout=120)


def wait_for(condition: Callable[[], bool], what: str, bound: float = 30.0) -> None:
    """Poll ``condition`` until true; fail after ``bound`` seconds (a generous bound,
    not a timing assertion)."""
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


class Wrapper:
    """``secretstores run ...`` in the background, its stdout collected as it comes."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, env=os.environ.copy())
        self.out = b""
        self.err = b""
        self._threads = [threading.Thread(target=self._collect, args=(name,), daemon=True)
                         for name in ("out", "err")]
        for thread in self._threads:
            thread.start()

    def _collect(self, name: str) -> None:
        stream = self.process.stdout if name == "out" else self.process.stderr
        assert stream is not None
        while chunk := os.read(stream.fileno(), 4096):
            setattr(self, name, getattr(self, name) + chunk)

    def wait_for(self, text: str) -> None:
        wait_for(lambda: text.encode() in self.out,
                 f"{text!r} in the output {self.out!r} (stderr {self.err!r})")

    def finish(self) -> int:
        code = self.process.wait(timeout=60)
        for thread in self._threads:
            thread.join(timeout=30)
        return code


def python_child(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


HANDLER = """
    import os, signal, sys, time
    def handle(number, frame):
        print("got", signal.Signals(number).name, flush=True)
        if number == signal.SIGTERM:
            sys.exit(5)
    for name in ("SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGTERM"):
        signal.signal(getattr(signal, name), handle)
    print("ready", os.getpid(), flush=True)
    while True:
        time.sleep(0.05)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_signals_are_forwarded_and_the_childs_exit_code_returned() -> None:
    wrapper = Wrapper("run", "--", *python_child(HANDLER))
    wrapper.wait_for("ready")
    child = int(wrapper.out.split(b"ready ")[1].split()[0])
    for name in ("SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2"):
        wrapper.process.send_signal(getattr(signal, name))
        wrapper.wait_for(f"got {name}")
    wrapper.process.send_signal(signal.SIGTERM)
    assert wrapper.finish() == 5  # the child's own exit code, after it handled TERM
    assert wrapper.out.count(b"got SIGTERM") == 1
    assert not alive(child)


def test_ctrl_c_on_a_terminal_reaches_the_child_once(tmp_path: Path) -> None:
    # The wrapper on a pseudo-terminal that is its controlling terminal: Ctrl-C makes the
    # terminal signal the whole foreground process group, the child included, so the
    # wrapper must not forward a second SIGINT. (Two SIGINTs close together are often
    # merged by the kernel, so the wrapper's --debug line is checked too.)
    master, slave = pty.openpty()
    wrapper = subprocess.Popen(
        [*CLI, "--debug", "run", "--no-masking", "--", *python_child(HANDLER)], stdin=slave,
        stdout=slave, stderr=slave, env=os.environ.copy(), start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    os.close(slave)
    screen = b""

    def seen(text: bytes) -> bool:
        nonlocal screen
        if select.select([master], [], [], 0.05)[0]:
            with contextlib.suppress(OSError):
                screen += os.read(master, 4096)
        return text in screen

    try:
        wait_for(lambda: seen(b"ready"), "the child ready")
        os.write(master, b"\x03")  # Ctrl-C
        wait_for(lambda: seen(b"got SIGINT"), "SIGINT from the terminal")
        wrapper.send_signal(signal.SIGTERM)  # after any forwarded duplicate of the SIGINT
        wait_for(lambda: seen(b"got SIGTERM"), "SIGTERM forwarded")
        assert wrapper.wait(timeout=60) == 5
    finally:
        os.close(master)
        if wrapper.poll() is None:
            wrapper.kill()
    assert screen.count(b"got SIGINT") == 1
    assert b"SIGINT came from the terminal: the child has it already" in screen
    assert b"forwarding SIGINT" not in screen and b"forwarding SIGTERM" in screen


def test_sigterm_to_the_wrapper_leaves_no_orphan() -> None:
    wrapper = Wrapper("run", "--", *python_child(
        "import os, time; print('ready', os.getpid(), flush=True); time.sleep(120)"))
    wrapper.wait_for("ready")
    child = int(wrapper.out.split(b"ready ")[1].split()[0])
    wrapper.process.send_signal(signal.SIGTERM)
    assert wrapper.finish() == 128 + signal.SIGTERM
    assert not alive(child)


@pytest.mark.parametrize(("name", "code"), [("TERM", 143), ("KILL", 137), ("INT", 130)])
def test_a_child_killed_by_a_signal_gives_128_plus_n(name: str, code: int) -> None:
    result = cli("run", "--", "sh", "-c", f"kill -{name} $$")
    assert result.returncode == code, result.stderr


def test_exit_codes_pass_through() -> None:
    assert cli("run", "--", "sh", "-c", "exit 42").returncode == 42
    missing = cli("run", "--", "no-such-program-x9")
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == [
        "secretstores: error: cannot run no-such-program-x9: No such file or directory"]


def test_env_files_are_merged_in_order(tmp_path: Path) -> None:
    cli("put", "local", "db_password", stdin=CANARY)
    first = tmp_path / "a.env"
    first.write_text("A=from-a\nB=from-a\nPW={{ secrets.local.db_password | length }}\n")
    second = tmp_path / "b.env"
    second.write_text("B=from-b\nC=from-b\n")
    script = "import os; print(os.environ['A'], os.environ['B'], os.environ['C'], " \
             "os.environ['PW'])"
    result = cli("run", "--env-file", str(first), "--env-file", str(second), "-e", "C=from-e",
                 "--", sys.executable, "-c", script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["from-a", "from-b", "from-e", str(len(CANARY))]


@pytest.mark.parametrize("bad", ["BAD", "1X=y", "=y"])
def test_a_malformed_env_option_is_a_usage_error(bad: str) -> None:
    result = cli("run", "-e", bad, "--", "true")
    assert result.returncode == 2
    assert "expected NAME=TEMPLATE" in result.stderr
    assert "Traceback" not in result.stderr


PRINTS_SECRETS = """
    import os, sys, time
    value = os.environ["TOKEN"]
    print("whole:", value, flush=True)
    sys.stderr.write("on stderr: " + value + "\\n"); sys.stderr.flush()
    half = len(value) // 2
    sys.stdout.write("split: " + value[:half]); sys.stdout.flush()
    time.sleep(0.3)  # the first half has surely been read on its own
    sys.stdout.write(value[half:] + " end\\n"); sys.stdout.flush()
    os.write(1, value[:3].encode()); os.write(1, value[3:].encode() + b"\\n")
    print("drilled:", os.environ["USER_PASSWORD"], flush=True)
"""


def test_secret_values_are_masked_in_stdout_and_stderr() -> None:
    cli("put", "local", "token", stdin=CANARY)
    cli("put", "local", "db", stdin=json.dumps({"user": "app", "password": CANARY + "-db"}))
    result = cli("run", "-e", "TOKEN={{ secrets.local.token }}",
                 "-e", "USER_PASSWORD={{ secrets.local.db.password }}",
                 "--", *python_child(PRINTS_SECRETS))
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert CANARY not in output
    concealed = CONCEALED.decode()
    assert result.stdout.splitlines() == [
        f"whole: {concealed}", f"split: {concealed} end", concealed, f"drilled: {concealed}"]
    assert result.stderr == f"on stderr: {concealed}\n"


def test_binary_output_passes_through_byte_exact(tmp_path: Path) -> None:
    cli("put", "local", "token", stdin=CANARY)
    blob = bytes(range(256)) * 2000 + b"\xff\xfe\x00" + CANARY[:5].encode()  # a prefix only
    source = tmp_path / "blob"
    source.write_bytes(blob)
    code = f"import sys; sys.stdout.buffer.write(open({str(source)!r}, 'rb').read())"
    result = cli_bytes("run", "-e", "TOKEN={{ secrets.local.token }}", "--",
                       sys.executable, "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout == blob
    # and the secret inside binary output is replaced, the bytes around it kept
    code = ("import os, sys; sys.stdout.buffer.write(b'\\x00\\xff' + "
            "os.environ['TOKEN'].encode() + b'\\x80\\x00')")
    result = cli_bytes("run", "-e", "TOKEN={{ secrets.local.token }}", "--",
                       sys.executable, "-c", code)
    assert result.stdout == b"\x00\xff" + CONCEALED + b"\x80\x00"


def test_masking_keeps_output_streaming(tmp_path: Path) -> None:
    cli("put", "local", "token", stdin=CANARY)
    go = tmp_path / "go"
    code = f"""
        import os, pathlib, time
        print("first line", flush=True)
        while not pathlib.Path({str(go)!r}).exists():  # the test saw the first line
            time.sleep(0.02)
        print("second", os.environ["TOKEN"], flush=True)
    """
    wrapper = Wrapper("run", "-e", "TOKEN={{ secrets.local.token }}", "--", *python_child(code))
    wrapper.wait_for("first line\n")
    go.touch()
    assert wrapper.finish() == 0
    assert wrapper.out == b"first line\nsecond " + CONCEALED + b"\n"


def test_no_masking_lets_values_through() -> None:
    cli("put", "local", "token", stdin=CANARY)
    result = cli("run", "--no-masking", "-e", "TOKEN={{ secrets.local.token }}", "--",
                 "sh", "-c", 'echo "$TOKEN"')
    assert result.stdout == CANARY + "\n"


@pytest.mark.parametrize("cut", range(len(CANARY) + 1))
def test_masker_masks_a_value_split_at_any_point(cut: int) -> None:
    masker = Masker([CANARY, CANARY[:10]])  # one value is a prefix of another
    stream = f"a {CANARY} b {CANARY[:10]} c {CANARY[:12]}".encode()
    for split in (cut, cut + 3, cut + 25):
        masked = masker.stream()
        out = masked.feed(stream[:split]) + masked.feed(stream[split:]) + masked.flush()
        assert out == b"a " + CONCEALED + b" b " + CONCEALED + b" c " + CONCEALED + \
            CANARY[10:12].encode()


def test_masker_byte_by_byte() -> None:
    masker = Masker(["abcabd", "cab"])
    stream = b"xxabcabcabdyy cab"
    masked = masker.stream()
    out = b"".join(masked.feed(bytes([b])) for b in stream) + masked.flush()
    assert out == masker.feed(stream)
    assert out == b"xxab" + CONCEALED + CONCEALED + b"dyy " + CONCEALED  # leftmost first
    assert b"abcabd" not in out and b"cab" not in out


WATCHED = """
    import os, signal, sys, time
    signal.signal(signal.SIGHUP, lambda n, f: print("hup", flush=True))
    print("start", len(os.environ["TOKEN"]), os.environ["TOKEN"], flush=True)
    while True:
        time.sleep(0.05)
"""


@pytest.mark.parametrize("mode", ["restart", "signal"])
def test_watch_restarts_or_signals_the_child_when_secrets_change(mode: str) -> None:
    cli("put", "local", "token", stdin="first-value")
    extra = ["--signal", "HUP"] if mode == "signal" else ["--restart"]
    wrapper = Wrapper("run", "--watch", "--interval", "1", *extra,
                      "-e", "TOKEN={{ secrets.local.token }}", "--", *python_child(WATCHED))
    wrapper.wait_for("start 11 <concealed by secretstores>\n")
    assert cli("put", "local", "token", stdin="a-longer-second-value").returncode == 0
    if mode == "restart":
        wrapper.wait_for("start 21 <concealed by secretstores>\n")  # new values masked too
    else:
        wrapper.wait_for("hup\n")
    wrapper.process.send_signal(signal.SIGTERM)
    assert wrapper.finish() == 128 + signal.SIGTERM
    assert b"value" not in wrapper.out + wrapper.err
    assert wrapper.out.count(b"start") == (2 if mode == "restart" else 1)
    assert b"secrets changed" in wrapper.err


def test_watch_keeps_the_child_while_the_environment_cannot_be_rendered() -> None:
    cli("put", "local", "token", stdin="first-value")
    wrapper = Wrapper("run", "--watch", "--interval", "1",
                      "-e", "TOKEN={{ secrets.local.token }}", "--", *python_child(WATCHED))
    wrapper.wait_for("start 11 ")
    assert cli("delete", "local", "token").returncode == 0
    wait_for(lambda: b"the child keeps running" in wrapper.err, "the failure reported")
    assert wrapper.process.poll() is None and wrapper.out.count(b"start") == 1
    cli("put", "local", "token", stdin="the-third-value")
    wrapper.wait_for("start 15 ")
    wrapper.process.send_signal(signal.SIGTERM)
    assert wrapper.finish() == 128 + signal.SIGTERM
    assert b"environment rendered again" in wrapper.err
    assert wrapper.err.count(b"the child keeps running") == 1
    assert b"value" not in wrapper.out + wrapper.err
