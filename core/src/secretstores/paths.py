"""Where secretstores keeps its files: data (database, keys) and cache directories.

``SECRETSTORES_HOME`` puts everything under one directory (``data/`` and
``cache/``); otherwise the XDG base directories are used
(``$XDG_DATA_HOME/secretstores``, ``$XDG_CACHE_HOME/secretstores``).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

logger = logging.getLogger("secretstores")


def _home(kind: str, xdg: str, fallback: str) -> Path:
    root = os.environ.get("SECRETSTORES_HOME")
    if root:
        return Path(root).expanduser() / kind
    base = os.environ.get(xdg) or str(Path.home() / fallback)
    return Path(base).expanduser() / "secretstores"


def data_dir() -> Path:
    """The directory of the default SQLite database and of the key files."""
    return _home("data", "XDG_DATA_HOME", ".local/share")


def cache_dir() -> Path:
    """The directory of the encrypted cache (kept apart from the key files)."""
    return _home("cache", "XDG_CACHE_HOME", ".cache")


def _ours(path: Path) -> bool:
    """Whether ``path`` is one of secretstores' own directories (the data or cache
    directory, or inside one), not a directory the user named in a configuration."""
    path = Path(os.path.abspath(path))
    for root in (data_dir(), cache_dir()):
        root = Path(os.path.abspath(root))
        if path == root or root in path.parents:
            return True
    return False


def private_dir(path: Path, *, ours: bool | None = None) -> Path:
    """Create ``path`` (and parents) if needed, readable by its owner only.

    secretstores' own directories (``ours``; by default: the data and cache
    directories and what is inside them) are made 0700 when they are not. A
    directory the user named (a configured SQLite file's, a key file's) is created
    0700 when missing and otherwise left as it is: its mode is the user's choice
    (a ``/tmp`` keeps its sticky bit), and the files put in it are 0600.
    """
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if (_ours(path) if ours is None else ours) and path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def cache_location(directory: Path) -> Path:
    """Where the disk tier lives for a configured cache ``directory``: the directory
    itself when it is private to this user (or missing: it is then created 0700),
    else a private subdirectory ``secretstores-<uid>`` in it (never a chmod of a
    directory the user named)."""
    if _ours(directory):
        return directory
    try:
        info = directory.stat()
    except OSError:
        return directory
    if stat.S_IMODE(info.st_mode) & 0o077 or info.st_uid != os.getuid():
        return directory / f"secretstores-{os.getuid()}"
    return directory


def private_file(path: Path, what: str) -> bool:
    """Make an existing file readable by its owner only; True when it was not.

    A file that was readable or writable by others is tightened to 0600 with a
    warning (what it held may have been copied); one that cannot be changed (a
    read-only mount) is left with a warning saying so.
    """
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & 0o077:
        return False
    try:
        path.chmod(0o600)
    except OSError as exc:
        logger.warning("%s %s is readable by other users (mode %04o) and cannot be made "
                       "private (%s)", what, path, mode, exc.strerror or type(exc).__name__)
    else:
        logger.warning("%s %s was readable by other users (mode %04o); it is now 0600, but "
                       "what it held may have been copied", what, path, mode)
    return True
