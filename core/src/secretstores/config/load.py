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
    """Read a JSON or TOML configuration file into a dict.

    Every way a file can be unreadable is a :class:`ConfigError` naming the file
    (and the line, for syntax errors): not UTF-8, nested too deeply, a number too
    long, a key given twice in one JSON object.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"cannot read {path}: {exc.strerror or type(exc).__name__}"]) from None
    problem: str | None = None
    data: Any = None
    try:
        text = raw.decode("utf-8-sig")
        data = tomllib.loads(text) if path.suffix == ".toml" else _load_json(text, path)
    except UnicodeDecodeError as exc:
        problem = f"{path}: not UTF-8 text (byte {exc.start})"
    except tomllib.TOMLDecodeError as exc:
        problem = f"{path}: TOML syntax error: {exc}"
    except json.JSONDecodeError as exc:
        problem = f"{path}:{exc.lineno}:{exc.colno}: JSON syntax error: {exc.msg}"
    except RecursionError:
        problem = f"{path}: the document nests too deeply"
    except ValueError as exc:  # a number of more than 4300 digits, a duplicate key
        problem = f"{path}: {exc}" if isinstance(exc, DuplicateKeyError) else \
            f"{path}: a number is too long"
    if problem is not None:
        raise ConfigError([problem])
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the top level must be an object with a 'stores' list"])
    return data


class DuplicateKeyError(ValueError):
    """A JSON object gives one key twice (JSON parsers keep the last, silently)."""


def _load_json(text: str, path: Path) -> Any:
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise DuplicateKeyError(f"the key '{key}' appears twice in one object")
            result[key] = value
        return result

    return json.loads(text, object_pairs_hook=unique)
