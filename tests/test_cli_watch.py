"""``render --watch`` / ``--once`` with TEMPLATE:OUT pairs against the built-in store:
outputs rewritten when a secret changes (and only then), on-change commands run once
per change, the last good output kept while a render fails, a clean stop on SIGTERM.
The end-to-end test against a real OpenBao is plugins/vault/tests/test_watch.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

CANARY = "canary-watch-Hh52-never-print"
CLI = [sys.executable, "-m", "secretstores.cli"]


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the command in a child process, as a user does."""
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, text=True,
                          env=os.environ.copy(), timeout=120)


def wait_for(condition: Callable[[], bool], what: str, bound: float = 30.0) -> None:
    """Poll ``condition`` until true; fail after ``bound`` seconds (a generous bound)."""
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_once_writes_pairs_and_runs_on_change_only_when_changed(tmp_path: Path) -> None:
    cli("put", "local", "k", stdin=CANARY)
    (tmp_path / "a.j2").write_text("a={{ secrets.local.k }}\n")
    (tmp_path / "b.j2").write_text("b={{ secrets.local.k | length }}\n")
    log = tmp_path / "changes"
    pairs = [f"{tmp_path}/a.j2:{tmp_path}/a.out:echo a >> {log}",
             f"{tmp_path}/b.j2:{tmp_path}/b.out"]
    result = cli("render", "--once", "--on-change", f"echo b >> {log}", *pairs)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "a.out").read_text() == f"a={CANARY}\n"
    assert (tmp_path / "b.out").read_text() == f"b={len(CANARY)}\n"
    assert (tmp_path / "a.out").stat().st_mode & 0o777 == 0o600
    assert sorted(lines(log)) == ["a", "b"]
    assert CANARY not in result.stdout + result.stderr
    # nothing changed: nothing written, nothing run
    before = (tmp_path / "a.out").stat().st_ino
    assert cli("render", "--once", "--on-change", f"echo b >> {log}", *pairs).returncode == 0
    assert sorted(lines(log)) == ["a", "b"]
    assert (tmp_path / "a.out").stat().st_ino == before
    # the secret changes to one of the same length: only a.out changes
    cli("put", "local", "k", stdin=CANARY[::-1])
    assert cli("render", "--once", "--on-change", f"echo b >> {log}", *pairs).returncode == 0
    assert (tmp_path / "a.out").read_text() == f"a={CANARY[::-1]}\n"
    assert sorted(lines(log)) == ["a", "a", "b"]


def test_watch_config_file(tmp_path: Path) -> None:
    cli("put", "local", "k", stdin=CANARY)
    (tmp_path / "app.j2").write_text("token={{ secrets.local.k }}\n")
    (tmp_path / "watch.toml").write_text(
        'interval = 5\n'
        '[[template]]\nsource = "app.j2"\ndestination = "app.conf"\nperms = "0640"\n'
        'on_change = "echo reloaded > reloaded"\n')
    result = cli("render", "--once", "--watch-config", str(tmp_path / "watch.toml"))
    assert result.returncode == 0, result.stderr
    out = tmp_path / "app.conf"  # relative to the file's directory
    assert out.read_text() == f"token={CANARY}\n"
    assert out.stat().st_mode & 0o777 == 0o640
    assert (Path.cwd() / "reloaded").read_text() == "reloaded\n"
    (tmp_path / "bad.toml").write_text('[[template]]\nsource = "x"\nperms = "rw"\nfoo = 1\n')
    bad = cli("render", "--once", "--watch-config", str(tmp_path / "bad.toml"))
    assert bad.returncode == 1
    assert len(bad.stderr.splitlines()) == 1
    for problem in ("unknown field 'foo'", "destination must be a path", "perms"):
        assert problem in bad.stderr


def test_once_fails_with_one_line_and_keeps_the_file(tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text("{{ secrets.local.absent }}")
    out = tmp_path / "out"
    out.write_text("last good")
    result = cli("render", "--once", f"{tmp_path}/t.j2:{out}")
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1 and "absent" in result.stderr
    assert out.read_text() == "last good"


@pytest.mark.parametrize("args", [
    ("--watch", "t.j2"),                      # not a pair
    ("--watch", "t.j2:o", "-o", "x"),          # -o with pairs
    ("--watch", "t.j2:o", "t.j2:o"),           # one file twice
    ("--watch",),                              # nothing
    ("--watch", "--interval", "0.1", "t.j2:o"),  # hammering
])
def test_watch_usage_errors(args: tuple[str, ...]) -> None:
    result = cli("render", *args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr


def test_watch_follows_changes_survives_failures_and_stops_on_sigterm(tmp_path: Path) -> None:
    cli("put", "local", "k", stdin="value-1")
    (tmp_path / "t.j2").write_text("k={{ secrets.local.k }}\n")
    out, log, errors = tmp_path / "out", tmp_path / "changes", tmp_path / "stderr"
    with open(errors, "wb") as stderr:
        watcher = subprocess.Popen(
            [*CLI, "render", "--watch", "--interval", "1",
             f"{tmp_path}/t.j2:{out}:echo changed >> {log}"],
            stderr=stderr, stdout=subprocess.DEVNULL, env=os.environ.copy())
    try:
        wait_for(lambda: lines(log) == ["changed"], "the first render")
        assert out.read_text() == "k=value-1\n"
        cli("put", "local", "k", stdin=CANARY)
        wait_for(lambda: out.read_text() == f"k={CANARY}\n", "the rotated value written")
        wait_for(lambda: len(lines(log)) == 2, "the second on-change")
        # the secret goes away: the last good output stays, the watcher says so once
        assert cli("delete", "local", "k").returncode == 0
        wait_for(lambda: "keeping" in errors.read_text(), "the failure reported")
        assert out.read_text() == f"k={CANARY}\n"
        assert watcher.poll() is None
        cli("put", "local", "k", stdin="value-3")
        wait_for(lambda: out.read_text() == "k=value-3\n", "recovery")
        wait_for(lambda: len(lines(log)) == 3, "the third on-change")
        assert "rendered again" in errors.read_text()
    finally:
        watcher.send_signal(signal.SIGTERM)
        code = watcher.wait(timeout=60)
    assert code == 0
    assert lines(log) == ["changed"] * 3  # once per change, never for an unchanged poll
    text = errors.read_text()
    assert text.count("keeping") == 1 and text.rstrip().endswith("secretstores: stopped")
    assert CANARY not in text and "value-3" not in text
