"""Finding and reading configuration files (JSON or TOML)."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from secretstores.errors import ConfigError

#: Looked for in the current directory when neither ``--config`` nor
#: ``$SECRETSTORES_CONFIG`` names a file.
DEFAULT_FILES = ("secretstores.toml", "secretstores.json")


def find_config_file(
    explicit: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Path | None:
    """Return the configuration file to use, or None to run with the defaults.

    The order is: ``explicit`` (``--config``), ``$SECRETSTORES_CONFIG``, then
    ``./secretstores.toml`` and ``./secretstores.json``. A file named explicitly
    or by the variable must exist.
    """
    environ = os.environ if environ is None else environ
    for named, origin in ((explicit, "--config"), (environ.get("SECRETSTORES_CONFIG"), None)):
        if named:
            path = Path(named)
            if not path.is_file():
                how = origin or "$SECRETSTORES_CONFIG"
                raise ConfigError([f"configuration file {path} (from {how}) does not exist"])
            return path
    base = cwd or Path.cwd()
    for name in DEFAULT_FILES:
        if (base / name).is_file():
            return base / name
    return None


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a JSON or TOML configuration file into a dict (syntax errors name the line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"cannot read {path}: {exc.strerror}"]) from None
    if path.suffix == ".toml":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{path}: TOML syntax error: {exc}"]) from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                [f"{path}:{exc.lineno}:{exc.colno}: JSON syntax error: {exc.msg}"]
            ) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the top level must be an object with a 'stores' list"])
    return data
