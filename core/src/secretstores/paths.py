"""Where secretstores keeps its files: data (database, keys) and cache directories.

``SECRETSTORES_HOME`` puts everything under one directory (``data/`` and
``cache/``); otherwise the XDG base directories are used
(``$XDG_DATA_HOME/secretstores``, ``$XDG_CACHE_HOME/secretstores``).
"""

from __future__ import annotations

import os
from pathlib import Path


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


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and make it readable by its owner only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path
