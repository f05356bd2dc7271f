"""The ``manager`` store, chosen by ``<PREFIX>_SECRETS_MANAGER`` (seed: Secrets Management).

``DB`` (the default) makes ``manager`` the database store ``local`` uses.
Any other value (``VAULT``) is answered by a plugin's
``secretstores_manager_from_env`` hook; the store it defines is read-write
unless the definition says otherwise (the document's manager writes secrets).
When that plugin reports missing variables, the manager falls back to the
database with a logged warning, as the seed document says, unless strict mode
(``<PREFIX>_SECRETS_MANAGER_STRICT`` set to ``1``/``true``, or ``strict=True``)
asks to refuse instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from secretstores.errors import ConfigError, PluginNotInstalledError

if TYPE_CHECKING:
    from secretstores.plugins import Plugins

logger = logging.getLogger(__name__)

_TRUE = {"1", "true", "yes", "on"}


def manager_definition(
    prefix: str,
    environ: Mapping[str, str],
    plugins: Plugins,
    *,
    local: dict[str, Any],
    strict: bool | None = None,
) -> dict[str, Any]:
    """Return the store definition (type and configuration) of the ``manager`` store."""
    from secretstores.plugins import KNOWN_MANAGERS

    prefix = prefix.rstrip("_")
    variable = f"{prefix}_SECRETS_MANAGER"
    if strict is None:
        strict = environ.get(f"{variable}_STRICT", "").strip().lower() in _TRUE
    chosen = environ.get(variable, "DB").strip().upper() or "DB"
    if chosen == "DB":
        return local
    try:
        definition = plugins.hook.secretstores_manager_from_env(
            manager=chosen, prefix=prefix, environ=environ
        )
    except ConfigError as exc:
        if strict:
            raise ConfigError(
                [f"{variable}={chosen}: {p}" for p in exc.problems]
                + [f"strict mode ({variable}_STRICT) refuses to fall back to database storage"]
            ) from None
        logger.warning(
            "%s=%s but its configuration is incomplete (%s); falling back to database storage",
            variable, chosen, "; ".join(exc.problems),
        )
        return local
    if definition is not None:
        definition = dict(definition)
        # The platform document's manager is read-write: so is the store it makes,
        # when its type can write.
        declared = plugins.store_types().get(str(definition.get("type")))
        if declared is not None and declared[0].writable:
            definition.setdefault("readOnly", False)
        return definition
    if chosen in KNOWN_MANAGERS:
        problem = (f"{variable}={chosen} needs a plugin that is not installed or not loaded: "
                   f"pip install {KNOWN_MANAGERS[chosen]}")
        if strict:
            raise PluginNotInstalledError([problem])
        logger.warning("%s; falling back to database storage", problem)
        return local
    known = ", ".join(["DB", *sorted(KNOWN_MANAGERS)])
    raise ConfigError(
        [f"{variable}: unknown secrets manager '{chosen}' (expected one of: {known})"]
    )
