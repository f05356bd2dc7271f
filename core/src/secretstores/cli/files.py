"""Files the commands read and write: templates (UTF-8, '-' for stdin) and rendered
output, which holds secrets: written atomically, readable by its owner only (or the
mode asked for), never through a symbolic link."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import sys

import click

from secretstores.errors import SecretStoresError

#: The mode of a rendered file unless ``--perms`` says otherwise.
DEFAULT_MODE = 0o600


def read_template(path: str) -> tuple[str, str]:
    """The text of template ``path`` ('-': stdin) and the name errors give it."""
    if path == "-":
        data, name = sys.stdin.buffer.read(), "<stdin>"
    else:
        try:
            with open(path, "rb") as handle:
                data, name = handle.read(), path
        except OSError as exc:
            raise SecretStoresError(f"cannot read template {path}: "
                                    f"{exc.strerror or type(exc).__name__}") from None
    try:
        return data.decode("utf-8"), name
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 text (byte {exc.start})"
    raise SecretStoresError(f"cannot read template {name}: {reason}")


def parse_mode(text: str) -> int:
    """A file mode written in octal (``0640``, ``640``, ``0o640``); ValueError otherwise."""
    digits = text.strip().lower().removeprefix("0o")
    if not digits or any(c not in "01234567" for c in digits):
        raise ValueError(f"{text!r} is not an octal file mode such as 0600")
    mode = int(digits, 8)
    if mode > 0o777:
        raise ValueError(f"{text!r}: only permission bits (at most 0777) can be set")
    return mode


def _existing(path: str) -> os.stat_result | None:
    """``lstat`` of ``path``, or None when nothing is there; refuse a link or a non-file."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        raise SecretStoresError(f"cannot write {path}: it is a symbolic link (secretstores "
                                "never writes through one; give the link's target)")
    if not stat.S_ISREG(info.st_mode):
        raise SecretStoresError(f"cannot write {path}: not a regular file")
    return info


def read_current(path: str) -> tuple[bytes, int] | None:
    """What ``path`` holds now and its permission bits, or None when it does not exist
    (or cannot be read: then it is rewritten)."""
    try:
        info = _existing(path)
    except SecretStoresError:
        return None
    if info is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read(), stat.S_IMODE(os.fstat(handle.fileno()).st_mode)


def write_atomic(path: str, data: bytes, mode: int = DEFAULT_MODE) -> None:
    """Replace ``path`` with ``data``, so that a reader sees the old or the new file whole.

    The data goes to a new temporary file in the same directory (created with
    ``mode`` exactly, whatever the umask, and the owner and group of the file it
    replaces where allowed), is flushed to disk, and is renamed over ``path``;
    then the directory is flushed. A symbolic link or anything but a regular
    file at ``path`` is refused. Raise :class:`SecretStoresError` (one line, no
    content) when it cannot be done; the temporary file never stays behind.
    """
    info = _existing(path)
    directory = os.path.dirname(path) or "."
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                     | os.O_CLOEXEC, mode)
    except OSError as exc:
        raise SecretStoresError(f"cannot write {path}: "
                                f"{exc.strerror or type(exc).__name__}") from None
    try:
        try:
            if info is not None:  # keep the file's owner and group (root writing for nginx)
                with contextlib.suppress(OSError):
                    os.fchown(fd, info.st_uid, info.st_gid)
            os.fchmod(fd, mode)  # after fchown, which may clear set-id bits; and the umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)  # replaces a name: never follows a link put there since
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise SecretStoresError(f"cannot write {path}: "
                                f"{exc.strerror or type(exc).__name__}") from None
    _sync_directory(directory)


def _sync_directory(directory: str) -> None:
    """Flush the rename to disk (where the system allows opening a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_output(text: str, output: str, mode: int = DEFAULT_MODE) -> None:
    """Write rendered ``text`` to ``output`` ('-': stdout), atomically, with ``mode``."""
    if output == "-":
        click.echo(text, nl=False)
        return
    write_atomic(output, text.encode("utf-8"), mode)
