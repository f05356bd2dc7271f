"""``${VAR}`` references to environment variables inside configuration values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PATTERN = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: Any, environ: Mapping[str, str], where: str, problems: list[str]) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of ``value``.

    ``$$`` stands for a literal ``$``. A variable that is unset and has no
    default adds a problem naming the variable and where it is used.
    """
    if isinstance(value, str):
        if "$" not in value:
            return value

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name, default = match.group(1), match.group(2)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            problems.append(f"{where}: environment variable {name} is not set")
            return ""

        return _PATTERN.sub(replace, value)
    if isinstance(value, dict):
        return {k: interpolate(v, environ, f"{where}.{k}", problems) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, environ, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    return value
