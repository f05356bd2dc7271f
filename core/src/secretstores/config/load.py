"""Finding and reading configuration files (JSON, TOML, or YAML with PyYAML installed).

The format follows the file's suffix: ``.toml`` is TOML, ``.yaml``/``.yml`` is
YAML (``pip install 'secretstores[yaml]'``), anything else is JSON.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from secretstores.errors import ConfigError

#: Looked for in the current directory when neither ``--config`` nor
#: ``$SECRETSTORES_CONFIG`` names a file; two of them at once is an error.
DEFAULT_FILES = ("secretstores.toml", "secretstores.json", "secretstores.yaml",
                 "secretstores.yml")

#: The suffixes of YAML files.
YAML_SUFFIXES = (".yaml", ".yml")


def find_config_file(
    explicit: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Path | None:
    """Return the configuration file to use, or None to run with the defaults.

    The order is: ``explicit`` (``--config``), ``$SECRETSTORES_CONFIG``, then one
    of :data:`DEFAULT_FILES` in ``cwd``. A file named explicitly or by the
    variable must exist; two default files at once are an error (which one was
    meant cannot be guessed).
    """
    environ = os.environ if environ is None else environ
    for named, origin in ((explicit, "--config"), (environ.get("SECRETSTORES_CONFIG"), None)):
        if named:
            path = Path(named)
            how = origin or "$SECRETSTORES_CONFIG"
            if not path.exists():
                raise ConfigError([f"configuration file {path} (from {how}) does not exist"])
            if path.is_dir():
                raise ConfigError([f"configuration file {path} (from {how}) is a directory"])
            return path
    base = cwd or Path.cwd()
    found = [base / name for name in DEFAULT_FILES if (base / name).is_file()]
    if len(found) > 1:
        names = " and ".join(path.name for path in found)
        raise ConfigError([f"{names} are both in {base}: keep one, or choose with --config "
                           "or $SECRETSTORES_CONFIG"])
    return found[0] if found else None


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a JSON, TOML or YAML configuration file into a dict.

    Every way a file can be unreadable is a :class:`ConfigError` naming the file
    (and the line, for syntax errors): empty, not UTF-8, nested too deeply, a
    number too long, a key given twice in one object.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"cannot read {path}: {exc.strerror or type(exc).__name__}"]) from None
    if not raw.strip():
        raise ConfigError([f"{path} is empty: a configuration is an object with a 'stores' "
                           'list (for none, write {"stores": []})'])
    problem: str | None = None
    data: Any = None
    try:
        text = raw.decode("utf-8-sig")
        suffix = path.suffix.lower()
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix in YAML_SUFFIXES:
            data = _load_yaml(text, path)
        else:
            data = _load_json(text, path)
    except UnicodeDecodeError as exc:
        problem = f"{path}: not UTF-8 text (byte {exc.start})"
    except tomllib.TOMLDecodeError as exc:
        problem = f"{path}: TOML syntax error: {exc}"
    except json.JSONDecodeError as exc:
        problem = f"{path}:{exc.lineno}:{exc.colno}: JSON syntax error: {exc.msg}"
        if path.suffix.lower() != ".json":
            problem += (" (a file whose name does not end in .toml, .yaml or .yml is read "
                        "as JSON)")
    except _YamlError as exc:
        problem = f"{path}{exc.where}: YAML syntax error: {exc.reason}"
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


class _YamlError(ValueError):
    """A YAML document that cannot be read: where (``:line:column``) and why."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(reason)
        self.where = where
        self.reason = reason


def _load_yaml(text: str, path: Path) -> Any:
    """Parse YAML with PyYAML's safe loader, refusing a key given twice in one mapping
    (YAML parsers keep the last, silently), as JSON files do."""
    try:
        import yaml
    except ImportError:
        raise ConfigError([f"{path}: reading a YAML configuration needs PyYAML: pip install "
                           "'secretstores[yaml]' (or write the file as JSON or TOML)"]) from None

    class UniqueKeyLoader(yaml.SafeLoader):  # type: ignore[misc]
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    mark = key_node.start_mark
                    raise _YamlError(f":{mark.line + 1}:{mark.column + 1}",
                                     f"the key '{key}' appears twice in one mapping")
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise _YamlError(where, exc.problem or "invalid YAML") from None
    except yaml.YAMLError as exc:
        raise _YamlError("", type(exc).__name__) from None
