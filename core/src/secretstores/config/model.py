"""The configuration model: stores, mappings, cache settings, and their validation."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from secretstores.config.fields import kind_of, structure
from secretstores.config.interpolate import interpolate
from secretstores.errors import ConfigError, PluginNotInstalledError
from secretstores.model import StoreSpec
from secretstores.plugins import KNOWN_TYPES, unknown_type_problem

if TYPE_CHECKING:
    from secretstores.plugins import Plugins

#: The cache TTL in seconds when neither the file nor the store sets one
#: (the seed's "cached for 1 minute").
DEFAULT_CACHE_TTL = 60.0

#: Store names usable as ``secrets.NAME`` in a template.
STORE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_STORE_KEYS = (
    "name",
    "type",
    "configuration",
    "mappings",
    "cacheTtl",
    "allowDirectAccess",
    "readOnly",
)
_TOP_KEYS = ("stores", "cache", "defaultStores")
_CACHE_KEYS = ("ttl", "directory", "keyFile", "enabled")


class Problems(list[str]):
    """The problems found so far; remembers whether a plugin is missing."""

    not_installed = False


@attrs.frozen
class CacheSettings:
    """The ``cache`` section: default TTL, where entries live, the key file."""

    ttl: float = DEFAULT_CACHE_TTL
    directory: str | None = None
    key_file: str | None = None
    enabled: bool = True


@attrs.frozen
class Config:
    """A whole validated configuration: its stores by name and the cache settings."""

    stores: Mapping[str, StoreSpec]
    cache: CacheSettings = CacheSettings()
    source: str | None = None


def build_config(
    data: Mapping[str, Any] | None,
    *,
    plugins: Plugins,
    source: str | None = None,
    environ: Mapping[str, str] | None = None,
    env_prefix: str = "SECRETSTORES",
    strict_manager: bool | None = None,
) -> Config:
    """Validate a configuration document and return it, or raise one error listing every problem.

    :param data: the parsed file (``{"stores": [...], "cache": {...}}``), or None.
    :param plugins: the plugin set that knows the store types.
    :param source: where ``data`` came from, for messages.
    :param environ: for ``${VAR}`` references and ``<PREFIX>_SECRETS_MANAGER``.
    :param env_prefix: the host application's variable prefix.
    :param strict_manager: refuse (rather than fall back) when the manager's
        variables are incomplete; None reads ``<PREFIX>_SECRETS_MANAGER_STRICT``.
    """
    environ = os.environ if environ is None else environ
    data = dict(data or {})
    problems = Problems()

    for key in data:
        if key not in _TOP_KEYS:
            problems.append(f"unknown top-level field '{key}' (expected one of: "
                            f"{', '.join(_TOP_KEYS)})")
    cache = _cache_settings(data.get("cache", {}), environ, problems)

    raw_stores = data.get("stores", [])
    if not isinstance(raw_stores, list):
        problems.append(f"'stores': expected an array of stores, got {kind_of(raw_stores)}")
        raw_stores = []
    specs: dict[str, StoreSpec] = {}
    for index, raw in enumerate(raw_stores):
        spec = build_store(raw, index=index, plugins=plugins, environ=environ,
                           problems=problems, taken=specs)
        if spec is not None:
            specs[spec.name] = spec

    if data.get("defaultStores", True) is True and not problems:
        for name, definition in _default_definitions(specs, env_prefix, environ,
                                                     plugins, strict_manager):
            if name not in specs:
                spec = build_store(dict(definition, name=name), index=None, plugins=plugins,
                                   environ=environ, problems=problems, taken=specs)
                if spec is not None:
                    specs[name] = spec
    elif not isinstance(data.get("defaultStores", True), bool):
        problems.append("'defaultStores': expected true or false")

    if problems:
        error_class = PluginNotInstalledError if problems.not_installed else ConfigError
        raise error_class(problems, source=source)
    return Config(stores=specs, cache=cache, source=source)


def _default_definitions(
    specs: Mapping[str, StoreSpec],
    env_prefix: str,
    environ: Mapping[str, str],
    plugins: Plugins,
    strict_manager: bool | None,
) -> list[tuple[str, dict[str, Any]]]:
    from secretstores.config.environ import manager_definition

    local: dict[str, Any] = {"type": "db", "configuration": {}}
    if "local" in specs and specs["local"].type == "db":
        local = {"type": "db", "configuration": _aliased(specs["local"].config)}
    defaults = [("local", local), ("env", {"type": "env", "configuration": {}})]
    if "manager" not in specs:
        defaults.append(("manager", manager_definition(
            env_prefix, environ, plugins, local=local, strict=strict_manager)))
    return defaults


def _aliased(config: Any) -> dict[str, Any]:
    """An attrs config instance back as its JSON object (field aliases as keys)."""
    return {
        f.alias: getattr(config, f.name)
        for f in attrs.fields(type(config))
        if getattr(config, f.name) != f.default
    }


def _cache_settings(
    raw: Any, environ: Mapping[str, str], problems: list[str]
) -> CacheSettings:
    if not isinstance(raw, Mapping):
        problems.append(f"'cache': expected an object, got {kind_of(raw)}")
        return CacheSettings()
    raw = interpolate(dict(raw), environ, "cache", problems)
    for key in raw:
        if key not in _CACHE_KEYS:
            problems.append(f"cache: unknown field '{key}' (expected one of: "
                            f"{', '.join(_CACHE_KEYS)})")
    ttl = _ttl(raw.get("ttl", DEFAULT_CACHE_TTL), "cache.ttl", problems)
    directory = raw.get("directory")
    key_file = raw.get("keyFile")
    enabled = raw.get("enabled", True)
    for name, value in (("directory", directory), ("keyFile", key_file)):
        if value is not None and not isinstance(value, str):
            problems.append(f"cache.{name}: expected a path string, got {kind_of(value)}")
    if not isinstance(enabled, bool):
        problems.append(f"cache.enabled: expected true or false, got {kind_of(enabled)}")
        enabled = True
    return CacheSettings(
        ttl=ttl if ttl is not None else DEFAULT_CACHE_TTL,
        directory=directory if isinstance(directory, str) else None,
        key_file=key_file if isinstance(key_file, str) else None,
        enabled=enabled,
    )


def _ttl(value: Any, where: str, problems: list[str]) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        problems.append(f"{where}: expected a number of seconds >= 0 (0 disables caching), "
                        f"got {kind_of(value)}")
        return None
    return float(value)


def build_store(
    raw: Any,
    *,
    index: int | None,
    plugins: Plugins,
    environ: Mapping[str, str],
    problems: list[str],
    taken: Mapping[str, StoreSpec] | None = None,
) -> StoreSpec | None:
    """Validate one store definition, appending its problems; None when it is invalid."""
    label = f"stores[{index}]" if index is not None else "store"
    if not isinstance(raw, Mapping):
        problems.append(f"{label}: expected an object, got {kind_of(raw)}")
        return None
    name = raw.get("name")
    if isinstance(name, str) and name:
        where = f"store '{name}'"
        if not STORE_NAME.match(name):
            problems.append(f"{where}: the name must be letters, digits and underscores, "
                            "not starting with a digit (it is used as secrets.NAME)")
        if taken and name in taken:
            problems.append(f"{where}: the name is used by another store")
    else:
        where = label
        problems.append(f"{label}: missing required field 'name' (a non-empty string)")
    start = len(problems)
    for key in raw:
        if key not in _STORE_KEYS:
            problems.append(f"{where}: unknown field '{key}' (expected one of: "
                            f"{', '.join(_STORE_KEYS)})")
    type_name = raw.get("type")
    store_type = None
    if not isinstance(type_name, str) or not type_name:
        problems.append(f"{where}: missing required field 'type' (a store type name)")
    else:
        types = plugins.store_types()
        if type_name in types:
            store_type = types[type_name][0]
        else:
            problems.append(unknown_type_problem(type_name, where, types))
            if type_name in KNOWN_TYPES and isinstance(problems, Problems):
                problems.not_installed = True

    config = None
    configuration = raw.get("configuration", {})
    configuration = interpolate(configuration, environ, f"{where}: configuration", problems)
    if store_type is not None:
        config, config_problems = structure(
            store_type.config_class, configuration, f"{where}: configuration"
        )
        problems.extend(config_problems)

    mappings: dict[str, str] = {}
    raw_mappings = raw.get("mappings", [])
    if not isinstance(raw_mappings, list):
        problems.append(f"{where}: 'mappings' must be an array of "
                        '{"name", "secretIdentifier"} objects')
        raw_mappings = []
    for i, mapping in enumerate(raw_mappings):
        mwhere = f"{where}: mappings[{i}]"
        if not isinstance(mapping, Mapping):
            problems.append(f"{mwhere}: expected an object, got {kind_of(mapping)}")
            continue
        mname, ident = mapping.get("name"), mapping.get("secretIdentifier")
        extra = set(mapping) - {"name", "secretIdentifier"}
        if extra:
            problems.append(f"{mwhere}: unknown field(s) {', '.join(sorted(extra))} "
                            "(expected name, secretIdentifier)")
        if not isinstance(mname, str) or not mname:
            problems.append(f"{mwhere}: missing required field 'name' (a non-empty string)")
        elif mname in mappings:
            problems.append(f"{mwhere}: mapping name '{mname}' is used twice")
        if not isinstance(ident, str) or not ident:
            problems.append(f"{mwhere}: missing required field 'secretIdentifier' "
                            "(a non-empty string)")
        if isinstance(mname, str) and isinstance(ident, str) and mname and ident:
            mappings[mname] = ident

    ttl = None
    if "cacheTtl" in raw:
        ttl = _ttl(raw["cacheTtl"], f"{where}: cacheTtl", problems)
    flags = {}
    for key in ("allowDirectAccess", "readOnly"):
        value = raw.get(key, key == "allowDirectAccess")
        if not isinstance(value, bool):
            problems.append(f"{where}: {key}: expected true or false, got {kind_of(value)}")
        flags[key] = bool(value)
    if not flags["allowDirectAccess"] and not mappings:
        problems.append(f"{where}: allowDirectAccess is false but there are no mappings, "
                        "so no secret could be used")

    if len(problems) > start or not isinstance(name, str) or store_type is None:
        return None
    return StoreSpec(
        name=name,
        type=type_name,  # type: ignore[arg-type]
        config=config,
        mappings=mappings,
        cache_ttl=ttl,
        allow_direct_access=flags["allowDirectAccess"],
        read_only=flags["readOnly"] or not store_type.writable,
    )
