"""``render -o``: the atomic writer (a concurrent reader never sees a partial file),
the mode enforced on an existing file, symbolic links refused."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from secretstores.cli.files import parse_mode, write_atomic
from secretstores.errors import SecretStoresError

CANARY = "canary-render-Zq81-never-print"


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the command in a child process, as a user does."""
    return subprocess.run([sys.executable, "-m", "secretstores.cli", *args], input=stdin,
                          capture_output=True, text=True, env=os.environ.copy(), timeout=120)


class Reader(threading.Thread):
    """Reads ``path`` over and over until stopped; records every distinct content seen."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.seen: set[bytes] = set()
        self.reads = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.seen.add(self.path.read_bytes())
                self.reads += 1
            except FileNotFoundError:  # never: the name is replaced, not removed
                self.seen.add(b"<missing>")


def test_atomic_writer_never_shows_a_partial_file(tmp_path: Path) -> None:
    out = tmp_path / "out.conf"
    versions = [bytes([65 + n]) * 600_000 for n in range(3)]  # big: many write() calls
    write_atomic(str(out), versions[0])
    reader = Reader(out)
    reader.start()
    try:
        for n in range(60):
            write_atomic(str(out), versions[n % 3])
    finally:
        reader.stop.set()
        reader.join()
    assert reader.reads > 0
    assert reader.seen <= set(versions), "a reader saw a partial, empty or missing file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.conf"]  # no temporary left
    assert out.stat().st_mode & 0o777 == 0o600


def test_atomic_writer_sets_the_mode_exactly(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.write_text("old")
    out.chmod(0o644)
    old_umask = os.umask(0o077)
    try:
        write_atomic(str(out), b"new", 0o640)  # the umask would make it 0600
    finally:
        os.umask(old_umask)
    assert out.read_bytes() == b"new"
    assert out.stat().st_mode & 0o777 == 0o640


def test_atomic_writer_refuses_links_and_non_files(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("keep")
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(SecretStoresError, match="symbolic link"):
        write_atomic(str(link), b"x")
    with pytest.raises(SecretStoresError, match="not a regular file"):
        write_atomic(str(tmp_path), b"x")
    assert target.read_text() == "keep" and link.is_symlink()
    with pytest.raises(SecretStoresError, match="cannot write"):
        write_atomic(str(tmp_path / "no-such-dir" / "out"), b"x")


def test_parse_mode() -> None:
    assert parse_mode("0640") == parse_mode("640") == parse_mode("0o640") == 0o640
    for bad in ("", "9", "0o1777", "rw-"):
        with pytest.raises(ValueError):
            parse_mode(bad)


def test_render_o_enforces_the_mode_on_an_existing_file(tmp_path: Path) -> None:
    assert cli("put", "local", "k", stdin=CANARY).returncode == 0
    template = tmp_path / "t.j2"
    template.write_text("key={{ secrets.local.k }}\n")
    out = tmp_path / "out.env"
    out.write_text("old\n")
    out.chmod(0o644)
    result = cli("render", str(template), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_text() == f"key={CANARY}\n"
    assert out.stat().st_mode & 0o777 == 0o600
    result = cli("render", str(template), "-o", str(out), "--perms", "0640")
    assert result.returncode == 0, result.stderr
    assert out.stat().st_mode & 0o777 == 0o640
    assert CANARY not in result.stdout + result.stderr


def test_render_o_never_writes_through_a_symlink(tmp_path: Path) -> None:
    cli("put", "local", "k", stdin=CANARY)
    template = tmp_path / "t.j2"
    template.write_text("key={{ secrets.local.k }}")
    victim = tmp_path / "victim"
    victim.write_text("precious")
    link = tmp_path / "out"
    link.symlink_to(victim)
    result = cli("render", str(template), "-o", str(link))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"secretstores: error: cannot write {link}: it is a symbolic link (secretstores never "
        "writes through one; give the link's target)"]
    assert victim.read_text() == "precious" and link.is_symlink()


def test_render_o_while_a_reader_reads(tmp_path: Path) -> None:
    cli("put", "local", "k", stdin=CANARY)
    template = tmp_path / "t.j2"
    # a large output: the old writer truncated, then wrote in pieces
    template.write_text("{% for i in range(20000) %}{{ secrets.local.k }}\n{% endfor %}")
    out = tmp_path / "out"
    assert cli("render", str(template), "-o", str(out)).returncode == 0
    whole = out.read_bytes()
    reader = Reader(out)
    reader.start()
    try:
        for _ in range(3):
            result = cli("render", str(template), "-o", str(out))
            assert result.returncode == 0, result.stderr
    finally:
        reader.stop.set()
        reader.join()
    assert reader.seen == {whole}


def test_render_usage_errors(tmp_path: Path) -> None:
    template = tmp_path / "t.j2"
    template.write_text("x")
    for args in (("--perms", "999", str(template)), (str(template), str(template)),
                 ("--interval", "5", str(template))):
        result = cli("render", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
